"""Round 17 (D1): figure builders given None name the argument (was "'NoneType' object is not iterable")."""
import numpy as np
import pytest

from lewm.figures.curves import fig_series
from lewm.figures.planning import fig_goal_distance
from lewm.figures.projections import fig_spectrum


@pytest.mark.parametrize("call,words", [
    (lambda: fig_series(None, "t"), "fig_series: series must be a list"),
    (lambda: fig_spectrum(None), "fig_spectrum: spectra must be a list"),
    (lambda: fig_goal_distance(None, 1.0), "fig_goal_distance: distance must be an array"),
])
def test_none_is_named(call, words):
    with pytest.raises(TypeError, match=words):
        call()


def test_valid_inputs_still_draw():
    assert len(fig_series([("a", np.arange(3), np.ones(3), "#123456")], "t").data) == 1
    assert len(fig_spectrum([("z", np.array([2.0, 1.0]), "#123456")]).data) == 1
    assert len(fig_goal_distance([3.0, 2.0, 1.0], 1.5).data) == 1
    with pytest.raises(ValueError, match="at least 1 row"):
        fig_goal_distance([], 1.0)
