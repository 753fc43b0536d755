"""Text is not numbers: every diagnostic refuses numeric strings alike (session 26; before, numpy parsed '1.5' as
1.5 for collapse_meters / probe / fit_latent_map while sigreg_view and the torch converter refused it)."""
import numpy as np
import pytest

from lewm import diagnostics as D
from lewm.diagnostics._common import _np


def _z(n=120, d=4):
    return np.random.default_rng(0).normal(size=(n, d))


@pytest.mark.parametrize("call", [
    lambda z: D.collapse_meters(z),
    lambda z: D.probe(z, _z(len(z), 2)),
    lambda z: D.fit_latent_map(z),
    lambda z: D.sigreg_view(z),
])
@pytest.mark.parametrize("kind", ["str", "object"])
def test_numeric_strings_are_refused_by_every_diagnostic(call, kind):
    z = _z().astype(str) if kind == "str" else np.array(_z().tolist(), dtype=object)
    if kind == "object":
        z[0, 0] = "1.5"
    with pytest.raises((TypeError, ValueError), match="numbers"):
        call(z)


def test_probe_refuses_text_states():
    with pytest.raises(ValueError, match=r"probe\(state=\.\.\.\).*holds text"):
        D.probe(_z(), _z(120, 2).astype(str))


def test_numbers_still_pass_and_equal_the_float_conversion():
    z = _z()
    assert np.array_equal(_np(z.tolist()), z.astype(np.float32))
    assert np.array_equal(_np(np.array(z.tolist(), dtype=object)), z.astype(np.float32))
    with pytest.raises(ValueError, match="holds text"):
        _np(["1.0", "2.0"])
