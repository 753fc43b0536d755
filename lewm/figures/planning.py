"""The planner at work: the canvas a click sets a start or goal on, the CEM candidates' imagined
final latents on the latent map, their cost distribution, the best cost per iteration, and the
executed episode's distance to the goal."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .images import fig_image
from .style import COLORS, base


def fig_click_canvas(frame: np.ndarray, grid: np.ndarray, goal, extent: float, height: int = 420) -> go.Figure:
    """``frame`` in state units [0, extent] with invisible clickable points at ``grid`` (M, 2) and the goal marked."""
    fig = fig_image(frame, extent=extent, height=height)
    fig.add_trace(go.Scatter(x=grid[:, 0], y=grid[:, 1], mode="markers", name="click",
                             marker=dict(size=9, color="rgba(0,0,0,0.01)"),
                             selected=dict(marker=dict(opacity=0.01)), unselected=dict(marker=dict(opacity=0.01)),
                             hovertemplate="x = %{x:.0f}, y = %{y:.0f}<extra>click to set</extra>"))
    fig.add_trace(go.Scatter(x=[goal[0]], y=[goal[1]], mode="markers", name="goal", hoverinfo="skip",
                             marker=dict(symbol="x", size=14, color=COLORS["goal"])))
    fig.update_layout(showlegend=False, clickmode="event+select", dragmode=False)
    return fig


def fig_candidates(coords: np.ndarray, Z: np.ndarray | None, costs: np.ndarray, elite: np.ndarray,
                   start: np.ndarray, goal: np.ndarray, best_path: np.ndarray, title: str,
                   height: int = 520) -> go.Figure:
    """On the map points ``coords`` (N, 2): the candidates' imagined final latents ``Z`` (C, 2)
    coloured by ``costs`` (C,), the ``elite`` indices ringed, the best candidate's imagined path
    ``best_path`` (P, 2) from ``start`` (1, 2), and ``goal`` (1, 2)."""
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="dataset",
                               marker=dict(size=3, color=COLORS["dataset"]), hoverinfo="skip"))
    if Z is not None:
        fig.add_trace(go.Scattergl(x=Z[:, 0], y=Z[:, 1], mode="markers", name="candidates (imagined end)",
                                   marker=dict(size=6, color=costs, colorscale="Plasma", showscale=True,
                                               colorbar=dict(title="cost"), opacity=0.7),
                                   hovertemplate="cost %{marker.color:.3f}<extra></extra>"))
        fig.add_trace(go.Scattergl(x=Z[elite, 0], y=Z[elite, 1], mode="markers", name="elites",
                                   marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(color="black", width=1.5))))
    # WebGL traces draw above SVG ones: keep everything in WebGL so that the goal stays on top
    fig.add_trace(go.Scattergl(x=np.r_[start[:, 0], best_path[:, 0]], y=np.r_[start[:, 1], best_path[:, 1]],
                               mode="lines+markers", name="best candidate's imagined path",
                               line=dict(color="#1f77b4", width=2)))
    fig.add_trace(go.Scattergl(x=start[:, 0], y=start[:, 1], mode="markers", name="start",
                               marker=dict(symbol="circle", size=15, color=COLORS["start"],
                                           line=dict(color="black", width=1))))
    fig.add_trace(go.Scattergl(x=goal[:, 0], y=goal[:, 1], mode="markers", name="goal",
                               marker=dict(symbol="star", size=22, color=COLORS["goal"],
                                           line=dict(color="black", width=1))))
    return base(fig, title, height=height, uirevision="plan_map",
                legend=dict(orientation="h", yanchor="top", y=-0.06, x=0), margin=dict(l=40, r=10, t=40, b=10))


def fig_cost_hist(costs: np.ndarray, elite: np.ndarray, height: int = 260) -> go.Figure:
    """Histograms of all candidates' costs (C,) and of the elites' (overlaid)."""
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=costs, nbinsx=40, name="all candidates", marker_color="#9467bd"))
    fig.add_trace(go.Histogram(x=costs[elite], nbinsx=40, name="elites", marker_color="#ff7f0e"))
    fig.update_layout(barmode="overlay")
    return base(fig, "Cost distribution (‖ẑ_H − z_goal‖²)", height=height, xaxis_title="cost",
                legend=dict(orientation="h", yanchor="bottom", y=-0.55, x=0), margin=dict(l=40, r=10, t=40, b=10))


def fig_best_cost(best: list[float], current: int, height: int = 220) -> go.Figure:
    """The best candidate's cost per CEM iteration (1-based), the shown iteration ``current`` marked."""
    x = np.arange(1, len(best) + 1)
    fig = go.Figure(go.Scatter(x=x, y=best, mode="lines+markers", name="best cost"))
    # the shown iteration as a marker trace (add_vline's shape validation took ~50 ms a slider move)
    fig.add_trace(go.Scatter(x=[current], y=[best[current - 1]], mode="markers", name=f"iteration {current}",
                             marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="black", width=2))))
    return base(fig, "Best cost per iteration", height=height, xaxis_title="iteration", showlegend=False)


def fig_goal_distance(distance: list[float], threshold: float, height: int = 260) -> go.Figure:
    """The executed episode's distance to the goal per env step, the success threshold dotted."""
    fig = go.Figure(go.Scatter(x=np.arange(len(distance)), y=distance, mode="lines", name="distance"))
    fig.add_hline(y=threshold, line=dict(color="green", dash="dot"), annotation_text="success")
    return base(fig, "Distance to the goal", height=height, xaxis_title="env step")
