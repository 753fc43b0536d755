"""A minimal Box space (the subset of ``gymnasium.spaces.Box`` the project uses), so the
environments do not depend on gymnasium."""
from __future__ import annotations

import numpy as np


def _bound(name: str, value, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """``low``/``high`` as an array of ``shape`` (a scalar broadcast), or one ValueError naming it (was numpy's
    "operands could not be broadcast together with remapped shapes")."""
    try:
        raw = np.asarray(value, dtype=np.float64 if dtype.kind == "f" else None)
    except (TypeError, ValueError):
        raise ValueError(f"Box: {name} must be numbers, got {value!r:.60}") from None
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"Box: {name} must be real numbers, got {raw.dtype} {value!r:.60}")
    if raw.size != 1 and raw.shape != shape:
        raise ValueError(f"Box: {name} has {raw.size} values (shape {raw.shape}) for shape {shape}; give one "
                         f"number or an array of shape {shape}")
    if np.isnan(raw.astype(np.float64)).any():
        raise ValueError(f"Box: {name} must not be NaN, got {raw.tolist()}")
    return np.broadcast_to(raw.astype(dtype), shape).copy()


class Box:
    """An axis-aligned box of ``shape`` and ``dtype`` between ``low`` and ``high`` (inclusive).

    ``low``/``high`` may be scalars (broadcast to ``shape``) or arrays of ``shape``; ``low <= high``.
    """

    def __init__(self, low, high, shape=None, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if shape is None:
            try:
                shape = np.broadcast(np.asarray(low), np.asarray(high)).shape
            except ValueError:
                raise ValueError(f"Box: low (shape {np.shape(low)}) and high (shape {np.shape(high)}) do not "
                                 f"match; give arrays of one shape, or shape=...") from None
        self.shape = tuple(int(s) for s in shape)
        self.low = _bound("low", low, self.dtype, self.shape)
        self.high = _bound("high", high, self.dtype, self.shape)
        if (self.low > self.high).any():  # was numpy's "high - low < 0" at the first sample
            i = int(np.flatnonzero((self.low > self.high).reshape(-1))[0])
            raise ValueError(f"Box: low must be <= high in every dimension, got low {self.low.reshape(-1)[i]:g} > "
                             f"high {self.high.reshape(-1)[i]:g} at index {i}")

    def sample(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Uniform sample (integers: uniform over ``[low, high]``); ``rng`` a numpy Generator or None."""
        if rng is not None and not isinstance(rng, np.random.Generator):  # was 'int' object has no attribute 'uniform'
            raise TypeError(f"Box.sample(rng=...) must be a numpy Generator (np.random.default_rng(seed)) or None, "
                            f"got {type(rng).__name__}")
        if self.dtype.kind == "f" and not (np.isfinite(self.low).all() and np.isfinite(self.high).all()):
            raise ValueError(f"Box.sample: cannot sample uniformly from an unbounded Box ({self!r}: low/high "
                             f"hold ±inf); sample from a bounded one")  # was numpy's "Range exceeds valid bounds"
        rng = np.random.default_rng() if rng is None else rng
        if self.dtype.kind in "ui":
            return rng.integers(self.low, self.high, endpoint=True, size=self.shape).astype(self.dtype)
        return rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def clip(self, x) -> np.ndarray:
        return np.clip(np.asarray(x, dtype=self.dtype), self.low, self.high)

    __contains__ = contains

    def __repr__(self) -> str:
        lo, hi = (float(self.low.min()), float(self.high.max())) if self.low.size else (0.0, 0.0)
        return f"Box({lo:g}, {hi:g}, {self.shape}, {self.dtype})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Box) and self.shape == other.shape and self.dtype == other.dtype
                and np.array_equal(self.low, other.low) and np.array_equal(self.high, other.high))
