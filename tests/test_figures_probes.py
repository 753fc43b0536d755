"""lewm.figures.probes: the probe figures carry r and R²."""
from types import SimpleNamespace

import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_probes_carry_r_and_r2():
    res = SimpleNamespace(names=("x", "y"), pearson=np.array([0.9, 0.8]), r2=np.array([0.81, 0.6]),
                          targets=RNG.random((20, 2)), predictions=RNG.random((20, 2)))
    f = fg.fig_probes([("linear", res), ("MLP", res)])
    assert [t.name for t in f.data] == ["linear r", "linear R²", "MLP r", "MLP R²"]
    assert np.array_equal(_trace(f, "linear R²").y, res.r2) and list(f.data[0].x) == ["x", "y"]
    f = fg.fig_probe_scatter(res)
    assert np.array_equal(_trace(f, "y").x, res.targets[:, 1]) and np.array_equal(_trace(f, "y").y, res.predictions[:, 1])
    assert [a.text for a in f.layout.annotations] == ["x: r=0.900", "y: r=0.800"]
