"""Argument checks of :mod:`.probes`, :mod:`.grid_warp` and :mod:`.landscape` (round 18): one TypeError /
ValueError naming the function and the argument, raised at the entry, before scikit-learn, numpy's
allocator or the shared state grid (:func:`._common._state_grid`) see the value (was: "len() of unsized
object", an IndexError from the grid, numpy's MemoryError, sklearn's InvalidParameterError, ...)."""
from __future__ import annotations

import numbers as _nb
from collections.abc import MutableMapping

import numpy as np

from .._api_checks import whole
from ._common import _holds_text, _np, _unmasked, _whole

MAX_SPLIT_ROWS = 100_000_000
"""split_indices' most rows: its index arrays take about 24 bytes a row (10**12 was a 7 TiB MemoryError)."""
MAX_GRID_BYTES = 8 * 2**30
"""state_grid_warp / goal_cost_landscape: the most bytes of rendered grid frames (n*n renders of S*S*3)."""
MAX_MLP_WEIGHTS = 50_000_000
"""probe(kind='mlp')'s most weights (float64, with Adam's two moments: ~1.2 GB)."""


def _size(b: float) -> str:
    for unit, k in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if b >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} bytes"


def check_numbers(fn: str, name: str, value, what: str) -> np.ndarray:
    """``value`` (array-like or torch tensor) as float64, or one error naming ``fn(name=...)``: None or
    one string is a TypeError, strings / objects numpy cannot read as floats or complex numbers a
    ValueError / TypeError (was numpy's unnamed "could not convert string to float")."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}({name}=...) must be {what} numbers, got {value!r:.60}")
    value = _unmasked(value, f"{fn}({name}=...)")
    try:
        raw = _np(value, None)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{fn}({name}=...) must be {what} numbers, got {type(value).__name__} ({e})") from None
    if raw.dtype.kind == "c":
        raise TypeError(f"{fn}({name}=...) must be real numbers, got {raw.dtype}")
    if _holds_text(raw):  # numpy parses '1.5' as a number (session 26: refused as every diagnostic refuses it)
        raise ValueError(f"{fn}({name}=...) must be {what} numbers, got {type(value).__name__} of {raw.dtype}, which "
                         f"holds text; convert it first (np.asarray(x, float))")
    try:
        return np.asarray(raw, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}({name}=...) must be {what} numbers, got {np.asarray(raw).ravel()[:4].tolist()!r:.60}"
                         ) from None


def check_names(fn: str, value, count: int) -> tuple[str, ...]:
    """A list of ``count`` names (not one string split letter by letter: 'ab' gave names ('a', 'b'))."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{fn}(state_names=...) must be a list of names (one per state column), "
                        f"not {'one string' if isinstance(value, (str, bytes)) else type(value).__name__}: "
                        f"got {value!r:.60}")
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{fn}(state_names=...) must be strings, got {bad[0]!r:.60}")
    if len(value) != count:
        raise ValueError(f"{fn}: {len(value)} state_names for {count} state columns")
    return tuple(str(v) for v in value)


def check_fraction(fn: str, value) -> float:
    """A test fraction in (0, 1) (a string or None was numpy's "__round__" / float() error)."""
    if isinstance(value, bool) or not isinstance(value, _nb.Real):
        raise TypeError(f"{fn}(test_fraction=...) must be a number in (0, 1), got {value!r:.60}")
    if not 0.0 < float(value) < 1.0:  # 1.5 or 0 gave a split of one row without a word
        where = "test_fraction" if fn == "split_indices" else f"{fn}(test_fraction=...)"
        raise ValueError(f"{where} must be in (0, 1), got {value!r}")
    return float(value)


def check_rows(fn: str, n) -> int:
    """split_indices' row count: a whole number in 2..MAX_SPLIT_ROWS, refused before the permutation."""
    if isinstance(n, _nb.Integral) and not isinstance(n, bool) and n < 2:
        raise ValueError(f"{fn} needs at least 2 rows to hold one out, got {n}")  # one row: an empty test set
    n = whole(fn, "n", n, 2)
    if n > MAX_SPLIT_ROWS:
        raise ValueError(f"{fn}(n=...) must be <= {MAX_SPLIT_ROWS:_} rows (its index arrays would take about "
                         f"{_size(24.0 * n)}), got {n}")
    return n


def check_groups(fn: str, value, n: int) -> np.ndarray:
    """One group id (a number or a string: an episode id) per row, as an array np.unique can sort
    (None ids were numpy's "'<' not supported between 'NoneType'")."""
    g = _np(value, None)
    if g.ndim != 1 or len(g) != n:  # 5 groups for 10 rows split only those 5 rows, without a word
        raise ValueError(f"{fn}(groups=...) must give one group (e.g. episode id) per row: {n} "
                         f"rows, got groups of shape {g.shape}")
    if g.dtype.kind == "O":
        if all(isinstance(v, str) for v in g):
            g = g.astype(str)
        elif all(isinstance(v, _nb.Real) for v in g):
            g = g.astype(np.float64)
    bad = None  # what to show, as text
    if g.dtype.kind == "f" and not np.isfinite(g).all():
        bad = repr(g[~np.isfinite(g)][0])
    elif g.dtype.kind not in "biufUS":  # None ids, or numbers mixed with strings
        odd = [v for v in g if not isinstance(v, (str, _nb.Real))]
        bad = repr(odd[0])[:60] if odd else "a mix of numbers and strings"
    if bad is not None:
        raise ValueError(f"{fn}(groups=...) must be episode ids (finite numbers or strings, all of one kind), "
                         f"got {bad}")
    return g


def check_mlp(fn: str, hidden, max_iter, d: int, q: int) -> tuple[tuple[int, ...], int]:
    """The MLP probe's layer widths and iteration count (was sklearn's InvalidParameterError), with a
    weight-count bound (a width of 10**6 would allocate before a word)."""
    max_iter = whole(fn, "max_iter", max_iter, 1)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple, np.ndarray)):
        raise TypeError(f"{fn}(mlp_hidden=...) must be a tuple of layer widths (e.g. (128, 128)), got {hidden!r:.60}")
    widths = tuple(whole(fn, f"mlp_hidden[{i}]", h, 1) for i, h in enumerate(hidden))
    sizes = (d, *widths, q)
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if weights > MAX_MLP_WEIGHTS:
        raise ValueError(f"{fn}(mlp_hidden=...) {widths} gives {weights:_} weights for {d}-dim latents (about "
                         f"{_size(24.0 * weights)} with Adam's moments); at most {MAX_MLP_WEIGHTS:_}")
    return widths, max_iter


def check_env(fn: str, value, needs: tuple[str, ...]):
    """An environment of :mod:`lewm.envs` (or one with its methods): None was an AttributeError inside."""
    missing = [a for a in needs if not hasattr(value, a)]
    if missing:
        raise TypeError(f"{fn}(env=...) must be an environment (lewm.envs.make(...)), got {type(value).__name__}"
                        f"{'' if value is None else ' without ' + ', '.join(missing)}")
    return value


def check_state(fn: str, name: str, value, env_) -> np.ndarray:
    """A state of ``env_`` (Q,) (a (1, Q) row is fine), else one error naming ``name``."""
    q, labels = int(env_.state_dim), ", ".join(env_.state_names)
    a = check_numbers(fn, name, value, f"the env's {q} state ({labels})").reshape(-1)
    if a.size != q:
        raise ValueError(f"{fn}({name}=...) must have the env's {q} state components ({labels}), got {a.size}")
    return a


def check_grid(fn: str, env_, n, dims, lo, hi, base_state, *, n_what: str | None = None):
    """The grid arguments of state_grid_warp / goal_cost_landscape, checked before
    :func:`._common._state_grid` allocates: ``n`` (>= 3, and n*n renders within :data:`MAX_GRID_BYTES`),
    ``dims``, ``lo``/``hi`` (two finite values each, lo < hi: a grid of one point measured nothing),
    ``base_state`` (Q,). Returns (n, dims, lo, hi, base_state) for the grid."""
    n = _whole(n, n_what, 3) if n_what else whole(fn, "n", n, 3)
    s = int(getattr(env_, "image_size", 64))
    frame_bytes = float(n) * n * s * s * 3
    if frame_bytes > MAX_GRID_BYTES:
        n_max = int((MAX_GRID_BYTES / (s * s * 3)) ** 0.5)
        raise ValueError(f"{fn}(n=...) must be <= {n_max} at {s}x{s} pixels: {n}x{n} = {n * n:_} renders would take "
                         f"{_size(frame_bytes)} (twice that while stacked), got {n}")
    q, labels = int(env_.state_dim), ", ".join(env_.state_names)
    d = tuple(env_.landscape_dims) if dims is None else dims
    try:
        d = tuple(d)
    except TypeError:
        d = None
    if (d is None or len(d) != 2 or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                                            and 0 <= k < q for k in d) or d[0] == d[1]):
        raise ValueError(f"dims: expected two different state components in 0..{q - 1} ({labels}), got {dims!r}")
    bounds = getattr(env_, "state_bounds", None)
    axes = f"{env_.state_names[d[0]]}, {env_.state_names[d[1]]}"
    out = []
    for name, v, k in (("lo", lo, 0), ("hi", hi, 1)):
        if v is None:
            out.append(np.array([bounds[k][j] if bounds else (0.0, 224.0)[k] for j in d], np.float64))
            continue
        a = check_numbers(fn, name, v, "2 (one per grid dim)")
        if a.shape != (2,):
            raise ValueError(f"{fn}({name}=...) must give one value per grid dim (2: {axes}), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{fn}({name}=...) must be finite, got {a.tolist()}")
        out.append(a)
    if not (out[0] < out[1]).all():
        raise ValueError(f"{fn}(lo=..., hi=...) must have lo < hi in each grid dim ({axes}): a grid of one point "
                         f"has no shape to measure, got lo {out[0].tolist()} and hi {out[1].tolist()}")
    base = None if base_state is None else check_state(fn, "base_state", base_state, env_)
    return n, d, out[0], out[1], base


def check_cache(fn: str, value):
    if value is not None and not isinstance(value, MutableMapping):
        raise TypeError(f"{fn}(cache=...) must be a dict (shared between goals) or None, got {type(value).__name__}")
    return value
