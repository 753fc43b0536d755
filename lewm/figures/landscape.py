"""What the planner sees on a grid of true states: the latent goal cost next to the true distance
to go (one goal, or several goals as rows), and the whole grid drawn in latent space (grid warp)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .style import COLORS, base

_COST_TITLE = "‖z(s) − z_goal‖² (what the planner minimises)"


def _add_landscape(fig: go.Figure, L, row: int, names, start=None, legend: bool = True) -> None:
    """Heatmaps of ``L.cost`` and ``L.true_dist`` (n, n) into columns 1 and 2 of ``row``, goal (and start) marked."""
    d0, d1 = L.dims
    for col, a in enumerate([L.cost, L.true_dist], start=1):
        fig.add_trace(go.Heatmap(x=L.xs, y=L.ys, z=a, colorscale="Viridis", showscale=False,
                                 hovertemplate=f"{names[0]} %{{x:.1f}}, {names[1]} %{{y:.1f}}: %{{z:.3g}}<extra></extra>"),
                      row, col)
        fig.add_trace(go.Scatter(x=[L.goal[d0]], y=[L.goal[d1]], mode="markers", name="goal",
                                 marker=dict(symbol="x", size=13, color=COLORS["goal"]),
                                 showlegend=legend and col == 1), row, col)
        if start is not None:
            fig.add_trace(go.Scatter(x=[start[d0]], y=[start[d1]], mode="markers", name="start",
                                     marker=dict(size=11, color="red", line=dict(color="white", width=1)),
                                     showlegend=legend and col == 1), row, col)
        k = 2 * (row - 1) + col  # the subplot's axis number
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{k if k > 1 else ''}", row=row, col=col)
        fig.update_xaxes(title_text=names[0], row=row, col=col)


def _check_landscape(fn: str, name: str, L, names, start=None) -> None:
    """One landscape's fields, ``names`` and ``start``, each named in a ValueError when wrong."""
    if len(names) != 2:
        raise ValueError(f"{fn}: names must be two axis names (x, y), got {tuple(names)}")
    goal = np.asarray(L.goal).reshape(-1)
    if len(L.dims) != 2:
        raise ValueError(f"{fn}: {name}.dims must be two state dims, got {tuple(L.dims)}")
    for d in L.dims:
        ck.index(fn, f"{name}.dims", d, len(goal), f"coordinates in {name}.goal")
    if start is not None:
        ck.same_len(fn, start=np.asarray(start).reshape(-1), **{f"{name}.goal": goal})
    for key in ("cost", "true_dist"):
        a = ck.array(fn, f"{name}.{key}", getattr(L, key), 2)
        if a.shape != (len(L.ys), len(L.xs)):
            raise ValueError(f"{fn}: {name}.{key} must have shape (len(ys), len(xs)) = "
                             f"{(len(L.ys), len(L.xs))}, got {a.shape}")


def fig_landscape(L, start=None, names=("x", "y"), height: int = 360) -> go.Figure:
    """Latent goal cost (left) next to the true distance to go (right) of one
    :class:`lewm.diagnostics.GoalLandscape`, same grid, start and goal marked."""
    _check_landscape("fig_landscape", "L", L, names, start)
    fig = make_subplots(1, 2, subplot_titles=(_COST_TITLE, "true distance to the goal"), horizontal_spacing=0.08)
    _add_landscape(fig, L, 1, names, start)
    return base(fig, height=height)


def fig_landscapes(landscapes: list, names=("x", "y"), title: str | None = None, row_height: int = 300) -> go.Figure:
    """:func:`fig_landscape` for several goals, one row each, the row titled with its Spearman ρ."""
    for i, L in enumerate(landscapes):
        _check_landscape("fig_landscapes", f"landscapes[{i}]", L, names)
    R = max(len(landscapes), 1)
    titles = []
    for L in landscapes:
        rho = "n/a" if L.spearman is None else f"{L.spearman:.2f}"
        titles += [f"{_COST_TITLE}; ρ = {rho}", "true distance to the goal"]
    fig = make_subplots(R, 2, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.3 / R)
    for r, L in enumerate(landscapes, start=1):
        _add_landscape(fig, L, r, names, legend=r == 1)
    fig.update_annotations(font_size=11)
    return base(fig, title, height=row_height * R + 80, margin=dict(l=50, r=15, t=80 if title else 40, b=40))


def fig_grid_warp(g, height: int = 440, title: str | None = None) -> go.Figure:
    """The true state grid (left) and the same grid at its latents (right) of a
    :class:`lewm.diagnostics.GridWarp`: rows coloured by the second component, columns grey; walls
    (invalid cells) break the lines."""
    fig = make_subplots(1, 2, subplot_titles=(f"true grid ({g.names[0]}, {g.names[1]})",
                                              f"the same grid in latent space ({g.view})"), horizontal_spacing=0.08)
    fn = "fig_grid_warp"
    if len(g.names) != 2:
        raise ValueError(f"{fn}: g.names must be two axis names, got {list(g.names)}")
    want = (len(g.ys), len(g.xs))
    coords, valid = np.asarray(g.coords), np.asarray(g.valid)
    if coords.shape != want + (2,) or valid.shape != want:
        raise ValueError(f"{fn}: g.coords must have shape (len(ys), len(xs), 2) = {want + (2,)} and g.valid "
                         f"{want}, got {coords.shape} and {valid.shape}")
    if 0 in want:
        raise ValueError(f"{fn}: the grid is empty (len(xs), len(ys)) = {want[::-1]}")
    n = len(g.ys)
    X, Y = np.meshgrid(g.xs, g.ys)  # (n, n) each
    cols = sample_colorscale("Viridis", list(np.linspace(0, 1, n)))
    for c, P in enumerate([np.stack([X, Y], -1), g.coords], start=1):  # (n, n, 2)
        P = np.where(g.valid[..., None], P, np.nan)  # NaN breaks a line at walls
        for j in range(len(g.xs)):  # columns, grey
            fig.add_trace(go.Scatter(x=P[:, j, 0], y=P[:, j, 1], mode="lines", line=dict(color="#bbbbbb", width=1),
                                     hoverinfo="skip", showlegend=False), 1, c)
        for i in range(n):  # rows, coloured by the second component
            fig.add_trace(go.Scatter(x=P[i, :, 0], y=P[i, :, 1], mode="lines", line=dict(color=cols[i], width=2),
                                     name=f"{g.names[1]} = {g.ys[i]:.0f}", showlegend=False,
                                     hovertemplate=f"{g.names[1]} = {g.ys[i]:.1f}<extra></extra>"), 1, c)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    return base(fig, title, height=height, margin=dict(l=50, r=15, t=80 if title else 40, b=40))
