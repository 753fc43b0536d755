"""Surprise (violation of expectation): the one-step prediction error along an episode, clean and
perturbed, and the spike ratio per episode at the perturbation with its p-value."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import base


def fig_surprise_traces(traces: list[tuple[str, np.ndarray, np.ndarray, str | None]], at: int | None = None,
                        title: str = "Surprise along the episode", height: int = 320) -> go.Figure:
    """One line per ``(name, frames (T,), one-step error (T,), colour or None)`` (log y); a dotted
    line marks the perturbation frame ``at``."""
    fig = go.Figure()
    for name, frames, error, color in traces:
        fig.add_trace(go.Scatter(x=frames, y=error, name=name, mode="lines+markers", line=dict(color=color),
                                 marker=dict(size=5)))
    if at is not None:
        fig.add_vline(x=int(at), line=dict(color="black", dash="dot"), annotation_text="perturbation")
    return base(fig, title, height=height, xaxis_title="frame", yaxis_title="prediction error", yaxis_type="log")


def fig_surprise_spikes(ratios: dict[str, np.ndarray], p_values: dict[str, float],
                        title: str = "Spike at the perturbation, per episode", height: int = 360) -> go.Figure:
    """A box (all points shown) per perturbation of the per-episode ratio perturbed / clean error
    at the perturbation frame (log y), labelled with its paired test's p-value."""
    fig = go.Figure()
    for k, r in ratios.items():
        fig.add_trace(go.Box(y=r, name=f"{k} (p={p_values[k]:.2g})", boxpoints="all"))
    fig.add_hline(y=1.0, line=dict(color="black", dash="dot"), annotation_text="no surprise")
    return base(fig, title, height=height, yaxis_title="perturbed / clean at the perturbation", yaxis_type="log",
                showlegend=False)
