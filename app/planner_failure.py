"""The Planner page's answer to a failed episode (issue 20 point 6): what the agent saw — the goal cost
along the executed path next to the true distance, where it got stuck, and on demand the goal-cost
landscape around that point. The reading is lewm.diagnostics.episode_failure (pure), the figures
lewm.figures (fig_failure_path, fig_landscape); this file only lays them out."""
from __future__ import annotations

import numpy as np
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
    st.plotly_chart(figures.fig_failure_path(f, env.success_threshold), key="plan_fail_path")
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
