"""The planner at work: the canvas a click sets a start or goal on, one plan's CEM iterations stepped
through in the browser (the candidates' imagined final latents on the latent map, their cost
distribution, the best cost per iteration, the best candidate imagined and executed), and the
executed episode's distance to the goal."""
from __future__ import annotations

import numbers

import numpy as np
import plotly.graph_objects as go

import lewm.figures._checks as ck
from .images import fig_image
from .style import COLORS, base, update_slider


def fig_click_canvas(frame: np.ndarray, grid: np.ndarray, goal, extent: float, height: int = 420) -> go.Figure:
    """``frame`` in state units [0, extent] with invisible clickable points at ``grid`` (M, 2) and the goal marked."""
    fn = "fig_click_canvas"
    ck.finite(fn, "extent", extent, positive=True)
    grid = ck.array(fn, "grid", grid, 2, cols=2)
    goal = ck.point(fn, "goal", goal)
    fig = fig_image(frame, extent=extent, height=height)
    fig.add_trace(go.Scatter(x=grid[:, 0], y=grid[:, 1], mode="markers", name="click",
                             marker=dict(size=9, color="rgba(0,0,0,0.01)"),
                             selected=dict(marker=dict(opacity=0.01)), unselected=dict(marker=dict(opacity=0.01)),
                             hovertemplate="x = %{x:.0f}, y = %{y:.0f}<extra>click to set</extra>"))
    fig.add_trace(go.Scatter(x=[goal[0]], y=[goal[1]], mode="markers", name="goal", hoverinfo="skip",
                             marker=dict(symbol="x", size=14, color=COLORS["goal"])))
    fig.update_layout(showlegend=False, clickmode="event+select", dragmode=False)
    return fig


def fig_goal_distance(distance: list[float], threshold: float, height: int = 260) -> go.Figure:
    """The executed episode's distance to the goal per env step, the success threshold dotted."""
    distance = ck.array("fig_goal_distance", "distance", distance, 1, min_len=1)  # None was "has no len()"
    ck.finite("fig_goal_distance", "threshold", threshold)
    fig = go.Figure(go.Scatter(x=np.arange(len(distance)), y=distance, mode="lines", name="distance"))
    fig.add_hline(y=threshold, line=dict(color="green", dash="dot"), annotation_text="success")
    return base(fig, "Distance to the goal", height=height, xaxis_title="env step")


def _strip(frames: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Frames (S, S, 3) side by side with a white ``gap`` -> (S, n (S + gap) - gap, 3)."""
    S = frames[0].shape[0]
    out = np.full((S, len(frames) * (S + gap) - gap, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        out[:, i * (S + gap):i * (S + gap) + S] = f
    return out


def _nested(d: dict, path: str):
    """``d["a"]["b"]`` for ``path`` "a.b", None where a key is missing."""
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


ITERATION_KEYS = ("Z", "costs", "elite", "bi", "best_cost", "imagined", "real", "imagined_labels", "real_labels")


def _check_iterations(coords, iterations: list, start, goal) -> None:
    """:func:`fig_cem_iterations`' arguments, each named in a ValueError / TypeError when wrong."""
    fn = "fig_cem_iterations"
    for name, a in (("coords", coords), ("start", start), ("goal", goal)):
        ck.array(fn, name, a, 2, cols=2)
    if not len(iterations):
        raise ValueError(f"{fn}: iterations must hold at least one iteration, got 0")
    for i, v in enumerate(iterations):
        ck.keys(fn, f"iterations[{i}]", v, ITERATION_KEYS)
        costs = ck.array(fn, f"iterations[{i}]['costs']", v["costs"], 1)
        if v["Z"] is not None:
            ck.same_len(fn, **{f"iterations[{i}]['Z']": ck.array(fn, f"iterations[{i}]['Z']", v["Z"], 2, cols=2),
                               f"iterations[{i}]['costs']": costs})
        for e in np.asarray(v["elite"]).reshape(-1):
            ck.index(fn, f"an elite of iterations[{i}]", e, len(costs), "candidates")
        ck.array(fn, f"iterations[{i}]['bi']", v["bi"], 2, cols=2)
        if not isinstance(v["best_cost"], numbers.Real):
            raise TypeError(f"{fn}: iterations[{i}]['best_cost'] must be a number, got {v['best_cost']!r}")
        for key in ("imagined", "real"):
            ck.frames(fn, f"iterations[{i}]['{key}']", v[key])
            ck.same_len(fn, **{f"iterations[{i}]['{key}']": v[key], f"iterations[{i}]['{key}_labels']": v[f"{key}_labels"]})


def fig_cem_iterations(coords: np.ndarray, iterations: list[dict], start: np.ndarray, goal: np.ndarray,
                       map_name: str = "map", height: int = 900) -> go.Figure:
    """Every CEM iteration of one plan in ONE figure, stepped through by its own slider in the
    browser: moving it needs no server round trip. Per iteration (a dict of ``iterations``):
    ``Z`` (C, 2) the candidates' imagined final latents on the map (or None), ``costs`` (C,),
    ``elite`` (k,) indices, ``bi`` (P, 2) the best candidate's imagined path on the map,
    ``best_cost``, and two strips of frames, ``imagined`` and ``real`` (lists of (S, S, 3): start,
    P frames, goal) with their ``imagined_labels`` / ``real_labels``. Panels: the map (left), the
    cost distribution and the best cost per iteration (right), the two strips (below). Opens on the
    last iteration; the title says which one is shown ("Iteration k/n")."""
    from plotly.subplots import make_subplots

    from .images import png_uri
    _check_iterations(coords, iterations, start, goal)
    coords, start, goal = np.asarray(coords), np.asarray(start), np.asarray(goal)
    n = len(iterations)
    fig = make_subplots(rows=4, cols=2, column_widths=[0.6, 0.4], row_heights=[0.3, 0.3, 0.2, 0.2],
                        specs=[[{"rowspan": 2}, {}], [None, {}], [{"colspan": 2}, None], [{"colspan": 2}, None]],
                        subplot_titles=(f"candidates' imagined final latents ({map_name})",
                                        "cost distribution (‖ẑ_H − z_goal‖²)", "best cost per iteration",
                                        "what the best candidate imagines (nearest dataset frames)",
                                        "what its actions really do in the simulator"),
                        vertical_spacing=0.07, horizontal_spacing=0.08)
    last = iterations[-1]
    empty = np.zeros((0, 2))

    def moving(v: dict) -> list:
        """The traces that change with the iteration, in a fixed order (their indices are MOVING)."""
        Z = v["Z"] if v["Z"] is not None else empty
        el = v["elite"] if v["Z"] is not None else np.zeros(0, int)
        return [
            go.Scattergl(x=Z[:, 0], y=Z[:, 1], mode="markers", name="candidates (imagined end)",
                         marker=dict(size=6, color=v["costs"] if len(Z) else None, colorscale="Plasma",
                                     showscale=bool(len(Z)), colorbar=dict(title="cost", len=0.5, y=0.8),
                                     opacity=0.7),
                         hovertemplate="cost %{marker.color:.3f}<extra></extra>"),
            go.Scattergl(x=Z[el, 0], y=Z[el, 1], mode="markers", name="elites",
                         marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(color="black", width=1.5))),
            go.Scattergl(x=np.r_[start[:, 0], v["bi"][:, 0]], y=np.r_[start[:, 1], v["bi"][:, 1]],
                         mode="lines+markers", name="best candidate's imagined path", line=dict(color="#1f77b4", width=2)),
            go.Histogram(x=v["costs"], nbinsx=40, name="all candidates' costs", marker_color="#9467bd", showlegend=False),
            go.Histogram(x=v["costs"][v["elite"]], nbinsx=40, name="elites' costs", marker_color="#ff7f0e", showlegend=False),
            go.Scatter(x=[v["k"]], y=[v["best_cost"]], mode="markers", name="shown iteration", showlegend=False,
                       marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="black", width=2))),
            go.Image(source=png_uri(_strip(v["imagined"])), hoverinfo="skip"),
            go.Image(source=png_uri(_strip(v["real"])), hoverinfo="skip"),
        ]

    where = [(1, 1), (1, 1), (1, 1), (1, 2), (1, 2), (2, 2), (3, 1), (4, 1)]
    iterations = [dict(v, k=i + 1) for i, v in enumerate(iterations)]
    # static traces: the dataset on the map (below), start and goal (above), the best-cost curve
    fig.add_trace(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="dataset",
                               marker=dict(size=3, color=COLORS["dataset"]), hoverinfo="skip"), 1, 1)
    first_moving = len(fig.data)
    for tr, (r, c) in zip(moving(iterations[-1]), where):
        fig.add_trace(tr, r, c)
    moving_idx = list(range(first_moving, len(fig.data)))
    fig.add_trace(go.Scattergl(x=start[:, 0], y=start[:, 1], mode="markers", name="start",
                               marker=dict(symbol="circle", size=15, color=COLORS["start"],
                                           line=dict(color="black", width=1))), 1, 1)
    fig.add_trace(go.Scattergl(x=goal[:, 0], y=goal[:, 1], mode="markers", name="goal",
                               marker=dict(symbol="star", size=22, color=COLORS["goal"],
                                           line=dict(color="black", width=1))), 1, 1)
    best = [v["best_cost"] for v in iterations]
    fig.add_trace(go.Scatter(x=np.arange(1, n + 1), y=best, mode="lines+markers", name="best cost",
                             showlegend=False, line=dict(color="#1f77b4")), 2, 2)
    fig.update_layout(barmode="overlay")
    S = last["imagined"][0].shape[0]
    strip_axes = []
    for row, key in ((3, "imagined_labels"), (4, "real_labels")):
        ax = fig.get_subplot(row, 1)
        m = len(last[key])
        fig.update_xaxes(tickvals=[i * (S + 2) + S / 2 for i in range(m)], ticktext=last[key], showgrid=False,
                         zeroline=False, row=row, col=1)
        fig.update_yaxes(visible=False, scaleanchor=ax.xaxis.plotly_name.replace("axis", ""), row=row, col=1)
        strip_axes.append((ax.xaxis.plotly_name, key))
    fig.update_xaxes(title_text="iteration", row=2, col=2)

    def title(v: dict) -> str:
        return (f"Iteration {v['k']}/{n}: best cost {v['best_cost']:.3f}, "
                f"{len(v['costs'])} candidates ({len(v['elite'])} elites)")

    def step(v: dict) -> tuple[str, dict, dict]:
        """(label, restyle, relayout) of iteration ``v``: only the moving traces change."""
        js = [tr.to_plotly_json() for tr in moving(v)]
        # every attribute any moving trace sets, for all of them (None = unset, as it was)
        restyle = {a: [_nested(t, a) for t in js] for a in ("x", "y", "marker.color", "source")}
        relayout = {"title.text": title(v), **{f"{ax}.ticktext": v[key] for ax, key in strip_axes}}
        return str(v["k"]), restyle, relayout

    fig.update_layout(sliders=[update_slider([step(v) for v in iterations], moving_idx, n - 1, 1.1, "bottom")])
    base(fig, title(iterations[-1]), height=height,
         legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0, xanchor="left"),
         margin=dict(l=40, r=10, t=175, b=30))
    fig.update_layout(title=dict(y=0.995, yanchor="top"))
    return fig
