"""lewm.figures.dynamics: open-loop errors and trajectories in the map."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_dynamics_carry_errors_and_trajectories():
    s, e, c, p, q = np.arange(1, 4), RNG.random(3), RNG.random(3), RNG.random(3), RNG.random(3)
    f = fg.fig_open_loop_error(s, e, c)
    assert len(f.data) == 2 and np.array_equal(f.data[0].y, e) and np.array_equal(f.data[1].y, c)
    f = fg.fig_open_loop_error(s, e, c, p, q, title=None)
    assert np.array_equal(_trace(f, "imagined (probe)").y, p) and np.array_equal(_trace(f, "encoded (probe floor)").y, q)
    assert _trace(f, "imagined (probe)").xaxis == "x2"
    coords, A, P = RNG.random((30, 2)), RNG.random((3, 2)), RNG.random((3, 2))
    f = fg.fig_map_trajectories(coords, A, P, frames=[5, 10, 15], method="umap")
    assert np.array_equal(_trace(f, "imagined (open loop)").x, P[:, 0]) and list(_trace(f, "actual (encoded)").text)[0] == "frame 5"
    assert len(f.data) == 3 + 3 and f.layout.title.text == "Trajectories in the UMAP map"
