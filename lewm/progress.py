"""Live progress numbers: a bounded history of a long run, its recent rate and time left.

Pure helpers for anything that watches a job (the lab's job manager, a run's metrics file):
keep at most a few thousand points of a history (the newest dense), and turn (step, time)
records into steps per second and an ETA.
"""
from __future__ import annotations

import math

import numpy as np


def downsample_indices(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` items: the newest half kept dense, older ones
    thinned evenly (the first and last item are always kept)."""
    if n <= max_points:
        return np.arange(n)
    recent = max_points // 2
    old = np.linspace(0, n - recent - 1, max_points - recent).round().astype(int)  # (max-recent,)
    return np.unique(np.concatenate([old, np.arange(n - recent, n)]))


def eta_seconds(done: int, total: int, rate_per_s: float) -> float | None:
    """Seconds left at ``rate_per_s`` items per second (None when unknown)."""
    if rate_per_s is None or not math.isfinite(rate_per_s) or rate_per_s <= 0:
        return None
    return max(total - done, 0) / rate_per_s


def recent_rate(steps: np.ndarray, times: np.ndarray, window: int = 50) -> float | None:
    """Steps per second over the last ``window`` records (times in seconds, increasing)."""
    if len(steps) < 2:
        return None
    s, t = steps[-window:], times[-window:]
    dt = float(t[-1] - t[0])
    return float(s[-1] - s[0]) / dt if dt > 0 else None
