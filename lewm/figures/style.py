"""The house style every figure shares: colours, the Plotly template, :func:`base` (title,
height, margins, a horizontal legend above the plot) and :func:`update_slider` (a slider stepped
through in the browser)."""
from __future__ import annotations

import numbers

import plotly.graph_objects as go

COLORS = {"loss": "#1f77b4", "pred_loss": "#2ca02c", "sigreg": "#d62728", "rank": "#9467bd",
          "on": "#1f77b4", "off": "#d62728", "ref": "#444444", "goal": "#ff7f0e", "start": "#2ca02c",
          "actual": "#1f77b4", "imagined": "#ff7f0e", "baseline": "#7f7f7f", "dataset": "rgba(150,150,150,0.25)"}
"""Named colours: loss curves, the λ on/off runs of the collapse lab, the N(0, 1) reference, the
planner's start and goal, actual vs imagined trajectories."""
TEMPLATE = "plotly_white"


def base(fig: go.Figure, title: str | None = None, height: int | None = None, **layout) -> go.Figure:
    """Apply the house layout to ``fig`` (in place) and return it; ``layout`` overrides any default."""
    if not isinstance(fig, go.Figure):  # None was an AttributeError 'update_layout'
        raise TypeError(f"base(fig=...) must be a plotly Figure (plotly.graph_objects.Figure), got {type(fig).__name__}")
    if height is not None and (isinstance(height, bool) or not isinstance(height, numbers.Integral) or height < 1):
        raise ValueError(f"base: height must be a whole number of pixels >= 1 or None, got {height!r}")
    layout.setdefault("margin", dict(l=50, r=15, t=40 if title else 15, b=40))
    layout.setdefault("legend", dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_layout(template=TEMPLATE, title=dict(text=title, x=0.01, font=dict(size=14)) if title else None,
                      **({"height": height} if height else {}), **layout)
    return fig


def update_slider(steps: list[tuple[str, dict, dict]], trace_idx: list[int], active: int, y: float,
                  yanchor: str = "top") -> dict:
    """A ``layout.sliders`` entry whose steps call ``Plotly.update`` on ``trace_idx`` only: ``steps``
    = [(label, restyle, relayout)], a restyle giving each attribute one value per trace of
    ``trace_idx`` (None = unset). In headless Chromium a step costs ~50 ms where an animate/react
    redraw of a many-panel figure took 150-340 ms, and none needs the server."""
    return dict(active=active, x=0.0, len=1.0, y=y, yanchor=yanchor, pad=dict(t=0, b=0),
                currentvalue=dict(visible=False),
                steps=[dict(method="update", label=lab, args=[restyle, relayout, trace_idx])
                       for lab, restyle, relayout in steps])
