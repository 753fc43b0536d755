"""Live progress numbers: a bounded history of a long run, its recent rate and time left.

Pure helpers for anything that watches a job (the lab's job manager, a run's metrics file):
keep at most a few thousand points of a history (the newest dense), and turn (step, time)
records into steps per second and an ETA.

A leaf module (no imports from :mod:`lewm`: :mod:`lewm.runs` imports it, and :mod:`lewm.validate`
imports that one), so its argument checks are its own.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _whole(where: str, v, lo: int) -> int:
    """A whole number >= ``lo`` (numpy integers too), or one ValueError naming ``where``."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < lo:
        raise ValueError(f"{where} must be a whole number >= {lo}, got {v!r:.60}")
    return int(v)


def downsample_indices(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` (>= 2) of ``n`` items: the newest half kept dense, older ones
    thinned evenly (the first and last item are always kept)."""
    n = _whole("downsample_indices: n (the number of items)", n, 0)  # 10.5 gave float indices
    max_points = _whole("downsample_indices: max_points", max_points, 2)  # -3 was numpy's message
    if n <= max_points:
        return np.arange(n)
    recent = max_points // 2
    old = np.linspace(0, n - recent - 1, max_points - recent).round().astype(int)  # (max-recent,)
    return np.unique(np.concatenate([old, np.arange(n - recent, n)]))


def _number(where: str, v) -> float | None:
    """A real number as a float (NaN/inf kept: they mean "unknown"); None stays None; any other type is
    one TypeError naming ``where``."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{where} must be a number, got {v!r:.60}")
    return float(v)


def eta_seconds(done: int, total: int, rate_per_s: float) -> float | None:
    """Seconds left at ``rate_per_s`` items per second (None when unknown: any of the three None,
    NaN or infinite, or a rate <= 0)."""
    vals = [_number(f"eta_seconds: {n}", v) for n, v in (("done", done), ("total", total), ("rate_per_s", rate_per_s))]
    if any(v is None or not math.isfinite(v) for v in vals):  # a NaN total returned NaN
        return None
    done, total, rate = vals
    if rate <= 0:
        return None
    return max(total - done, 0) / rate


def recent_rate(steps: np.ndarray, times: np.ndarray, window: int = 50) -> float | None:
    """Steps per second over the last ``window`` (>= 2) records (times in seconds, increasing; one
    time per step; steps that never decrease: a count of work done)."""
    window = _whole("recent_rate: window", window, 2)  # 0 used every record ([-0:] is everything)
    steps, times = np.asarray(steps), np.asarray(times)
    for name, a in (("steps", steps), ("times", times)):  # text was numpy's "unsupported operand type(s) for -"
        if a.dtype.kind not in "iuf":
            raise TypeError(f"recent_rate: {name} must be numbers, got an array of {a.dtype} "
                            f"({', '.join(repr(v) for v in a.ravel()[:3].tolist())}{', ...' if a.size > 3 else ''})")
    if steps.ndim != 1 or times.ndim != 1 or len(steps) != len(times):  # mismatched lengths paired wrong records
        raise ValueError(f"recent_rate: steps and times must be 1-D and of one length (one time per step), got "
                         f"shapes {steps.shape} and {times.shape}")
    if len(steps) < 2:
        return None
    s, t = steps[-window:], times[-window:]
    back = np.flatnonzero(np.diff(s) < 0)
    if back.size:  # a negative rate was returned without a word
        i = len(steps) - len(s) + int(back[0]) + 1
        raise ValueError(f"recent_rate: steps must not decrease (a count of work done), got {s[back[0] + 1].item()!r} at "
                         f"index {i} after {s[back[0]].item()!r}")
    dt = float(t[-1] - t[0])
    return float(s[-1] - s[0]) / dt if dt > 0 else None
