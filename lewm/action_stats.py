"""The action normalisation: per-dimension mean and std of a dataset's valid raw actions (:class:`ActionStats`),
computed in chunks from an episode file (NaN rows at episode ends skipped, NaN inside an episode refused), or read
from a checkpoint's config (:func:`action_stats_of`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._data_checks import action_columns, action_stats_arrays, episode_spans, whole_at_least as _whole

from .episode_file import DataError, h5_dataset, open_h5


@dataclass(frozen=True)
class ActionStats:
    mean: np.ndarray
    """(A,) per-dimension mean of the valid raw actions."""
    std: np.ndarray
    """(A,) per-dimension std (floored at 1e-6)."""

    def __post_init__(self):
        # was: std 0 z-scored every action to -inf/NaN, a wrong width a broadcast error at the first batch
        mean, std = action_stats_arrays(self.mean, self.std)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def normalize(self, a: np.ndarray) -> np.ndarray:
        action_columns("normalize", a, self.mean.size)
        return (a - self.mean) / self.std

    def denormalize(self, a):
        action_columns("denormalize", a, self.mean.size)
        if isinstance(a, torch.Tensor):
            return a * torch.as_tensor(self.std, dtype=a.dtype, device=a.device) + \
                torch.as_tensor(self.mean, dtype=a.dtype, device=a.device)
        return a * self.std + self.mean


def _episode_rows(n: int, ep_off: np.ndarray, ep_len: np.ndarray) -> np.ndarray:
    """(n,) bool: the rows that belong to an episode (a difference array: no loop over episodes)."""
    d = np.zeros(n + 1, dtype=np.int64)
    np.add.at(d, ep_off, 1)
    np.add.at(d, ep_off + ep_len, -1)
    return np.cumsum(d)[:n] > 0


def compute_action_stats(path: str, ep_len: np.ndarray, ep_off: np.ndarray, chunk: int = 1 << 20) -> tuple[ActionStats, int]:
    """Mean/std of valid actions, chunked. NaN rows at episode ends are skipped; NaN rows inside
    an episode raise DataError naming the row. Returns (stats, number of boundary NaN rows)."""
    stats, n_end, _ = _action_stats(path, ep_len, ep_off, chunk)
    return stats, n_end


def _action_stats(path: str, ep_len, ep_off, chunk: int) -> tuple[ActionStats, int, int]:
    """``compute_action_stats`` and, third, how many of the skipped episode-end rows are not the layout's own
    convention (an all-NaN last row, what ``collect`` writes): a last row with ±inf or only some NaN."""
    _whole("compute_action_stats", "chunk", chunk, 1)  # 0 was range()'s error, -5 read no row (std 1e-6)
    with open_h5(path) as f:
        act = h5_dataset(path, f, "action")
        n, A = act.shape
        ep_len, ep_off, problem = episode_spans(path, ep_len, ep_off, n)
        if problem:
            raise DataError(problem)
        last_rows = np.zeros(n, dtype=bool)
        last_rows[ep_off + ep_len - 1] = True
        in_ep = _episode_rows(n, ep_off, ep_len)  # rows of no episode are never read: not checked, not counted
        s, ss, cnt, boundary_nans, odd = np.zeros(A), np.zeros(A), 0, 0, 0
        for lo in range(0, n, chunk):
            a = np.asarray(act[lo:lo + chunk], dtype=np.float64)  # (c, A)
            used = in_ep[lo:lo + len(a)]
            bad = ~np.isfinite(a).all(axis=1) & used
            inner = bad & ~last_rows[lo:lo + len(a)]
            if inner.any():
                row = lo + int(np.flatnonzero(inner)[0])
                raise DataError(f"{path}: key 'action' has NaN/inf at row {row}, inside an episode "
                                f"(only the last row of an episode may be NaN)")
            boundary_nans += int(bad.sum())
            odd += int((bad & ~np.isnan(a).all(axis=1)).sum())  # not the convention's all-NaN row
            good = a[~bad & used]
            s += good.sum(0)
            ss += (good**2).sum(0)
            cnt += len(good)
    mean = s / max(cnt, 1)
    std = np.sqrt(np.maximum(ss / max(cnt, 1) - mean**2, 0.0))
    return ActionStats(mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)), boundary_nans, odd


def action_stats_of(cfg) -> ActionStats:
    """The action normalisation a checkpoint was trained with (from its ``LeWMConfig``)."""
    if not hasattr(getattr(cfg, "model", None), "action_dim"):  # None was AttributeError: no attribute 'model'
        raise TypeError(f"action_stats_of(cfg=...) must be a LeWMConfig (lewm.config.get_preset(...) or a "
                        f"checkpoint's), got {type(cfg).__name__}")
    A = cfg.model.action_dim
    mean = np.asarray(cfg.action_mean or [0.0] * A, dtype=np.float32)
    std = np.asarray(cfg.action_std or [1.0] * A, dtype=np.float32)
    return ActionStats(mean, std)
