"""Curves over steps: the training losses and any metric per step (one line per run)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

import lewm.figures._checks as ck
from .style import COLORS, base


def fig_losses(hist: dict, title: str = "Losses", lam: float | None = None) -> go.Figure:
    """Total, prediction and SIGReg loss over ``hist['step']`` (log y); missing keys are skipped."""
    if not isinstance(hist, dict):
        raise TypeError(f"fig_losses: hist must be a dict of curves, got {type(hist).__name__}")
    ck.finite("fig_losses", "lam", lam, optional=True)
    if "step" in hist:
        ck.same_len("fig_losses", **{f"hist['{k}']": hist[k] for k in ("step", "loss", "pred_loss", "sigreg")
                                     if k in hist and (k == "step" or len(hist[k]))})
    fig = go.Figure()
    x = hist.get("step", np.zeros(0))
    for k, name in (("loss", "total loss"), ("pred_loss", "prediction MSE"), ("sigreg", "SIGReg")):
        if k in hist and len(hist[k]):
            fig.add_trace(go.Scatter(x=x, y=hist[k], name=name, mode="lines", line=dict(color=COLORS[k], width=1.6)))
    sub = f" (λ = {lam:g})" if lam is not None else ""
    return base(fig, title + sub, xaxis_title="step", yaxis_type="log", uirevision="losses")


def fig_series(series: list[tuple[str, np.ndarray, np.ndarray, str]], title: str, ytitle: str = "",
               log: bool = False, ref: float | None = None, ref_name: str = "") -> go.Figure:
    """One line per ``(name, step, value, colour)``; ``ref`` draws a dotted horizontal reference."""
    ck.finite("fig_series", "ref", ref, optional=True)
    series = ck.items("fig_series", "series", series, "(name, step, value, colour) tuples")
    for i, s in enumerate(series):
        if len(s) != 4:
            raise ValueError(f"fig_series: series[{i}] must be (name, step, value, colour), got {len(s)} items")
        ck.same_len("fig_series", **{f"series[{i}] step": s[1], f"series[{i}] value": s[2]})
        ck.colour("fig_series", f"series[{i}] colour", s[3])
    fig = go.Figure()
    for name, x, y, color in series:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line=dict(color=color, width=1.8)))
    if ref is not None:
        fig.add_hline(y=ref, line=dict(color=COLORS["ref"], dash="dot"), annotation_text=ref_name,
                      annotation_position="top left")
    return base(fig, title, xaxis_title="step", yaxis_title=ytitle, yaxis_type="log" if log else None,
                uirevision=title)
