"""Frames as figures: one crisp image (optionally in state units, to draw on), a labelled grid of
frames, and an animated episode (Play button + slider).

Frames are (S, S, 3) uint8 arrays; they are upscaled by an integer factor (nearest neighbour) and
embedded as PNG data URIs, so a figure needs no file beside it.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import lewm.figures._checks as ck
from .style import COLORS, base


def upscale(img: np.ndarray, size: int = 256) -> np.ndarray:
    """Nearest-neighbour upscale of (S, S, 3) uint8 to about ``size`` px (integer factor)."""
    img = ck.image("upscale", "img", img)
    f = max(1, int(round(ck.px_size("upscale", "size", size) / img.shape[0])))
    return img.repeat(f, axis=0).repeat(f, axis=1)  # (f S, f S, 3)


def png_uri(img: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of an (H, W, 3) uint8 image."""
    from PIL import Image
    img = ck.image("png_uri", "img", img)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def fig_image(img: np.ndarray, title: str | None = None, extent: float | None = None, height: int = 360) -> go.Figure:
    """A crisp image as a Plotly figure; ``extent`` maps pixels to [0, extent] data units (e.g. the
    224-unit Two-Room canvas) so that state coordinates can be drawn on top."""
    ck.finite("fig_image", "extent", extent, positive=True, optional=True)
    up = upscale(img, 512)
    S = up.shape[0]
    scale = (extent / S) if extent else 1.0
    fig = go.Figure(go.Image(source=png_uri(up), x0=scale / 2, dx=scale, y0=scale / 2, dy=scale, hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[0, S * scale])
    fig.update_yaxes(visible=False, range=[S * scale, 0], scaleanchor="x")
    return base(fig, title, height=height, margin=dict(l=0, r=0, t=30 if title else 0, b=0))


def fig_image_grid(rows: list[list[np.ndarray]], row_titles: list[str], col_titles: list[str],
                   title: str | None = None, size: int = 96) -> go.Figure:
    """A grid of frames: ``rows[r][c]`` (S, S, 3) uint8, one title per row (left) and per column (top)."""
    fn = "fig_image_grid"
    if not len(rows) or not all(len(r) for r in rows):
        raise ValueError(f"{fn}: rows must be a non-empty list of non-empty rows of frames, got row lengths "
                         f"{[len(r) for r in rows]}")
    R, C = len(rows), max((len(r) for r in rows), default=0)
    ck.same_len(fn, rows=rows, row_titles=row_titles)
    if len(col_titles) != C:
        raise ValueError(f"{fn}: col_titles must have one title per column ({C}), got {len(col_titles)}")
    ck.px_size(fn, "size", size)
    fig = make_subplots(rows=R, cols=C, column_titles=list(col_titles), row_titles=list(row_titles),
                        horizontal_spacing=0.01, vertical_spacing=0.03)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            fig.add_trace(go.Image(source=png_uri(upscale(img, size)), hoverinfo="skip"), r + 1, c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.for_each_annotation(lambda a: a.update(font_size=11))
    return base(fig, title, height=R * (size + 10) + 80, margin=dict(l=10, r=140, t=70, b=10))


def animation_figure(frames: np.ndarray, goal_frame: np.ndarray | None = None, title: str | None = None,
                     size: int = 320, fps: int = 8, extent: float | None = None, states: np.ndarray | None = None,
                     goal_xy=None, radius: float | None = None) -> go.Figure:
    """An animated figure (Play button + slider) of crisp frames (T, S, S, 3). With ``extent`` (e.g.
    Two-Room's 224-unit canvas) and ``states`` (T, Q) / ``goal_xy``, the path so far and the goal
    are drawn on top."""
    fn = "animation_figure"
    frames = ck.frames(fn, "frames", frames)
    ck.finite(fn, "fps", fps, positive=True)
    ck.px_size(fn, "size", size)
    ck.finite(fn, "extent", extent, positive=True, optional=True)
    if extent is not None and states is not None:
        states = ck.array(fn, "states", states, 2, cols=2)
        ck.same_len(fn, frames=frames, states=states)
    if extent is not None and goal_xy is not None:
        ck.point(fn, "goal_xy", goal_xy)
        ck.finite(fn, "radius", radius, optional=True)
    uris = [png_uri(upscale(f, size)) for f in frames]
    S = upscale(frames[0], size).shape[0]
    sc = (extent / S) if extent else 1.0
    img = dict(x0=sc / 2, dx=sc, y0=sc / 2, dy=sc, hoverinfo="skip")
    fig = go.Figure(go.Image(source=uris[0], **img))
    over = extent is not None and states is not None
    if over:
        fig.add_trace(go.Scatter(x=states[:1, 0], y=states[:1, 1], mode="lines", line=dict(color="#1f77b4", width=2),
                                 name="path", hoverinfo="skip"))
    if extent is not None and goal_xy is not None:
        r = radius or 0.0
        fig.add_shape(type="circle", x0=goal_xy[0] - r, x1=goal_xy[0] + r, y0=goal_xy[1] - r, y1=goal_xy[1] + r,
                      line=dict(color=COLORS["goal"], width=2, dash="dot"))
        fig.add_trace(go.Scatter(x=[goal_xy[0]], y=[goal_xy[1]], mode="markers", name="goal", hoverinfo="skip",
                                 marker=dict(symbol="x", size=12, color=COLORS["goal"])))
    fr = []
    for i, u in enumerate(uris):
        data = [go.Image(source=u, **img)]
        if over:
            data.append(go.Scatter(x=states[:i + 1, 0], y=states[:i + 1, 1]))
        fr.append(go.Frame(data=data, traces=[0, 1] if over else [0], name=str(i)))
    fig.frames = fr
    dur = int(1000 / fps)  # fps > 0 checked above
    fig.update_layout(
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.02, xanchor="left", yanchor="top",
                          direction="left", buttons=[
                              dict(label="▶ Play", method="animate",
                                   args=[None, dict(frame=dict(duration=dur, redraw=True), fromcurrent=True,
                                                    transition=dict(duration=0))]),
                              dict(label="❚❚ Pause", method="animate",
                                   args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.25, len=0.75, y=-0.02, yanchor="top", currentvalue=dict(prefix="step "),
                      steps=[dict(method="animate", label=str(i), args=[[str(i)], dict(mode="immediate",
                              frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
                             for i in range(len(uris))])],
        showlegend=False)
    fig.update_xaxes(visible=False, range=[0, S * sc])
    fig.update_yaxes(visible=False, range=[S * sc, 0], scaleanchor="x")
    return base(fig, title, height=size + 140, margin=dict(l=0, r=0, t=30 if title else 0, b=70))
