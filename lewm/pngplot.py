"""Tiny PIL chart helpers for PNG reports (no matplotlib; plotly's PNG export needs a browser).

Each function returns a ``PIL.Image``: line charts, grouped bars, a coloured scatter, histogram
small multiples with a reference curve, and labelled image grids. Deliberately plain.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32)


def font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # old Pillow: bitmap font only
        return ImageFont.load_default()


def viridis(v: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (n,) -> uint8 RGB (n, 3) on a 5-stop viridis approximation."""
    v = np.clip(np.nan_to_num(np.asarray(v, np.float32)), 0, 1) * (len(_VIRIDIS) - 1)
    i = np.minimum(v.astype(int), len(_VIRIDIS) - 2)
    f = (v - i)[:, None]
    return (_VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f).astype(np.uint8)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not np.isfinite(lo) or not np.isfinite(hi):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.0e}"
    return f"{v:.3g}"


class Axes:
    """A plotting rectangle on an image with data -> pixel transforms, ticks and labels."""

    def __init__(self, img: Image.Image, box: tuple[int, int, int, int], xlim, ylim, title: str = "",
                 xlabel: str = "", ylabel: str = "", logy: bool = False):
        self.img, self.d = img, ImageDraw.Draw(img)
        self.x0, self.y0, self.x1, self.y1 = box
        self.logy = logy
        self.xlim = (float(xlim[0]), float(xlim[1]) if xlim[1] > xlim[0] else float(xlim[0]) + 1)
        ylo, yhi = (math.log10(max(ylim[0], 1e-300)), math.log10(max(ylim[1], 1e-300))) if logy else ylim
        if yhi <= ylo:
            yhi = ylo + 1.0
        pad = 0.05 * (yhi - ylo)
        self.ylim = (ylo - pad, yhi + pad)
        f, fs = font(12), font(11)
        d = self.d
        d.rectangle([self.x0, self.y0, self.x1, self.y1], outline=(0, 0, 0))
        for tx in nice_ticks(*self.xlim):
            px = self.px(tx)
            d.line([px, self.y1, px, self.y1 + 4], fill=(0, 0, 0))
            d.text((px, self.y1 + 6), _fmt(tx), fill=(0, 0, 0), font=fs, anchor="mt")
        for ty in nice_ticks(*self.ylim):
            py = self.py(10**ty if logy else ty)
            d.line([self.x0 - 4, py, self.x0, py], fill=(0, 0, 0))
            d.line([self.x0 + 1, py, self.x1 - 1, py], fill=(235, 235, 235))
            d.text((self.x0 - 6, py), _fmt(10**ty) if logy else _fmt(ty), fill=(0, 0, 0), font=fs, anchor="rm")
        if title:
            d.text(((self.x0 + self.x1) // 2, self.y0 - 8), title, fill=(0, 0, 0), font=font(13), anchor="mb")
        if xlabel:
            d.text(((self.x0 + self.x1) // 2, self.y1 + 22), xlabel, fill=(0, 0, 0), font=f, anchor="mt")
        if ylabel:
            lab = Image.new("RGBA", (int(d.textlength(ylabel, font=f)) + 4, 16), (255, 255, 255, 0))
            ImageDraw.Draw(lab).text((2, 0), ylabel, fill=(0, 0, 0), font=f)
            lab = lab.rotate(90, expand=True)
            img.paste(lab, (max(self.x0 - 58, 0), (self.y0 + self.y1 - lab.height) // 2), lab)

    def px(self, x: float) -> float:
        a, b = self.xlim
        return self.x0 + (x - a) / (b - a) * (self.x1 - self.x0)

    def py(self, y: float) -> float:
        a, b = self.ylim
        y = math.log10(max(y, 1e-300)) if self.logy else y
        return self.y1 - (y - a) / (b - a) * (self.y1 - self.y0)

    def line(self, x, y, colour, width: int = 2, dots: bool = False):
        pts = [(self.px(a), self.py(b)) for a, b in zip(x, y) if np.isfinite(a) and np.isfinite(b)]
        if len(pts) > 1:
            self.d.line(pts, fill=colour, width=width)
        if dots or len(pts) == 1:
            for p in pts:
                self.d.ellipse([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=colour)

    def legend(self, items: Sequence[tuple[str, tuple]]):
        f = font(11)
        y = self.y0 + 6
        for name, col in items:
            self.d.rectangle([self.x1 - 150, y + 3, self.x1 - 138, y + 9], fill=col)
            self.d.text((self.x1 - 134, y), name[:22], fill=(0, 0, 0), font=f)
            y += 15


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str = "", xlabel: str = "",
               ylabel: str = "", logy: bool = False, size=(640, 400), dots: bool = True) -> Image.Image:
    """series: [(label, x, y), ...] drawn as lines with a legend."""
    img = Image.new("RGB", size, "white")
    xs = np.concatenate([np.asarray(s[1], float) for s in series]) if series else np.zeros(1)
    ys = np.concatenate([np.asarray(s[2], float) for s in series]) if series else np.zeros(1)
    ys = ys[np.isfinite(ys) & ((ys > 0) if logy else True)]
    xs = xs[np.isfinite(xs)]
    ylim = (ys.min(), ys.max()) if len(ys) else (0, 1)
    if not logy:
        ylim = (min(ylim[0], 0.0) if ylim[0] >= 0 else ylim[0], ylim[1])
    ax = Axes(img, (75, 35, size[0] - 20, size[1] - 50), (xs.min(), xs.max()) if len(xs) else (0, 1), ylim,
              title, xlabel, ylabel, logy)
    for i, (name, x, y) in enumerate(series):
        ax.line(np.asarray(x, float), np.asarray(y, float), PALETTE[i % len(PALETTE)], dots=dots)
    ax.legend([(s[0], PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)])
    return img


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[float]], title: str = "", ylabel: str = "",
              ylim: tuple[float, float] | None = None, size=(640, 400)) -> Image.Image:
    """Grouped bars: one group per category, one bar per series; values written above bars."""
    img = Image.new("RGB", size, "white")
    vals = np.array([np.asarray(v, float) for v in series.values()]) if series else np.zeros((1, 1))
    finite = vals[np.isfinite(vals)]
    lo = min(0.0, finite.min()) if len(finite) else 0.0
    hi = finite.max() if len(finite) else 1.0
    ax = Axes(img, (75, 35, size[0] - 20, size[1] - 50), (0, len(categories)), ylim or (lo, hi), title, "", ylabel)
    ax.d.rectangle([ax.x0 + 1, ax.y1 + 2, ax.x1, size[1]], fill="white")  # hide numeric x ticks
    n = max(len(series), 1)
    f = font(10)
    for c, cat in enumerate(categories):
        ax.d.text((ax.px(c + 0.5), ax.y1 + 6), str(cat)[:18], fill=(0, 0, 0), font=font(11), anchor="mt")
        for s, (name, v) in enumerate(series.items()):
            val = float(np.asarray(v, float)[c])
            if not np.isfinite(val):
                continue
            left = ax.px(c + 0.1 + 0.8 * s / n)
            right = ax.px(c + 0.1 + 0.8 * (s + 1) / n) - 2
            top, base = ax.py(val), ax.py(0.0)
            ax.d.rectangle([left, min(top, base), right, max(top, base)], fill=PALETTE[s % len(PALETTE)])
            ax.d.text(((left + right) / 2, min(top, base) - 2), f"{val:.3f}", fill=(0, 0, 0), font=f, anchor="mb")
    ax.legend([(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series)])
    return img


def scatter(x: np.ndarray, y: np.ndarray, c: np.ndarray | None = None, title: str = "", xlabel: str = "",
            ylabel: str = "", size=(480, 420), radius: float = 2.0,
            overlay: Sequence[tuple[str, np.ndarray, np.ndarray]] = ()) -> Image.Image:
    """Scatter coloured by ``c`` (viridis, min..max); ``overlay`` = [(label, x, y)] drawn as
    connected red/black markers on top (e.g. a real vs imagined trajectory)."""
    img = Image.new("RGB", size, "white")
    allx = np.concatenate([np.asarray(x, float)] + [np.asarray(o[1], float) for o in overlay])
    ally = np.concatenate([np.asarray(y, float)] + [np.asarray(o[2], float) for o in overlay])
    ax = Axes(img, (60, 35, size[0] - 20, size[1] - 45), (allx.min(), allx.max()), (ally.min(), ally.max()),
              title, xlabel, ylabel)
    if c is None:
        cols = np.tile(np.array([[31, 119, 180]], np.uint8), (len(x), 1))
    else:
        cc = np.asarray(c, float)
        span = np.nanmax(cc) - np.nanmin(cc)
        cols = viridis((cc - np.nanmin(cc)) / (span if span > 0 else 1.0))
    for a, b, col in zip(x, y, cols):
        px, py = ax.px(a), ax.py(b)
        ax.d.ellipse([px - radius, py - radius, px + radius, py + radius], fill=tuple(int(v) for v in col))
    marks = [(0, 0, 0), (214, 39, 40), (255, 127, 14)]
    for i, (name, ox, oy) in enumerate(overlay):
        ax.line(ox, oy, marks[i % len(marks)], width=2, dots=True)
    if overlay:
        ax.legend([(o[0], marks[i % len(marks)]) for i, o in enumerate(overlay)])
    return img


def hist_grid(edges: np.ndarray, hists: np.ndarray, grid: np.ndarray, ref: np.ndarray,
              labels: Sequence[str], title: str = "", cols: int = 3, cell=(260, 200)) -> Image.Image:
    """Small multiples: density histograms (K, nbins) on common ``edges`` with a reference curve."""
    k = len(hists)
    rows = max(1, math.ceil(k / cols))
    img = Image.new("RGB", (cols * cell[0], rows * cell[1] + 30), "white")
    ImageDraw.Draw(img).text((img.width // 2, 6), title, fill=(0, 0, 0), font=font(14), anchor="mt")
    top = max(float(np.max(hists)) if hists.size else 0.0, float(ref.max()))
    for i in range(k):
        r, c = divmod(i, cols)
        ox, oy = c * cell[0], 30 + r * cell[1]
        ax = Axes(img, (ox + 45, oy + 22, ox + cell[0] - 10, oy + cell[1] - 30), (edges[0], edges[-1]), (0, top),
                  labels[i] if i < len(labels) else "")
        for j in range(len(edges) - 1):
            ax.d.rectangle([ax.px(edges[j]), ax.py(hists[i, j]), ax.px(edges[j + 1]) - 1, ax.py(0)],
                           fill=(158, 202, 225), outline=(49, 130, 189))
        ax.line(grid, ref, (214, 39, 40), width=2)
    return img


def image_grid(rows: Sequence[Sequence[np.ndarray]], row_labels: Sequence[str] = (), col_labels: Sequence[str] = (),
               scale: int = 1, title: str = "", pad: int = 4) -> Image.Image:
    """Grid of uint8 (S, S, 3) images; labels left of rows and above columns."""
    f = font(12)
    S = max(im.shape[0] for row in rows for im in row) * scale
    ncol = max(len(r) for r in rows)
    left = 10 + max([int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(l, font=f)) for l in row_labels] or [0])
    top = (24 if title else 4) + (16 if col_labels else 0)
    width = left + ncol * (S + pad) + pad
    if title:  # never clip the title
        width = max(width, int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title, font=font(13))) + 16)
    img = Image.new("RGB", (width, top + len(rows) * (S + pad) + pad), "white")
    d = ImageDraw.Draw(img)
    if title:
        d.text((img.width // 2, 4), title, fill=(0, 0, 0), font=font(13), anchor="mt")
    for j, lab in enumerate(col_labels):
        d.text((left + pad + j * (S + pad) + S // 2, top - 2), str(lab), fill=(0, 0, 0), font=font(10), anchor="mb")
    for i, row in enumerate(rows):
        y = top + pad + i * (S + pad)
        if i < len(row_labels):
            d.text((left - 6, y + S // 2), row_labels[i], fill=(0, 0, 0), font=f, anchor="rm")
        for j, im in enumerate(row):
            tile = Image.fromarray(np.asarray(im, np.uint8))
            if tile.width != S:
                tile = tile.resize((S, S), Image.NEAREST)
            img.paste(tile, (left + pad + j * (S + pad), y))
    return img


def hstack(images: Sequence[Image.Image], pad: int = 8) -> Image.Image:
    h = max(im.height for im in images)
    out = Image.new("RGB", (sum(im.width for im in images) + pad * (len(images) - 1), h), "white")
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + pad
    return out


def grid_warp(xs: np.ndarray, ys: np.ndarray, coords: np.ndarray, valid: np.ndarray, names=("x", "y"),
              title: str = "", size=(440, 420)) -> Image.Image:
    """Two panels: the true n×n state grid (left) and the same grid drawn at its latent ``coords``
    (n, n, 2) (right). Rows are coloured by their ``ys`` value (viridis), columns grey; only
    neighbouring valid cells are joined, so walls stay open."""
    n = len(ys)
    X, Y = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    C = np.asarray(coords, float)
    row_col = viridis(np.linspace(0, 1, n))
    panels = []
    for k, (P, ttl, xl, yl) in enumerate([(np.stack([X, Y], -1), f"true grid ({names[0]}, {names[1]})", names[0], names[1]),
                                          (C, title or "the same grid in latent space", "view 1", "view 2")]):
        img = Image.new("RGB", size, "white")
        ok = valid & np.isfinite(P).all(-1)
        px, py = P[..., 0][ok], P[..., 1][ok]
        ax = Axes(img, (60, 35, size[0] - 20, size[1] - 45), (px.min(), px.max()), (py.min(), py.max()), ttl, xl, yl)
        seg = lambda a, b, col, w: ax.d.line([(ax.px(a[0]), ax.py(a[1])), (ax.px(b[0]), ax.py(b[1]))], fill=col, width=w)
        for i in range(n):
            for j in range(n - 1):
                if ok[j, i] and ok[j + 1, i]:
                    seg(P[j, i], P[j + 1, i], (170, 170, 170), 1)  # column i
        for i in range(n):
            for j in range(n - 1):
                if ok[i, j] and ok[i, j + 1]:
                    seg(P[i, j], P[i, j + 1], tuple(int(v) for v in row_col[i]), 2)  # row i
        if k == 0:
            ax.legend([(f"{names[1]} = {ys[0]:.3g}", tuple(int(v) for v in row_col[0])),
                       (f"{names[1]} = {ys[-1]:.3g}", tuple(int(v) for v in row_col[-1]))])
        panels.append(img)
    return hstack(panels)
