"""lewm.figures.surprise: surprise traces and spike ratios."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_surprise_carries_traces_and_ratios():
    fr, err = np.arange(5), RNG.random(5)
    f = fg.fig_surprise_traces([("clean", fr, err, "#1f77b4"), ("teleport", fr, 2 * err, None)], at=2)
    assert np.array_equal(_trace(f, "teleport").y, 2 * err) and f.layout.shapes[0].x0 == 2
    assert f.layout.yaxis.type == "log"
    r = RNG.random(8) + 1
    f = fg.fig_surprise_spikes({"teleport": r}, {"teleport": 0.0039})
    assert np.array_equal(f.data[0].y, r) and f.data[0].name == "teleport (p=0.0039)"
