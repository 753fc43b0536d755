"""SIGReg's picture of the latents: histograms of random 1-D projections against N(0, 1), and the
covariance spectrum (an isotropic N(0, I) latent has every eigenvalue at 1)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .style import COLORS, base


def _view_dict(view) -> dict | None:
    """A :class:`lewm.diagnostics.SIGRegView` or the trainer's dict view -> the dict form."""
    if view is not None and not isinstance(view, dict):
        if not all(hasattr(view, k) for k in ("histograms", "statistic", "bin_edges", "grid", "reference_pdf", "value")):
            raise TypeError(f"fig_sigreg_hist: view must be a SIGRegView (lewm.diagnostics.sigreg_view), the "
                            f"trainer's dict view, or None (no view yet), got {type(view).__name__}")
        view = {"histograms": view.histograms, "statistic": view.statistic, "bin_edges": view.bin_edges,
                "grid": view.grid, "reference_pdf": view.reference_pdf, "sigreg": view.value}
    return view


MAX_COLS = 20
"""fig_sigreg_hist's most histograms side by side."""


def fig_sigreg_hist(view, title: str = "SIGReg projections", cols: int = 3, color: str = "#1f77b4",
                    max_dirs: int | None = None) -> go.Figure:
    """One histogram per random direction (density) with the N(0,1) density and the Epps–Pulley
    statistic; ``view`` is a ``SIGRegView`` or the trainer's dict (``histograms`` (K, bins),
    ``statistic`` (K,), ``bin_edges``, ``grid``, ``reference_pdf``, ``sigreg``, optional ``step``).
    ``max_dirs`` shows only the first directions; ``cols`` in 1..20. ``None`` (or an empty dict) is "no view
    yet" (the Train page before its first batch): an empty figure titled "waiting for the first batch"."""
    view = _view_dict(view)
    if not view:
        return base(go.Figure(), title + " — waiting for the first batch")
    fn = "fig_sigreg_hist"
    # 10**6 was Plotly's "Horizontal spacing cannot be greater than (1 / (cols - 1))"
    cols = ck.whole(fn, "cols", cols, 1, MAX_COLS, "histograms side by side")
    if max_dirs is not None:
        max_dirs = ck.whole(fn, "max_dirs", max_dirs)
    ck.keys(fn, "view", view, ("histograms", "statistic", "bin_edges", "grid", "reference_pdf"))
    H = ck.array(fn, "view['histograms']", view["histograms"], 2, cols=1, min_len=1)  # (K, bins)
    stat = ck.array(fn, "view['statistic']", view["statistic"], 1)
    ck.same_len(fn, **{"view['histograms']": H, "view['statistic']": stat})
    edges = ck.array(fn, "view['bin_edges']", view["bin_edges"], 1, min_len=2)
    if len(edges) != H.shape[1] + 1:
        raise ValueError(f"{fn}: view['bin_edges'] must have one more entry than the histograms' bins "
                         f"({H.shape[1]} + 1), got {len(edges)}")
    ck.same_len(fn, **{"view['grid']": view["grid"], "view['reference_pdf']": view["reference_pdf"]})
    if max_dirs is not None:
        H = H[:max_dirs]
    K = H.shape[0]
    rows = int(np.ceil(K / cols))
    # many directions: rows closer together (Plotly refuses a spacing above 1 / (rows - 1))
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, horizontal_spacing=0.04,
                        vertical_spacing=min(0.14, 0.5 / max(rows - 1, 1)),
                        subplot_titles=[f"u{k + 1}: EP = {stat[k]:.2f}" for k in range(K)])
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
    spectra = ck.items("fig_spectrum", "spectra", spectra, "(name, eigenvalues, colour) tuples")
    fig = go.Figure()
    for i, (name, ev, color) in enumerate(spectra):
        ev = ck.array("fig_spectrum", f"spectra[{i}] eigenvalues", ev, 1, min_len=1).astype(np.float64)
        bad = int(np.sum(~np.isfinite(ev)))
        if bad:  # drawn as gaps: say so in the legend rather than leave a silent hole
            name = f"{name} ({bad} non-finite not drawn)"
        ev = np.maximum(ev, 1e-12)  # (D,) log axis: no zeros
        fig.add_trace(go.Scatter(x=np.arange(1, len(ev) + 1), y=ev, name=name, mode="lines+markers",
                                 line=dict(color=color, width=1.8), marker=dict(size=4)))
    fig.add_hline(y=1.0, line=dict(color=COLORS["ref"], dash="dot"), annotation_text="N(0, I) target",
                  annotation_position="bottom left")
    return base(fig, title, xaxis_title="component (sorted)", yaxis_title="variance", yaxis_type="log",
                uirevision="spectrum")
