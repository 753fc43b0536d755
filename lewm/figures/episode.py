"""One recorded episode, scrubbed in the browser: the frame at step t (with the path drawn on it when
the frames map to state units), the actions and the true state over the episode's steps with t marked, and
a slider over t whose steps restyle only what moves (``Plotly.update``: no server round trip)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .images import png_uri
from .style import COLORS, base, update_slider


def _now_line(values: np.ndarray, t: int) -> tuple[list, list]:
    """The dotted "now" line at step ``t`` spanning ``values``' range -> (x, y)."""
    ok = np.asarray(values, np.float64)[np.isfinite(values)]
    lo, hi = (float(ok.min()), float(ok.max())) if ok.size else (0.0, 1.0)  # all NaN: a unit line
    return [t, t], [lo, hi if hi > lo else lo + 1.0]


def fig_episode_scrubber(frames: np.ndarray, actions: np.ndarray, states: np.ndarray | None = None,
                         state_names: Sequence[str] | None = None, extent: float | None = None,
                         path_dims: tuple[int, int] = (0, 1), t: int = 0, height: int = 520) -> go.Figure:
    """``frames`` (L, S, S, 3) uint8, ``actions`` (L, A) (the action taken at each step), ``states``
    (L, Q) or None. With ``extent`` the frame spans [0, extent] state units and the path
    ``states[:, path_dims]`` is drawn on it with the current position ringed (Two-Room's 224-unit
    canvas). Opens on step ``t``; the title says "Frame t/L-1"."""
    fn = "fig_episode_scrubber"
    frames = ck.frames(fn, "frames", frames)
    actions = ck.array(fn, "actions", actions, 2, cols=1)
    L, S = len(frames), frames.shape[1]
    t = ck.index(fn, "t", t, L, "frames")
    ck.finite(fn, "extent", extent, positive=True, optional=True)
    has_state = states is not None
    if has_state:
        states = ck.array(fn, "states", states, 2, cols=1)
        if state_names is not None and len(state_names) != states.shape[1]:
            raise ValueError(f"{fn}: state_names must name each of the {states.shape[1]} state columns, "
                             f"got {len(state_names)} names")
        if extent is not None:
            if len(path_dims) != 2:
                raise ValueError(f"{fn}: path_dims must be two state columns, got {tuple(path_dims)}")
            for d in path_dims:
                ck.index(fn, "path_dims", d, states.shape[1], "state columns")
    ck.same_len(fn, frames=frames, actions=actions, states=states)
    names = list(state_names or ([f"s{i}" for i in range(states.shape[1])] if has_state else []))
    fig = make_subplots(rows=2 if has_state else 1, cols=2, column_widths=[0.42, 0.58],
                        specs=[[{"rowspan": 2}, {}], [None, {}]] if has_state else [[{}, {}]],
                        subplot_titles=("", "Actions", "True state") if has_state else ("", "Actions"),
                        horizontal_spacing=0.08, vertical_spacing=0.14)
    uris = [png_uri(f) for f in frames]  # 64-px PNGs: Plotly draws them pixelated, so no upscaling
    sc = (extent / S) if extent else 1.0
    moving = []  # (trace index, {attribute: per-step function}) of what a slider step restyles
    fig.add_trace(go.Image(source=uris[t], x0=sc / 2, dx=sc, y0=sc / 2, dy=sc, hoverinfo="skip", name="frame"), 1, 1)
    moving.append((len(fig.data) - 1, {"source": lambda k: uris[k]}))
    over = extent is not None and has_state
    if over:
        xy = np.asarray(states)[:, list(path_dims)]  # (L, 2)
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", line=dict(color=COLORS["actual"], width=2),
                                 name="path", hoverinfo="skip"), 1, 1)
        fig.add_trace(go.Scatter(x=[xy[t, 0]], y=[xy[t, 1]], mode="markers", name="now",
                                 marker=dict(size=10, color="rgba(0,0,0,0)", line=dict(color="black", width=2))), 1, 1)
        moving.append((len(fig.data) - 1, {"x": lambda k: [xy[k, 0]], "y": lambda k: [xy[k, 1]]}))
    fig.update_xaxes(visible=False, range=[0, S * sc], row=1, col=1)
    fig.update_yaxes(visible=False, range=[S * sc, 0], scaleanchor="x", row=1, col=1)
    steps = np.arange(L)
    panels = [(1, actions, [f"a{i}" for i in range(actions.shape[1])])]
    if has_state:
        panels.append((2, np.asarray(states), names))
    for row, values, labels in panels:
        for i, nm in enumerate(labels):
            fig.add_trace(go.Scatter(x=steps, y=values[:, i], mode="lines", name=nm, legendgroup=str(row)), row, 2)
        nx, ny = _now_line(values, t)
        fig.add_trace(go.Scatter(x=nx, y=ny, mode="lines", line=dict(color="black", dash="dot", width=1),
                                 hoverinfo="skip", showlegend=False, name="step"), row, 2)
        moving.append((len(fig.data) - 1, {"x": (lambda k: [k, k]), "y": (lambda k, v=values: _now_line(v, k)[1])}))

    idx = [i for i, _ in moving]
    attrs = sorted({a for _, fns in moving for a in fns})

    def step(k: int) -> tuple[str, dict, dict]:
        """(label, restyle, relayout) of step ``k``; a label every few steps (each is still a stop)."""
        label = str(k) if k % every == 0 or k == L - 1 else ""
        return label, {a: [fns[a](k) if a in fns else None for _, fns in moving] for a in attrs}, \
            {"title.text": f"Frame {k}/{L - 1}"}

    every = max(1, L // 40)
    fig.update_layout(sliders=[update_slider([step(k) for k in range(L)], idx, t, -0.08)])
    return base(fig, f"Frame {t}/{L - 1}", height=height, margin=dict(l=10, r=10, t=40, b=70),
                legend=dict(orientation="v", yanchor="top", y=1.0, x=1.01, xanchor="left"))
