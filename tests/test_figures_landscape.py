"""lewm.figures.landscape: the cost landscape and grid-warp grids."""
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go

from lewm import figures as fg
from _figures import RNG


def test_landscape_and_grid_warp_carry_the_grids():
    n = 4
    L = SimpleNamespace(xs=np.arange(n) * 10.0, ys=np.arange(n) * 5.0, cost=RNG.random((n, n)),
                        true_dist=RNG.random((n, n)), goal=np.array([10.0, 5.0]), dims=(0, 1), spearman=0.5)
    f = fg.fig_landscape(L, start=np.array([0.0, 0.0]), names=("x", "y"))
    heat = [t for t in f.data if isinstance(t, go.Heatmap)]
    assert np.array_equal(heat[0].z, L.cost) and np.array_equal(heat[1].z, L.true_dist)
    assert [t.x[0] for t in f.data if t.name == "goal"] == [10.0, 10.0]
    f = fg.fig_landscapes([L, L], names=("x", "y"), title="T")
    assert len([t for t in f.data if isinstance(t, go.Heatmap)]) == 4 and "ρ = 0.50" in f.layout.annotations[0].text
    valid = np.ones((n, n), bool)
    valid[0, 0] = False
    g = SimpleNamespace(xs=L.xs, ys=L.ys, names=("x", "y"), view="z", valid=valid, coords=RNG.random((n, n, 2)))
    f = fg.fig_grid_warp(g, title="warp")
    assert len(f.data) == 2 * 2 * n and f.layout.title.text == "warp"
    row1 = [t for t in f.data if t.xaxis == "x2" and t.name == "y = 5"][0]  # latent panel, row i = 1
    assert np.array_equal(row1.x, g.coords[1, :, 0])
    assert np.isnan(f.data[0].x[0])  # an invalid cell breaks the line
