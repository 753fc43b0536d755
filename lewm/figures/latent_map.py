"""The latent map: every encoded frame as a dot of a 2-D PCA / UMAP map, coloured by a true state
quantity (or time), with optional trajectories drawn on top."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import lewm.figures._checks as ck
from .style import base


def point_hover(episode: np.ndarray, step: np.ndarray, state: np.ndarray | None, state_names) -> tuple[np.ndarray, str]:
    """``customdata`` (N, 3 + Q) and the hover template naming each point's frame index, episode,
    step and true state ``state`` (N, Q) (None: no state)."""
    fn = "point_hover"
    episode, step = ck.array(fn, "episode", episode, 1), ck.array(fn, "step", step, 1)
    if state is not None:
        state = ck.array(fn, "state", state, 2, cols=1)
        names = list(state_names)
        if len(names) != state.shape[1]:
            raise ValueError(f"{fn}: state_names must name each of the {state.shape[1]} state columns, "
                             f"got {len(names)} names")
    ck.same_len(fn, episode=episode, step=step, state=state)
    cols = [np.arange(len(episode)), episode, step] + ([state] if state is not None else [])
    custom = np.column_stack(cols)
    hover = "frame %{customdata[0]} · episode %{customdata[1]} · step %{customdata[2]}"
    if state is not None:
        hover += "<br>" + "<br>".join(f"{n} = %{{customdata[{3 + i}]:.2f}}" for i, n in enumerate(state_names))
    return custom, hover + "<extra></extra>"


def fig_latent_map(coords: np.ndarray, colour: np.ndarray, colour_title: str, method: str = "pca",
                   title: str | None = None, customdata: np.ndarray | None = None, hovertemplate: str | None = None,
                   trajectories: list[tuple[str, np.ndarray, str]] = (), height: int = 560, **layout) -> go.Figure:
    """Map points ``coords`` (N, 2) coloured by ``colour`` (N,) (Viridis, colour bar ``colour_title``);
    each ``(name, xy (P, 2), line colour)`` of ``trajectories`` is drawn on top as lines + markers."""
    fn = "fig_latent_map"
    coords = ck.array(fn, "coords", coords, 2, cols=2)
    per_point = {"coords": coords, "customdata": customdata}
    if np.ndim(colour) >= 1:
        per_point["colour"] = colour
        if np.asarray(colour).dtype.kind not in "iufb":  # was Plotly's ValueError listing marker.color's forms
            raise ValueError(f"{fn}: colour must be numbers, one per point (a colour bar), got "
                             f"{np.asarray(colour).dtype} values such as {np.asarray(colour).ravel()[:3].tolist()}; "
                             f"for categories pass their codes: np.unique(labels, return_inverse=True)[1]")
    elif isinstance(colour, str):  # one colour for every point (a number is a colour-scale value)
        ck.colour(fn, "colour", colour)
    ck.same_len(fn, **per_point)
    trajectories = [(name, ck.array(fn, f"trajectory {name!r} xy", xy, 2, cols=2), color)
                    for name, xy, color in trajectories]
    fig = go.Figure(go.Scattergl(
        x=coords[:, 0], y=coords[:, 1], mode="markers", name="dataset frames", customdata=customdata,
        hovertemplate=hovertemplate,
        marker=dict(size=5, color=colour, colorscale="Viridis", showscale=True, colorbar=dict(title=colour_title))))
    for name, xy, color in trajectories:
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=name, line_color=color))
    return base(fig, title, height=height, xaxis_title=f"{method}-1", yaxis_title=f"{method}-2", **layout)
