"""Surprise (violation of expectation): the one-step prediction error along an episode, clean and
perturbed, and the spike ratio per episode at the perturbation with its p-value."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import lewm.figures._checks as ck
from .style import base


def fig_surprise_traces(traces: list[tuple[str, np.ndarray, np.ndarray, str | None]], at: int | None = None,
                        title: str = "Surprise along the episode", height: int = 320) -> go.Figure:
    """One line per ``(name, frames (T,), one-step error (T,), colour or None)`` (log y); a dotted
    line marks the perturbation frame ``at``."""
    for name, frames, error, color in traces:
        ck.same_len("fig_surprise_traces", **{f"{name} frames": frames, f"{name} error": error})
    ck.finite("fig_surprise_traces", "at", at, optional=True)
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
    missing = [k for k in ratios if k not in p_values]
    if missing:
        raise ValueError(f"fig_surprise_spikes: p_values must hold a p-value for every key of ratios, "
                         f"missing {missing}")
    fig = go.Figure()
    for k, r in ratios.items():
        fig.add_trace(go.Box(y=r, name=f"{k} (p={p_values[k]:.2g})", boxpoints="all"))
    fig.add_hline(y=1.0, line=dict(color="black", dash="dot"), annotation_text="no surprise")
    return base(fig, title, height=height, yaxis_title="perturbed / clean at the perturbation", yaxis_type="log",
                showlegend=False)


IMAGE_SLOTS = ("frame before", "clean", "teleported", "recoloured")


def fig_surprise_scrubber(clean_frames: np.ndarray, clean_error: np.ndarray, pixels: np.ndarray, stops: list,
                          frameskip: int, colour_mode: str = "hue", active: int | None = None,
                          height: int = 560) -> go.Figure:
    """Surprise along one episode with the perturbation moved by the figure's own slider (in the
    browser, no server round trip). ``clean_frames`` / ``clean_error`` (n,): the clean trace;
    ``pixels`` (L, S, S, 3): the episode; ``stops``: one :class:`lewm.diagnostics.PerturbedAt` per
    slider stop. Each stop restyles the teleported and recoloured traces, the marker at the
    perturbation and the frames under the chart (the frame before, t clean, teleported, recoloured);
    the title gives both ratios perturbed / clean at t. (A restyle unsets what it leaves None, so
    every moving trace gets all of x and y.)"""
    from plotly.subplots import make_subplots

    from .imagination import GAP, strip
    from .images import png_uri
    from .style import update_slider
    if not stops:
        raise ValueError("fig_surprise_scrubber needs at least one perturbation frame")
    fn = "fig_surprise_scrubber"
    active = len(stops) // 2 if active is None else ck.index(fn, "active", active, len(stops), "stops")
    frameskip = ck.whole(fn, "frameskip", frameskip)
    pixels = ck.frames(fn, "pixels", pixels)
    ck.same_len(fn, clean_frames=clean_frames, clean_error=clean_error)
    known = set(np.asarray(clean_frames).tolist())
    for i, r in enumerate(stops):
        if r.t not in known:
            raise ValueError(f"{fn}: stops[{i}].t = {r.t} must be one of clean_frames (the clean trace has no error there)")
        if not frameskip <= r.t < len(pixels):
            raise ValueError(f"{fn}: stops[{i}].t must be in [frameskip, len(pixels) - 1] = [{frameskip}, "
                             f"{len(pixels) - 1}] (the frame before is t - frameskip), got {r.t}")
    S, last = pixels.shape[1], stops[-1].t
    clean_at = dict(zip(np.asarray(clean_frames).tolist(), np.asarray(clean_error, np.float64).tolist()))
    tele = stops[0].teleport is not None

    def ratio(trace, t):
        return trace.at(t) / max(clean_at[t], 1e-12)

    def title(r) -> str:
        parts = ([f"teleport ×{ratio(r.teleport, r.t):.1f}"] if tele else []) + \
            [f"colour ({colour_mode}) ×{ratio(r.colour, r.t):.1f}"]
        return f"Perturbation at frame {r.t}/{last}: " + ", ".join(parts) + " vs clean"

    def images(r) -> str:
        row = [pixels[r.t - frameskip], pixels[r.t]] + ([r.teleport_frame] if tele else []) + [r.colour_frame]
        return png_uri(strip(row, len(row), S))

    errs = [np.asarray(clean_error)] + [np.asarray(r.colour.error) for r in stops] + \
        ([np.asarray(r.teleport.error) for r in stops] if tele else [])
    finite = np.concatenate([e[np.isfinite(e) & (e > 0)] for e in errs])
    lo, hi = (float(finite.min()) / 2, float(finite.max()) * 2) if len(finite) else (1e-6, 1.0)
    fig = make_subplots(rows=2, cols=1, row_heights=[0.68, 0.32], vertical_spacing=0.12)
    r0 = stops[active]
    fig.add_trace(go.Scatter(x=clean_frames, y=clean_error, name="clean", mode="lines+markers",
                             line=dict(color="#1f77b4"), marker=dict(size=5)), 1, 1)
    moving = []  # (trace index, {attribute: function of the stop})
    if tele:
        fig.add_trace(go.Scatter(x=r0.teleport.frames, y=r0.teleport.error, name="teleport", mode="lines+markers",
                                 line=dict(color="#d62728"), marker=dict(size=5)), 1, 1)
        moving.append((len(fig.data) - 1, {"x": lambda r: np.asarray(r.teleport.frames).tolist(),
                                           "y": lambda r: np.asarray(r.teleport.error).tolist()}))
    fig.add_trace(go.Scatter(x=r0.colour.frames, y=r0.colour.error, name=f"colour ({colour_mode})",
                             mode="lines+markers", line=dict(color="#2ca02c"), marker=dict(size=5)), 1, 1)
    moving.append((len(fig.data) - 1, {"x": lambda r: np.asarray(r.colour.frames).tolist(),
                                       "y": lambda r: np.asarray(r.colour.error).tolist()}))
    fig.add_trace(go.Scatter(x=[r0.t, r0.t], y=[lo, hi], mode="lines", name="perturbation", hoverinfo="skip",
                             line=dict(color="black", dash="dot")), 1, 1)
    moving.append((len(fig.data) - 1, {"x": lambda r: [r.t, r.t], "y": lambda r: [lo, hi]}))
    uris = {r.t: images(r) for r in stops}  # perturbation frames are distinct
    fig.add_trace(go.Image(source=uris[r0.t], hoverinfo="skip", name="frames"), 2, 1)
    moving.append((len(fig.data) - 1, {"source": lambda r: uris[r.t]}))
    slots = [s for s in IMAGE_SLOTS if tele or s != "teleported"]
    n_img = len(slots)
    fig.update_xaxes(title_text="frame", row=1, col=1)
    fig.update_yaxes(title_text="prediction error", type="log", range=[np.log10(lo), np.log10(hi)], row=1, col=1)
    fig.update_xaxes(tickvals=[(S + GAP) * i + S / 2 for i in range(n_img)], ticktext=slots, showgrid=False,
                     zeroline=False, row=2, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    idx = [i for i, _ in moving]
    attrs = sorted({a for _, fns in moving for a in fns})
    steps = [(str(r.t), {a: [fns[a](r) if a in fns else None for _, fns in moving] for a in attrs},
              {"title.text": title(r)}) for r in stops]
    fig.update_layout(sliders=[update_slider(steps, idx, active, -0.06)])
    return base(fig, title(r0), height=height, uirevision="surprise",
                legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0),
                margin=dict(l=50, r=10, t=80, b=70))
