"""SIGReg's picture of the latents: histograms of random 1-D projections against N(0, 1), and the
covariance spectrum (an isotropic N(0, I) latent has every eigenvalue at 1)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import COLORS, base


def _view_dict(view) -> dict | None:
    """A :class:`lewm.diagnostics.SIGRegView` or the trainer's dict view -> the dict form."""
    if view is not None and not isinstance(view, dict):
        view = {"histograms": view.histograms, "statistic": view.statistic, "bin_edges": view.bin_edges,
                "grid": view.grid, "reference_pdf": view.reference_pdf, "sigreg": view.value}
    return view


def fig_sigreg_hist(view, title: str = "SIGReg projections", cols: int = 3, color: str = "#1f77b4",
                    max_dirs: int | None = None) -> go.Figure:
    """One histogram per random direction (density) with the N(0,1) density and the Epps–Pulley
    statistic; ``view`` is a ``SIGRegView`` or the trainer's dict (``histograms`` (K, bins),
    ``statistic`` (K,), ``bin_edges``, ``grid``, ``reference_pdf``, ``sigreg``, optional ``step``).
    ``max_dirs`` shows only the first directions."""
    view = _view_dict(view)
    if not view:
        return base(go.Figure(), title + " — waiting for the first batch")
    H = np.asarray(view["histograms"])  # (K, bins)
    if max_dirs is not None:
        H = H[:max_dirs]
    K = H.shape[0]
    rows = int(np.ceil(K / cols))
    stat = np.asarray(view["statistic"])
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, horizontal_spacing=0.04, vertical_spacing=0.14,
                        subplot_titles=[f"u{k + 1}: EP = {stat[k]:.2f}" for k in range(K)])
    edges = np.asarray(view["bin_edges"])
    centers, width = 0.5 * (edges[1:] + edges[:-1]), edges[1] - edges[0]
    ymax = float(max(np.asarray(view["reference_pdf"]).max() * 1.6, 0.6))
    for k in range(K):
        r, c = k // cols + 1, k % cols + 1
        fig.add_trace(go.Bar(x=centers, y=H[k], width=width, marker_color=color, opacity=0.75, showlegend=False,
                             name=f"u{k + 1}"), r, c)
        fig.add_trace(go.Scatter(x=view["grid"], y=view["reference_pdf"], mode="lines", showlegend=False,
                                 name="N(0,1)", line=dict(color=COLORS["ref"], width=1.5, dash="dot")), r, c)
        fig.update_yaxes(range=[0, ymax], showticklabels=c == 1, row=r, col=c)
    fig.update_annotations(font_size=11)
    step = f" · step {view['step']}" if "step" in view else ""
    base(fig, f"{title}{step} · SIGReg {view.get('sigreg', float('nan')):.2f} · dotted = N(0,1)",
         bargap=0, uirevision="hist")
    fig.update_layout(margin=dict(l=35, r=10, t=60, b=25))
    return fig


def fig_spectrum(spectra: list[tuple[str, np.ndarray, str]], title: str = "Covariance spectrum of the latents") -> go.Figure:
    """Eigenvalues (descending, log y) per ``(name, eigenvalues (D,), colour)``; an isotropic
    N(0, I) latent has all of them at 1 (dotted)."""
    fig = go.Figure()
    for name, ev, color in spectra:
        ev = np.maximum(np.asarray(ev, np.float64), 1e-12)  # (D,) log axis: no zeros
        fig.add_trace(go.Scatter(x=np.arange(1, len(ev) + 1), y=ev, name=name, mode="lines+markers",
                                 line=dict(color=color, width=1.8), marker=dict(size=4)))
    fig.add_hline(y=1.0, line=dict(color=COLORS["ref"], dash="dot"), annotation_text="N(0, I) target",
                  annotation_position="bottom left")
    return base(fig, title, xaxis_title="component (sorted)", yaxis_title="variance", yaxis_type="log",
                uirevision="spectrum")
