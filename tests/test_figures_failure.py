"""lewm.figures.failure: a failed episode's cost, distance, threshold and stuck step."""
import numpy as np

from lewm import figures as fg
from _figures import _trace


def test_failure_path_carries_cost_distance_threshold_and_stuck_step():
    from lewm.diagnostics.episode_failure import OUT_OF_BUDGET, explain_failure
    L = 40
    distance = np.r_[np.linspace(10.0, 4.0, 10), np.full(L - 10, 4.0)]  # settles at step 9, far from the goal
    cost = np.r_[np.linspace(8.0, 6.0, 10), np.full(L - 10, 6.0)]  # the goal cost stays high there: stuck
    f = explain_failure(cost, distance, 1.5)
    assert f.kind == "stuck" and f.stuck_step == 9
    fig = fg.fig_failure_path(f, 1.5)
    c = _trace(fig, "goal cost ‖z(frame) − z_goal‖² (what the agent saw)")
    d = _trace(fig, "true distance to the goal")
    assert np.array_equal(c.y, f.cost) and np.array_equal(d.y, f.distance) and list(c.x) == list(range(L))
    assert d.yaxis == "y2" and fig.layout.yaxis.type == "log" and fig.layout.yaxis2.overlaying == "y"
    thr = [s for s in fig.layout.shapes if s.yref == "y2"]
    assert len(thr) == 1 and thr[0].y0 == thr[0].y1 == 1.5 and (thr[0].x0, thr[0].x1) == (0, 1)
    stuck = [s for s in fig.layout.shapes if s.xref == "x" and s.x0 == s.x1]
    assert len(stuck) == 1 and stuck[0].x0 == 9 and stuck[0].line.color == "red"
    assert [a.text for a in fig.layout.annotations] == ["stuck from here"]
    # still moving when the steps ran out: the line marks the last step
    f = explain_failure(np.linspace(8.0, 2.0, L), np.linspace(10.0, 2.0, L), 1.5)
    assert f.kind == OUT_OF_BUDGET
    fig = fg.fig_failure_path(f, 1.5)
    assert [s.x0 for s in fig.layout.shapes if s.xref == "x"] == [L - 1]
    assert [a.text for a in fig.layout.annotations] == ["budget ran out"]
