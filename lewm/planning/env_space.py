"""Between the environment and the model: frames to pixel tensors, the action box to bounds.

The model sees uint8 frames as (B, T, 3, S, S) tensors and actions as z-scored blocks of
``frameskip`` raw actions; the environment takes raw actions in its box [-1, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from ..data import ActionStats


def action_bounds(stats: ActionStats, frameskip: int, low: float = -1.0, high: float = 1.0):
    """Normalised-space bounds (lo (K,), hi (K,)) of a block of ``frameskip`` raw actions in [low, high]."""
    lo = torch.as_tensor(np.tile((low - stats.mean) / stats.std, frameskip), dtype=torch.float32)  # (K,)
    hi = torch.as_tensor(np.tile((high - stats.mean) / stats.std, frameskip), dtype=torch.float32)  # (K,)
    return lo, hi


def to_pixels_tensor(frames: np.ndarray, device) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> (1, T, 3, S, S) on device."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)[None].to(device)
