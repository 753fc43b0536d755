"""A minimal Box space (the subset of ``gymnasium.spaces.Box`` the project uses), so the
environments do not depend on gymnasium."""
from __future__ import annotations

import numpy as np


class Box:
    """An axis-aligned box of ``shape`` and ``dtype`` between ``low`` and ``high`` (inclusive).

    ``low``/``high`` may be scalars (broadcast to ``shape``) or arrays of ``shape``.
    """

    def __init__(self, low, high, shape=None, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if shape is None:
            shape = np.broadcast(np.asarray(low), np.asarray(high)).shape
        self.shape = tuple(int(s) for s in shape)
        self.low = np.broadcast_to(np.asarray(low, dtype=self.dtype), self.shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=self.dtype), self.shape).copy()

    def sample(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Uniform sample (integers: uniform over ``[low, high]``)."""
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
