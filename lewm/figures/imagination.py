"""Imagination vs reality, scrubbed in the browser: for each start frame of an episode, the actual and
the open-loop imagined latents on a 2-D latent map, the error per imagined step against the "nothing
moves" baseline, the real frames and the dataset frame nearest to each imagined latent. A slider over
the start frames restyles only what moves (``Plotly.update``: no server round trip)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .images import png_uri
from .style import COLORS, base, update_slider

GAP = 2
"""White pixels between two frames of a strip."""


@dataclass
class ImaginedStart:
    """One start frame's open-loop imagination, ready to draw."""

    start: int
    """First context frame."""
    frames: np.ndarray
    """(P,) raw frame indices of the imagined steps."""
    actual_xy: np.ndarray
    """(P, 2) map coordinates of the encoded (actual) latents."""
    imagined_xy: np.ndarray
    """(P, 2) map coordinates of the imagined latents."""
    error: np.ndarray
    """(P,) latent MSE per dim of the imagined latents."""
    copy_error: np.ndarray
    """(P,) the same for copying the last context latent ("nothing moves")."""
    real: list = field(default_factory=list)
    """Up to ``slots`` real frames (S, S, 3) uint8, at ``shown`` steps."""
    nearest: list = field(default_factory=list)
    """The dataset frame nearest to the imagined latent at the same steps."""
    shown: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    """Indices into ``frames`` of the steps the strips show."""


def shown_steps(P: int, slots: int = 6) -> np.ndarray:
    """Evenly spread indices of at most ``slots`` of ``P`` imagined steps (always the first and last)."""
    ck.whole("shown_steps", "P", P)
    ck.whole("shown_steps", "slots", slots)
    return np.unique(np.linspace(0, P - 1, min(slots, P)).round().astype(int))


def strip(images: list, slots: int, size: int) -> np.ndarray:
    """``images`` side by side in ``slots`` places of ``size`` px with a white gap; empty places are white.
    -> (size, slots * (size + GAP) - GAP, 3) uint8."""
    out = np.full((size, slots * (size + GAP) - GAP, 3), 255, np.uint8)
    for i, im in enumerate(images[:slots]):
        out[:, i * (size + GAP):i * (size + GAP) + size] = np.asarray(im, np.uint8)[:size, :size]
    return out


def fig_imagination_scrubber(coords: np.ndarray, starts: list[ImaginedStart], method: str = "pca",
                             active: int = 0, slots: int = 6, height: int = 760) -> go.Figure:
    """``coords`` (N, 2): the dataset's map points (grey); ``starts``: one :class:`ImaginedStart` per
    slider stop. Opens on ``starts[active]``; the title says "Start frame s/last"."""
    if not starts:
        raise ValueError("fig_imagination_scrubber needs at least one start frame")
    fn = "fig_imagination_scrubber"
    active = ck.index(fn, "active", active, len(starts), "starts")
    slots = ck.whole(fn, "slots", slots)
    coords = ck.array(fn, "coords", coords, 2, cols=2)
    for i, r in enumerate(starts):
        ck.array(fn, f"starts[{i}].actual_xy", r.actual_xy, 2, cols=2)
        ck.array(fn, f"starts[{i}].imagined_xy", r.imagined_xy, 2, cols=2)
        if not len(r.frames):
            raise ValueError(f"{fn}: starts[{i}].frames must be non-empty, got length 0")
        ck.same_len(fn, **{f"starts[{i}].{k}": getattr(r, k) for k in ("frames", "actual_xy", "imagined_xy",
                                                                        "error", "copy_error")})
    S = int(np.asarray(starts[0].real[0]).shape[0]) if starts[0].real else 64
    last = starts[-1].start
    fig = make_subplots(rows=3, cols=2, column_widths=[0.55, 0.45], row_heights=[0.6, 0.2, 0.2],
                        specs=[[{}, {}], [{"colspan": 2}, None], [{"colspan": 2}, None]],
                        subplot_titles=(f"Trajectories in the {method.upper()} map", "Error per imagined step (MSE per dim)",
                                        "Real frames", "Nearest dataset frame to each imagined latent"),
                        horizontal_spacing=0.08, vertical_spacing=0.09)
    moving = []  # (trace index, {attribute: function of the stop}) of what a slider stop restyles

    def add(trace, row, col, fns=None):
        fig.add_trace(trace, row, col)
        if fns:
            moving.append((len(fig.data) - 1, fns))

    def pairs(r: ImaginedStart) -> tuple[list, list]:
        """Thin lines joining each actual latent to its imagined one (None-separated)."""
        x, y = [], []
        for a, p in zip(r.actual_xy, r.imagined_xy):
            x += [float(a[0]), float(p[0]), None]
            y += [float(a[1]), float(p[1]), None]
        return x, y

    uris = [(png_uri(strip(r.real, slots, S)), png_uri(strip(r.nearest, slots, S))) for r in starts]
    r0 = starts[active]
    coords = np.asarray(coords)
    add(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="dataset",
                     marker=dict(size=3, color=COLORS["dataset"]), hoverinfo="skip"), 1, 1)
    add(go.Scatter(x=r0.actual_xy[:, 0], y=r0.actual_xy[:, 1], mode="lines+markers", name="actual (encoded)",
                   line=dict(color=COLORS["actual"], width=2), marker=dict(size=7),
                   text=[f"frame {f}" for f in r0.frames], hovertemplate="%{text}<extra>actual</extra>"), 1, 1,
        {"x": lambda r: r.actual_xy[:, 0].tolist(), "y": lambda r: r.actual_xy[:, 1].tolist(),
         "text": lambda r: [f"frame {f}" for f in r.frames]})
    add(go.Scatter(x=r0.imagined_xy[:, 0], y=r0.imagined_xy[:, 1], mode="lines+markers", name="imagined (open loop)",
                   line=dict(color=COLORS["imagined"], width=2, dash="dash"), marker=dict(size=7, symbol="diamond"),
                   text=[f"step {i + 1}" for i in range(len(r0.frames))],
                   hovertemplate="%{text}<extra>imagined</extra>"), 1, 1,
        {"x": lambda r: r.imagined_xy[:, 0].tolist(), "y": lambda r: r.imagined_xy[:, 1].tolist(),
         "text": lambda r: [f"step {i + 1}" for i in range(len(r.frames))]})
    px, py = pairs(r0)
    add(go.Scatter(x=px, y=py, mode="lines", showlegend=False, hoverinfo="skip",
                   line=dict(color="rgba(0,0,0,0.25)", width=1)), 1, 1,
        {"x": lambda r: pairs(r)[0], "y": lambda r: pairs(r)[1]})
    step_x = (lambda r: np.arange(1, len(r.frames) + 1).tolist())
    add(go.Scatter(x=step_x(r0), y=r0.error, name="imagined vs actual", mode="lines+markers",
                   line=dict(color=COLORS["imagined"])), 1, 2, {"x": step_x, "y": lambda r: np.asarray(r.error).tolist()})
    add(go.Scatter(x=step_x(r0), y=r0.copy_error, name="'nothing moves' baseline", mode="lines",
                   line=dict(color=COLORS["baseline"], dash="dot")), 1, 2,
        {"x": step_x, "y": lambda r: np.asarray(r.copy_error).tolist()})
    strips = {r.start: u for r, u in zip(starts, uris)}  # start frames are distinct
    add(go.Image(source=uris[active][0], hoverinfo="skip", name="real"), 2, 1,
        {"source": lambda r: strips[r.start][0]})
    add(go.Image(source=uris[active][1], hoverinfo="skip", name="nearest"), 3, 1,
        {"source": lambda r: strips[r.start][1]})

    top = max(max(float(np.max(r.error)), float(np.max(r.copy_error))) for r in starts)
    P_max = max(len(r.frames) for r in starts)
    fig.update_xaxes(title_text="imagined step (action blocks ahead)", range=[0.5, P_max + 0.5], row=1, col=2)
    fig.update_yaxes(range=[0, 1.05 * top if top > 0 else 1.0], row=1, col=2)
    ticks = [(S + GAP) * i + S / 2 for i in range(slots)]

    def labels(r: ImaginedStart) -> tuple[list, list]:
        real = [f"t = {r.frames[i]}" for i in r.shown] + [""] * (slots - len(r.shown))
        near = [f"imagined step {i + 1}" for i in r.shown] + [""] * (slots - len(r.shown))
        return real, near

    for row in (2, 3):
        fig.update_xaxes(tickvals=ticks, ticktext=labels(r0)[row - 2], showgrid=False, zeroline=False, row=row, col=1)
        fig.update_yaxes(visible=False, row=row, col=1)
    idx = [i for i, _ in moving]
    attrs = sorted({a for _, fns in moving for a in fns})

    def stop(r: ImaginedStart) -> tuple[str, dict, dict]:
        real, near = labels(r)
        return str(r.start), {a: [fns[a](r) if a in fns else None for _, fns in moving] for a in attrs}, \
            {"title.text": f"Start frame {r.start}/{last}", "xaxis3.ticktext": real, "xaxis4.ticktext": near}

    fig.update_layout(sliders=[update_slider([stop(r) for r in starts], idx, active, -0.04)])
    return base(fig, f"Start frame {r0.start}/{last}", height=height, uirevision="imagination",
                legend=dict(orientation="h", yanchor="bottom", y=1.04, xanchor="right", x=1.0),
                margin=dict(l=40, r=10, t=70, b=70))


def imagined_starts(results: list, lmap, nearest, pixels: np.ndarray, slots: int = 6) -> list[ImaginedStart]:
    """:class:`ImaginedStart` records from :func:`lewm.diagnostics.open_loop_sweep`'s results: the
    latents placed on ``lmap`` (a fitted :class:`lewm.diagnostics.LatentMap`), the strips' real frames
    taken from ``pixels`` (L, S, S, 3) and their imagined twins from ``nearest``
    (:class:`lewm.diagnostics.NearestFrames`). All starts are mapped and queried in one call each."""
    if not results:
        return []
    ck.whole("imagined_starts", "slots", slots)
    sizes = [len(r.frames) for r in results]
    cut = np.cumsum(sizes)[:-1]
    act = np.split(lmap.transform(np.concatenate([r.actual for r in results])), cut)  # [(P, 2)]
    img = np.split(lmap.transform(np.concatenate([r.predicted for r in results])), cut)  # [(P, 2)]
    near = np.split(nearest.query(np.concatenate([r.predicted for r in results]), k=1).frames[:, 0], cut)  # [(P, S, S, 3)]
    out = []
    for r, a, p, n in zip(results, act, img, near):
        shown = shown_steps(len(r.frames), slots)
        out.append(ImaginedStart(start=int(r.context_frames[0]), frames=np.asarray(r.frames), actual_xy=a,
                                 imagined_xy=p, error=np.asarray(r.error), copy_error=np.asarray(r.copy_error),
                                 real=[pixels[r.frames[i]] for i in shown], nearest=[n[i] for i in shown],
                                 shown=shown))
    return out
