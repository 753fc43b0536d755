"""Open-loop imagination: the error per imagined step against the "nothing moves" baseline
(optionally the position error read by a probe next to it), and the actual and imagined latent
trajectories drawn on a 2-D latent map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .style import COLORS, base


def fig_open_loop_error(steps: np.ndarray, error: np.ndarray, copy_error: np.ndarray,
                        probe_error: np.ndarray | None = None, probe_floor: np.ndarray | None = None,
                        title: str | None = "Error per imagined step (MSE per dim)", height: int = 300,
                        **layout) -> go.Figure:
    """Latent MSE per dim of the open-loop prediction (P,) and of copying the last latent (P,) over
    ``steps`` (P,); with ``probe_error`` (P,) a second panel shows the position error of the imagined
    latents read by a linear probe, and ``probe_floor`` (P,) that of the encoded ones."""
    ck.same_len("fig_open_loop_error", steps=steps, error=error, copy_error=copy_error, probe_error=probe_error,
                probe_floor=probe_floor)
    has_probe = probe_error is not None
    fig = make_subplots(rows=1, cols=2 if has_probe else 1,
                        subplot_titles=(["latent MSE per dim", "position error via linear probe"] if has_probe
                                        else None))
    fig.add_trace(go.Scatter(x=steps, y=error, name="imagined vs actual", mode="lines+markers",
                             line=dict(color=COLORS["imagined"])), 1, 1)
    fig.add_trace(go.Scatter(x=steps, y=copy_error, name="'nothing moves' baseline", mode="lines",
                             line=dict(color=COLORS["baseline"], dash="dot")), 1, 1)
    if has_probe:
        fig.add_trace(go.Scatter(x=steps, y=probe_error, name="imagined (probe)", mode="lines+markers",
                                 line=dict(color=COLORS["imagined"])), 1, 2)
        if probe_floor is not None:
            fig.add_trace(go.Scatter(x=steps, y=probe_floor, name="encoded (probe floor)", mode="lines",
                                     line=dict(color=COLORS["actual"], dash="dot")), 1, 2)
    fig.update_xaxes(title_text="imagined step (action blocks ahead)")
    if has_probe:  # below the panels: above, it would cover their titles
        layout.setdefault("legend", dict(orientation="h", yanchor="top", y=-0.25, x=0))
        layout.setdefault("margin", dict(l=50, r=15, t=50, b=90))
    return base(fig, title, height=height, **layout)


def fig_map_trajectories(coords: np.ndarray, actual: np.ndarray, imagined: np.ndarray, frames=None,
                         method: str = "pca", height: int = 480) -> go.Figure:
    """The dataset's map points ``coords`` (N, 2) in grey, the encoded episode ``actual`` (P, 2) and
    the open-loop ``imagined`` (P, 2) latents on it, each pair joined by a thin line; ``frames`` (P,)
    labels the actual points."""
    fn = "fig_map_trajectories"
    coords = ck.array(fn, "coords", coords, 2, cols=2)
    actual = ck.array(fn, "actual", actual, 2, cols=2)
    imagined = ck.array(fn, "imagined", imagined, 2, cols=2)
    ck.same_len(fn, actual=actual, imagined=imagined, frames=None if frames is None else list(frames))
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="dataset",
                               marker=dict(size=3, color=COLORS["dataset"]), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=actual[:, 0], y=actual[:, 1], mode="lines+markers", name="actual (encoded)",
                             line=dict(color=COLORS["actual"], width=2), marker=dict(size=7),
                             text=[f"frame {f}" for f in (frames if frames is not None else range(len(actual)))],
                             hovertemplate="%{text}<extra>actual</extra>"))
    fig.add_trace(go.Scatter(x=imagined[:, 0], y=imagined[:, 1], mode="lines+markers", name="imagined (open loop)",
                             line=dict(color=COLORS["imagined"], width=2, dash="dash"),
                             marker=dict(size=7, symbol="diamond"),
                             text=[f"step {i + 1}" for i in range(len(imagined))],
                             hovertemplate="%{text}<extra>imagined</extra>"))
    for a, p in zip(actual, imagined):
        fig.add_trace(go.Scatter(x=[a[0], p[0]], y=[a[1], p[1]], mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color="rgba(0,0,0,0.25)", width=1)))
    return base(fig, f"Trajectories in the {method.upper()} map", height=height, uirevision="dyn",
                legend=dict(orientation="h", yanchor="top", y=-0.06, x=0), margin=dict(l=40, r=10, t=40, b=10))
