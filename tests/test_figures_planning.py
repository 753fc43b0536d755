"""lewm.figures.planning: the CEM iteration step-through and the goal distance."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_planning_figures_carry_candidates_and_costs():
    """fig_cem_iterations: one frame per CEM iteration that replaces exactly the moving traces with
    that iteration's candidates, elites, best path, costs, marker and strips; opens on the last."""
    coords, S, G = RNG.random((20, 2)), RNG.random((1, 2)), RNG.random((1, 2))
    frame = RNG.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    its = []
    for k in range(3):
        costs = RNG.random(6)
        its.append(dict(Z=RNG.random((6, 2)), costs=costs, elite=np.argsort(costs)[:2], bi=RNG.random((3, 2)),
                        best_cost=float(costs.min()), imagined=[frame] * 5, real=[frame] * 5,
                        imagined_labels=["start", "i1", "i2", "i3", "goal"],
                        real_labels=["start", f"r1 {k}", "r2", "r3", "goal"]))
    f = fg.fig_cem_iterations(coords, its, S, G, "PCA map")
    steps = f.layout.sliders[0].steps
    assert [st.label for st in steps] == ["1", "2", "3"] and f.layout.sliders[0].active == 2
    assert f.layout.title.text.startswith("Iteration 3/3") and np.array_equal(_trace(f, "dataset").x, coords[:, 0])
    real_axis = f.get_subplot(4, 1).xaxis.plotly_name  # the executed strip's captions follow the iteration
    for k, (st, v) in enumerate(zip(steps, its)):
        assert st.method == "update"
        restyle, relayout, idx = st.args
        moved = {f.data[i].name: j for j, i in enumerate(idx)}
        col = moved["candidates (imagined end)"]
        assert np.array_equal(restyle["marker.color"][col], v["costs"]) and np.array_equal(restyle["x"][col], v["Z"][:, 0])
        assert np.array_equal(restyle["x"][moved["elites"]], v["Z"][v["elite"], 0])
        assert np.array_equal(restyle["x"][moved["best candidate's imagined path"]], np.r_[S[:, 0], v["bi"][:, 0]])
        assert np.array_equal(restyle["x"][moved["all candidates' costs"]], v["costs"])
        assert restyle["y"][moved["all candidates' costs"]] is None  # a histogram keeps no y
        assert np.array_equal(restyle["x"][moved["elites' costs"]], v["costs"][v["elite"]])
        assert list(restyle["x"][moved["shown iteration"]]) == [k + 1]
        assert list(restyle["y"][moved["shown iteration"]]) == [v["best_cost"]]
        assert restyle["source"][moved[None]].startswith("data:image/png;base64,")
        assert relayout["title.text"].startswith(f"Iteration {k + 1}/3: best cost {v['best_cost']:.3f}")
        assert relayout[f"{real_axis}.ticktext"] == v["real_labels"]
    # the figure as built shows the last iteration: its traces equal the last step's values
    last = dict(zip(steps[-1].args[2], zip(*[steps[-1].args[0][a] for a in ("x", "y")])))
    for i, (x, y) in last.items():
        if x is not None:
            assert np.array_equal(np.asarray(f.data[i].x), np.asarray(x))
    assert list(_trace(f, "best cost").y) == [v["best_cost"] for v in its]
    assert len(fg.fig_cem_iterations(coords, [dict(its[0], Z=None)], S, G).layout.sliders[0].steps) == 1
    f = fg.fig_goal_distance([5.0, 3.0], 1.0)
    assert list(f.data[0].y) == [5.0, 3.0] and f.layout.shapes[0].y0 == 1.0
