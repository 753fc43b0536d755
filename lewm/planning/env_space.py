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


# ------------------------------------------------------------------ arguments of the public functions
def check_state(env, state, name: str) -> np.ndarray:
    """``state`` as a float64 vector of the env's ``state_dim`` finite numbers, or one ValueError naming
    ``name``, what was given and what is expected (not a reshape error deep inside the renderer)."""
    q = int(env.state_dim)
    names = ", ".join(getattr(env, "state_names", ()) or ())
    want = f"{q} finite numbers" + (f" ({names})" if names else "")
    try:
        s = np.asarray(state, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {want}, got {state!r:.80}") from None
    if s.shape != (q,):
        raise ValueError(f"{name}: expected {want}, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name}: expected {want}, got {s.tolist()}")
    return s


def check_actions(actions, block_dim: int, name: str = "actions") -> np.ndarray:
    """Normalised action blocks as a float32 (P, K) array, P >= 1, finite; else one ValueError naming
    ``name`` (not a convolution's channel error)."""
    a = actions.detach().cpu() if hasattr(actions, "detach") else actions
    try:
        a = np.asarray(a, np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a (P, {block_dim}) array of action blocks, got {actions!r:.80}") from None
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] != block_dim:
        raise ValueError(f"{name}: expected a (P, {block_dim}) array of action blocks (P >= 1 blocks of "
                         f"frameskip x action_dim = {block_dim} numbers), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: holds NaN/inf")
    return a


def check_planner(pcfg, name: str = "pcfg"):
    """``pcfg`` must be a :class:`lewm.planning.PlannerConfig` (a dict or None fails later, cryptically)."""
    from .config import PlannerConfig
    if not isinstance(pcfg, PlannerConfig):
        raise ValueError(f"{name}: expected a lewm.planning.PlannerConfig (e.g. PlannerConfig(num_samples=300)), "
                         f"got {type(pcfg).__name__}")
    return pcfg
