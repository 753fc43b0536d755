"""lewm.figures: every builder returns a plotly Figure that carries the data it was given (trace
values equal the input series), with its titles and axes; no Streamlit anywhere in the package."""
import ast
import pathlib
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest

from lewm import figures as fg
from lewm import diagnostics as dg

PKG = pathlib.Path(fg.__file__).parent
RNG = np.random.default_rng(0)


def _trace(fig: go.Figure, name: str):
    hits = [t for t in fig.data if t.name == name]
    assert len(hits) == 1, f"{name!r} in {[t.name for t in fig.data]}"
    return hits[0]


def test_package_imports_no_streamlit_and_exports_every_name():
    for p in PKG.glob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "streamlit" for m in mods), p.name
    assert all(callable(getattr(fg, n)) or n in ("COLORS", "TEMPLATE") for n in fg.__all__)
    assert all(getattr(fg, n).__module__.startswith("lewm.figures.") for n in fg.__all__ if n.startswith("fig_"))


def test_curves_carry_the_series():
    hist = {"step": np.arange(5), "loss": RNG.random(5), "pred_loss": RNG.random(5), "sigreg": np.zeros(0)}
    f = fg.fig_losses(hist, lam=0.1)
    assert [t.name for t in f.data] == ["total loss", "prediction MSE"]  # an empty series is left out
    assert np.array_equal(_trace(f, "total loss").y, hist["loss"]) and np.array_equal(f.data[0].x, hist["step"])
    assert f.layout.title.text == "Losses (λ = 0.1)" and f.layout.yaxis.type == "log"
    y = RNG.random(4)
    f = fg.fig_series([("rank", np.arange(4), y, "#123456")], "Rank", "r", ref=2.0, ref_name="max")
    assert np.array_equal(_trace(f, "rank").y, y) and f.layout.yaxis.title.text == "r"
    assert f.layout.shapes[0].y0 == 2.0 and f.layout.xaxis.title.text == "step"


def test_projections_carry_histograms_and_spectrum():
    view = dg.sigreg_view(RNG.normal(size=(2, 64, 3)), num_dirs=8, seed=0)  # (T, B, D)
    f = fg.fig_sigreg_hist(view, title="t", max_dirs=4)
    bars = [t for t in f.data if isinstance(t, go.Bar)]
    assert len(bars) == 4
    for k, b in enumerate(bars):
        assert np.allclose(b.y, view.histograms[k])
    assert np.allclose(f.data[1].y, view.reference_pdf) and f.data[1].name == "N(0,1)"
    assert f"SIGReg {view.value:.2f}" in f.layout.title.text
    assert f.layout.annotations[0].text == f"u1: EP = {view.statistic[0]:.2f}"
    d = {"histograms": view.histograms, "statistic": view.statistic, "bin_edges": view.bin_edges, "grid": view.grid,
         "reference_pdf": view.reference_pdf, "sigreg": view.value, "step": 7}
    assert "step 7" in fg.fig_sigreg_hist(d).layout.title.text  # the trainer's dict view
    assert "waiting" in fg.fig_sigreg_hist(None).layout.title.text
    ev = np.array([2.0, 0.5, 0.0])
    f = fg.fig_spectrum([("run", ev, "#000")], "spec")
    assert np.array_equal(f.data[0].x, [1, 2, 3]) and np.allclose(f.data[0].y, [2.0, 0.5, 1e-12])
    assert f.layout.yaxis.type == "log" and f.layout.title.text == "spec"


def test_probes_carry_r_and_r2():
    res = SimpleNamespace(names=("x", "y"), pearson=np.array([0.9, 0.8]), r2=np.array([0.81, 0.6]),
                          targets=RNG.random((20, 2)), predictions=RNG.random((20, 2)))
    f = fg.fig_probes([("linear", res), ("MLP", res)])
    assert [t.name for t in f.data] == ["linear r", "linear R²", "MLP r", "MLP R²"]
    assert np.array_equal(_trace(f, "linear R²").y, res.r2) and list(f.data[0].x) == ["x", "y"]
    f = fg.fig_probe_scatter(res)
    assert np.array_equal(_trace(f, "y").x, res.targets[:, 1]) and np.array_equal(_trace(f, "y").y, res.predictions[:, 1])
    assert [a.text for a in f.layout.annotations] == ["x: r=0.900", "y: r=0.800"]


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


def test_latent_map_carries_points_colour_and_hover():
    coords, st = RNG.random((10, 2)), RNG.random((10, 2))
    custom, hover = fg.point_hover(np.arange(10) // 5, np.arange(10) % 5, st, ["a", "b"])
    assert custom.shape == (10, 5) and "a = %{customdata[3]:.2f}" in hover
    f = fg.fig_latent_map(coords, st[:, 0], "a", method="pca", customdata=custom, hovertemplate=hover,
                          trajectories=[("ep", coords[:3], "black")])
    assert np.array_equal(f.data[0].x, coords[:, 0]) and np.array_equal(f.data[0].marker.color, st[:, 0])
    assert f.data[0].marker.colorbar.title.text == "a" and f.layout.xaxis.title.text == "pca-1"
    assert np.array_equal(_trace(f, "ep").y, coords[:3, 1])


def test_surprise_carries_traces_and_ratios():
    fr, err = np.arange(5), RNG.random(5)
    f = fg.fig_surprise_traces([("clean", fr, err, "#1f77b4"), ("teleport", fr, 2 * err, None)], at=2)
    assert np.array_equal(_trace(f, "teleport").y, 2 * err) and f.layout.shapes[0].x0 == 2
    assert f.layout.yaxis.type == "log"
    r = RNG.random(8) + 1
    f = fg.fig_surprise_spikes({"teleport": r}, {"teleport": 0.0039})
    assert np.array_equal(f.data[0].y, r) and f.data[0].name == "teleport (p=0.0039)"


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


def test_images_embed_the_frames():
    import base64
    import io

    from PIL import Image
    img = RNG.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    up = fg.upscale(img, 32)
    assert up.shape == (32, 32, 3) and np.array_equal(up[::4, ::4], img)

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    f = fg.fig_image(img, title="t", extent=224.0)
    assert np.array_equal(decoded(f.data[0].source)[::64, ::64], img) and f.layout.xaxis.range == (0, 224.0)
    f = fg.fig_image_grid([[img, img], [img, 255 - img]], ["a", "b"], ["+1", "+2"], title="g", size=16)
    assert len(f.data) == 4 and np.array_equal(decoded(f.data[3].source)[::2, ::2], 255 - img)
    assert {a.text for a in f.layout.annotations} == {"a", "b", "+1", "+2"}
    frames = np.stack([img, 255 - img, img])  # (T, S, S, 3)
    f = fg.animation_figure(frames, size=16, extent=224.0, states=np.ones((3, 2)), goal_xy=(5.0, 6.0), radius=2.0)
    assert len(f.frames) == 3 and np.array_equal(decoded(f.frames[1].data[0].source)[::2, ::2], 255 - img)
    assert len(f.layout.sliders[0].steps) == 3


@pytest.mark.parametrize("name", [n for n in fg.__all__ if n.startswith("fig_") or n == "animation_figure"])
def test_every_builder_is_documented(name):
    assert (getattr(fg, name).__doc__ or "").strip()


def test_episode_scrubber_steps_restyle_the_frame_and_the_markers():
    """fig_episode_scrubber: one slider step per frame; step k shows frame k (decoded PNG equal),
    rings the state path's point k and moves both "now" lines to k; opens on t."""
    import base64
    import io

    from PIL import Image
    L = 5
    frames = RNG.integers(0, 255, (L, 8, 8, 3), dtype=np.uint8)
    actions, states = RNG.random((L, 2)), RNG.random((L, 3)) * 224
    f = fg.fig_episode_scrubber(frames, actions, states, ["x", "y", "z"], extent=224.0, t=2)
    steps = f.layout.sliders[0].steps
    assert len(steps) == L and f.layout.sliders[0].active == 2 and f.layout.title.text == "Frame 2/4"
    assert np.array_equal(_trace(f, "path").x, states[:, 0]) and np.array_equal(_trace(f, "a1").y, actions[:, 1])
    assert np.array_equal(_trace(f, "z").y, states[:, 2])

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    for k, st in enumerate(steps):
        restyle, relayout, idx = st.args
        names = [f.data[i].name for i in idx]
        assert names == ["frame", "now", "step", "step"] and relayout == {"title.text": f"Frame {k}/{L - 1}"}
        assert np.array_equal(decoded(restyle["source"][0]), frames[k])
        assert restyle["x"][1] == [states[k, 0]] and restyle["y"][1] == [states[k, 1]]
        assert restyle["x"][2] == [k, k] and restyle["x"][3] == [k, k]
        assert restyle["y"][3] == [states.min(), states.max()]
    # without states or a canvas: the frame and the actions only
    f = fg.fig_episode_scrubber(frames, actions)
    assert [f.data[i].name for i in f.layout.sliders[0].steps[0].args[2]] == ["frame", "step"]
