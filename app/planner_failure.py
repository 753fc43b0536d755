"""The Planner page's answer to a failed episode (issue 20 point 6): what the agent saw — the goal cost
along the executed path next to the true distance, where it got stuck, and on demand the goal-cost
landscape around that point. The reading is lewm.diagnostics.episode_failure (pure); this draws it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from lewm import figures

import cache
import discovery
from lewm.diagnostics.episode_failure import explain_failure, path_goal_cost


def show(model, env, pe: dict, goal, ckpt: str, names) -> None:
    """``pe``: the page's stored episode (``{"res": EpisodeResult, ...}``); its analysis is kept in it."""
    epr = pe["res"]
    if "failure" not in pe:  # encode the L frames it saw once (milliseconds each)
        cost = path_goal_cost(model, epr.frames, epr.goal_frame)
        dist = np.array([env.success_distance(s, goal) for s in epr.states])
        pe["failure"] = explain_failure(cost, dist, env.success_threshold, epr.plan_costs)
    f = pe["failure"]
    st.warning(f"**Why it failed: {f.kind}** — {f.why}.", icon=":material/troubleshoot:")
    x = np.arange(len(f.cost))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=f.cost, name="goal cost ‖z(frame) − z_goal‖² (what the agent saw)",
                             mode="lines", line=dict(color=figures.COLORS["goal"], width=2)))
    fig.add_trace(go.Scatter(x=x, y=f.distance, name="true distance to the goal", mode="lines", yaxis="y2",
                             line=dict(color="#1f77b4", width=2, dash="dot")))
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=env.success_threshold,
                  y1=env.success_threshold, line=dict(color="green", dash="dot", width=1))  # success below
    fig.add_vline(x=f.stuck_step, line=dict(color="red", dash="dash", width=1.5),
                  annotation_text="stuck from here" if f.kind != "out of budget" else "budget ran out")
    figures.base(fig, "Along the executed path", height=300, xaxis_title="env step",
                 yaxis=dict(title="goal cost", type="log"), yaxis2=dict(title="distance", overlaying="y", side="right"),
                 legend=dict(orientation="h", yanchor="top", y=-0.25, x=0), margin=dict(l=50, r=50, t=40, b=10))
    st.plotly_chart(fig, key="plan_fail_path")
    if f.kind == "out of budget":
        return
    stuck_state = np.asarray(epr.states[f.stuck_step], np.float64)
    if st.button("Show the goal cost around where it got stuck", key="plan_fail_land",
                 help="The goal-cost landscape over the map (a 24×24 grid of rendered states, a few seconds), "
                      "with the stuck point in red"):
        st.session_state["plan_fail_land_shown"] = True
    if st.session_state.get("plan_fail_land_shown"):
        try:
            L = cache.goal_landscape(ckpt, discovery.mtime(ckpt), tuple(map(float, goal)), 24)
        except (KeyError, ValueError) as e:
            st.error(f"No goal-cost landscape for env {env.__class__.__name__}: {e}")
            return
        st.plotly_chart(figures.fig_landscape(L, stuck_state, names=[names[d] for d in L.dims]), key="plan_fail_land_fig")
        st.caption("Red dot: where the agent got stuck (not the start). A basin of low cost there, away from the "
                   "goal, is a false minimum; a ridge between it and the goal is what it could not cross.")
