"""Why an MPC episode failed, drawn: the goal cost the agent saw along its executed path next to the
true distance to the goal, the success threshold, and the step it got stuck from (the reading is
:func:`lewm.diagnostics.episode_failure.explain_failure`)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import lewm.figures._checks as ck
from .style import COLORS, base


def fig_failure_path(failure, threshold: float, height: int = 300) -> go.Figure:
    """``failure``: an ``EpisodeFailure`` (its ``cost`` and ``distance`` (L,), ``stuck_step``, ``kind``);
    the goal cost on a log axis, the true distance on a second axis with the success ``threshold``
    dotted (success below it), and a dashed line where the agent got stuck (or the budget ran out)."""
    f, fn = failure, "fig_failure_path"
    n = ck.same_len(fn, **{"failure.cost": f.cost, "failure.distance": f.distance})
    if n == 0:
        raise ValueError(f"{fn}: failure.cost and failure.distance must be non-empty, got length 0")
    ck.finite(fn, "threshold", threshold)
    ck.index(fn, "failure.stuck_step", f.stuck_step, n, "env steps")
    x = np.arange(len(f.cost))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=f.cost, name="goal cost ‖z(frame) − z_goal‖² (what the agent saw)",
                             mode="lines", line=dict(color=COLORS["goal"], width=2)))
    fig.add_trace(go.Scatter(x=x, y=f.distance, name="true distance to the goal", mode="lines", yaxis="y2",
                             line=dict(color="#1f77b4", width=2, dash="dot")))
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=threshold,
                  y1=threshold, line=dict(color="green", dash="dot", width=1))  # success below
    fig.add_vline(x=f.stuck_step, line=dict(color="red", dash="dash", width=1.5),
                  annotation_text="stuck from here" if f.kind != "out of budget" else "budget ran out")
    return base(fig, "Along the executed path", height=height, xaxis_title="env step",
                yaxis=dict(title="goal cost", type="log"), yaxis2=dict(title="distance", overlaying="y", side="right"),
                legend=dict(orientation="h", yanchor="top", y=-0.25, x=0), margin=dict(l=50, r=50, t=40, b=10))
