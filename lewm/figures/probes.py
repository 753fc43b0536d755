"""How much of the true state a probe reads from the latent: held-out Pearson r and R² as grouped
bars (one pair per probe), and the held-out predictions against the truth."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .style import base


def fig_probes(probes: list[tuple[str, object]], title: str | None = None) -> go.Figure:
    """Grouped bars per quantity: ``r`` and ``R²`` of each ``(label, ProbeResult)`` (``names``,
    ``pearson`` (Q,), ``r2`` (Q,))."""
    for label, res in probes:
        ck.same_len("fig_probes", **{f"{label} names": list(res.names), f"{label} pearson": np.atleast_1d(res.pearson),
                                     f"{label} r2": np.atleast_1d(res.r2)})
    fig = go.Figure()
    for label, res in probes:
        fig.add_trace(go.Bar(x=list(res.names), y=res.pearson, name=f"{label} r", text=np.round(res.pearson, 3)))
        fig.add_trace(go.Bar(x=list(res.names), y=res.r2, name=f"{label} R²", text=np.round(res.r2, 3)))
    return base(fig, title, height=380, barmode="group", yaxis_range=[0, 1.05], yaxis_title="r / R² (held out)")


def fig_probe_scatter(res, title: str | None = None) -> go.Figure:
    """One panel per quantity: held-out prediction (``predictions`` (n, Q)) against the truth
    (``targets`` (n, Q)), with the diagonal."""
    fn = "fig_probe_scatter"
    targets = ck.array(fn, "res.targets", res.targets, 2, cols=1, min_len=1)
    preds = ck.array(fn, "res.predictions", res.predictions, 2, cols=1, min_len=1)
    if targets.shape != preds.shape:
        raise ValueError(f"{fn}: res.targets and res.predictions must have one shape (n, Q), got "
                         f"{targets.shape} and {preds.shape}")
    ck.same_len(fn, **{"res.names": list(res.names), "res.pearson": np.atleast_1d(res.pearson),
                       "columns of res.targets": targets.T})
    if not np.isfinite(targets).any(axis=0).all():
        raise ValueError(f"{fn}: res.targets has a column with no finite value")
    q = len(res.names)
    fig = make_subplots(rows=1, cols=q, subplot_titles=[f"{n}: r={r:.3f}" for n, r in zip(res.names, res.pearson)])
    for i in range(q):
        t, p = targets[:, i], preds[:, i]  # (n,), (n,)
        fig.add_trace(go.Scattergl(x=t, y=p, mode="markers", marker_size=3, showlegend=False, name=res.names[i]),
                      1, i + 1)
        fig.add_trace(go.Scatter(x=[np.nanmin(t), np.nanmax(t)], y=[np.nanmin(t), np.nanmax(t)], line_color="black",
                                 showlegend=False, name="y = x"), 1, i + 1)
        fig.update_xaxes(title_text="truth", row=1, col=i + 1)
    fig.update_yaxes(title_text="prediction", row=1, col=1)
    return base(fig, title, height=380, margin=dict(l=50, r=15, t=80 if title else 50, b=40))
