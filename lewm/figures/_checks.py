"""Argument checks shared by the figure builders: a bad argument raises ValueError (TypeError for a
wrong type) naming the function, the argument, what was found and what was expected, instead of an
IndexError deep in NumPy / Plotly or a silently wrong chart. Lists are accepted wherever arrays are
(they are converted with ``np.asarray``)."""
from __future__ import annotations

import math
import numbers

import numpy as np


def _bad(fn: str, name: str, expected: str, found) -> ValueError:
    return ValueError(f"{fn}: {name} must be {expected}, got {found}")


def _shape(a) -> str:
    return f"shape {tuple(np.shape(a))}"


def image(fn: str, name: str, img, *, square: bool = False) -> np.ndarray:
    """One (H, W, 3) uint8 image, H and W >= 1 (``square``: H == W)."""
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or 0 in a.shape[:2] or (square and a.shape[0] != a.shape[1]):
        raise _bad(fn, name, "an (S, S, 3) image" if square else "an (H, W, 3) image", _shape(a))
    if a.dtype != np.uint8:
        raise TypeError(f"{fn}: {name} must be uint8 (0-255), got dtype {a.dtype}; "
                        "convert first, e.g. (np.clip(x, 0, 1) * 255).astype(np.uint8) for floats in [0, 1]")
    return a


def frames(fn: str, name: str, x) -> np.ndarray:
    """Frames (T, S, S, 3) uint8 with T >= 1."""
    a = np.asarray(x)
    if a.ndim != 4 or len(a) == 0:
        raise _bad(fn, name, "non-empty frames (T, S, S, 3) with T >= 1", _shape(a))
    image(fn, f"{name}[0]", a[0], square=True)
    return a


def array(fn: str, name: str, x, ndim: int, cols: int | None = None, min_len: int = 0) -> np.ndarray:
    """``x`` as an array of ``ndim`` dims, at least ``cols`` columns (2-D) and ``min_len`` rows."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{fn}: {name} must be an array, got {type(x).__name__}")
    a = np.asarray(x)
    want = {1: "(N,)", 2: f"(N, {cols if cols else 'Q'}{'+' if cols else ''})", 3: "(n, n, 2)"}.get(ndim, f"{ndim}-D")
    if a.ndim != ndim or (cols and a.shape[1] < cols) or len(a) < min_len:
        more = f" with at least {min_len} row(s)" if min_len else ""
        raise _bad(fn, name, f"a {ndim}-D array {want}{more}", _shape(a))
    return a


def items(fn: str, name: str, x, what: str) -> list:
    """A list or tuple of ``what`` (None, a string, a number or a bare array was "'NoneType' object is not
    iterable" or "has no len()" inside the builder) -> a list."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{fn}: {name} must be a list of {what}, got {type(x).__name__}")
    return list(x)


def same_len(fn: str, **named) -> int:
    """All ``named`` sequences (None skipped) have one length -> that length."""
    lens = {k: len(v) for k, v in named.items() if v is not None}
    if len(set(lens.values())) > 1:
        found = ", ".join(f"len({k}) = {n}" for k, n in lens.items())
        raise ValueError(f"{fn}: {', '.join(lens)} must have the same length, got {found}")
    return next(iter(lens.values()), 0)


def whole(fn: str, name: str, v, lo: int = 1, hi: int | None = None, why: str = "") -> int:
    """A whole number >= ``lo`` (and <= ``hi``; ``why`` says why, e.g. the memory a larger one takes)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        if isinstance(v, numbers.Real) and float(v).is_integer():
            v = int(v)
        else:
            raise TypeError(f"{fn}: {name} must be a whole number >= {lo}, got {v!r}")
    if v < lo:
        raise _bad(fn, name, f"a whole number >= {lo}", v)
    if hi is not None and v > hi:
        raise _bad(fn, name, f"<= {hi}{f' ({why})' if why else ''}", v)
    return int(v)


def index(fn: str, name: str, i, n: int, what: str = "items") -> int:
    """An index in [0, n) of ``n`` ``what``."""
    i = whole(fn, name, i, lo=-(1 << 62))
    if not 0 <= i < n:
        raise _bad(fn, name, f"in [0, {n - 1}] ({n} {what})" if n else f"an index, but there are no {what}", i)
    return i


def finite(fn: str, name: str, v, positive: bool = False, optional: bool = False) -> float | None:
    """A finite number (``positive``: > 0); None passes when ``optional``."""
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number, got {v!r}")
    if not math.isfinite(v) or (positive and v <= 0):
        raise _bad(fn, name, "a finite number > 0" if positive else "a finite number", v)
    return float(v)


def point(fn: str, name: str, v, n: int = 2) -> np.ndarray:
    """At least ``n`` finite coordinates."""
    a = np.asarray(v, dtype=np.float64).reshape(-1) if np.ndim(v) else np.zeros(0)
    if len(a) < n or not np.all(np.isfinite(a[:n])):
        raise _bad(fn, name, f"a point of {n} finite coordinates", np.asarray(v).tolist())
    return a


def keys(fn: str, name: str, d, required) -> None:
    """``d`` is a dict holding every key of ``required``."""
    if not isinstance(d, dict):
        raise TypeError(f"{fn}: {name} must be a dict, got {type(d).__name__}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{fn}: {name} lacks the key(s) {missing}; expected {list(required)}")


MAX_PX = 4096
"""The largest image side a figure draws (upscale, image grids, animations): 10**5 px was a 28 GiB array."""


def px_size(fn: str, name: str, v) -> int:
    """An image size in pixels, 1..:data:`MAX_PX`."""
    return whole(fn, name, v, 1, MAX_PX, "pixels per image side; a larger image does not fit in memory")


def colour(fn: str, name: str, c) -> str:
    """One colour Plotly can draw ('#1f77b4', 'red', 'rgba(0,0,0,0.5)'), or one ValueError naming it (was:
    Plotly's ValueError with an empty first line and a page of colour names)."""
    import plotly.graph_objects as go
    if c is None:  # Plotly's next colour
        return c
    try:
        go.scatter.Line(color=c)
    except ValueError:
        raise ValueError(f"{fn}: {name} must be a colour such as '#1f77b4', 'red' or 'rgb(31,119,180)' (or None: "
                         f"Plotly's next colour), got {c!r:.60}") from None
    return c
