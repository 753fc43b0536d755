"""Between the environment and the model: frames to pixel tensors, the action box to bounds.

The model sees uint8 frames as (B, T, 3, S, S) tensors and actions as z-scored blocks of
``frameskip`` raw actions; the environment takes raw actions in its box [-1, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from .. import _api_checks as chk
from ..data import ActionStats


def action_bounds(stats: ActionStats, frameskip: int, low: float = -1.0, high: float = 1.0):
    """Normalised-space bounds (lo (K,), hi (K,)) of a block of ``frameskip`` raw actions in [low, high]."""
    if not isinstance(stats, ActionStats):  # was: AttributeError 'NoneType' / 'tuple' object has no attribute 'mean'
        raise TypeError(f"action_bounds(stats=...) must be an ActionStats (lewm.data.action_stats_of(cfg)), "
                        f"got {type(stats).__name__}")
    if isinstance(frameskip, bool) or not isinstance(frameskip, (int, np.integer)) or frameskip < 1:
        raise ValueError(f"frameskip must be a whole number >= 1, got {frameskip!r}")  # 0 gave empty bounds
    low, high = (chk.number("action_bounds", name, v, None, None) for name, v in (("low", low), ("high", high)))
    if low > high:  # was: lo > hi bounds, refused only later by the solver
        raise ValueError(f"action_bounds(low=..., high=...): low must be <= high, got low {low}, high {high}")
    lo = torch.as_tensor(np.tile((low - stats.mean) / stats.std, frameskip), dtype=torch.float32)  # (K,)
    hi = torch.as_tensor(np.tile((high - stats.mean) / stats.std, frameskip), dtype=torch.float32)  # (K,)
    return lo, hi


def to_pixels_tensor(frames: np.ndarray, device) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> (1, T, 3, S, S) on device."""
    if not (isinstance(device, torch.device) and device.type == "cpu"):  # 'cuda' without CUDA: torch's AssertionError
        device = chk.device("to_pixels_tensor", device, "device")
    a = frames if isinstance(frames, np.ndarray) else None
    if a is None or a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3 or a.shape[1] != a.shape[2] \
            or 0 in a.shape:  # was: torch's permute error (one frame (S, S, 3)), or float pixels used as is
        got = f"{a.dtype} array of shape {a.shape}" if a is not None else type(frames).__name__
        raise ValueError(f"to_pixels_tensor: frames must be a uint8 array (T, S, S, 3), got a {got}; "
                         f"one frame is frames[None]")
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)[None].to(device)


# ------------------------------------------------------------------ arguments of the public functions
def check_state(env, state, name: str, in_world: bool = False) -> np.ndarray:
    """``state`` as a float64 vector of the env's ``state_dim`` finite numbers, or one ValueError naming
    ``name``, what was given and what is expected (not a reshape error deep inside the renderer).
    ``in_world``: also a state the env can be in (``valid_states``; a plan from inside Two-Room's wall
    was drawn and planned without a word)."""
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
    if in_world and hasattr(env, "check_in_world"):  # the env's own test and words (lewm.envs.base.Env)
        env.check_in_world(s, name)
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


def check_plan_inputs(horizon: int, action_dim: int, init_mean, bounds, dtype=torch.float32):
    """The optional arguments of a solver, checked before the first candidate: ``init_mean`` a finite
    (horizon, action_dim) tensor (a numpy array is converted), ``bounds`` a pair (lo, hi) of numbers or
    (action_dim,) vectors, finite in ``dtype``, lo <= hi, ``dtype`` floating. Returns ``(init_mean, bounds)``,
    the bounds as float64 CPU tensors (1,) or (action_dim,).
    Before: lo > hi planned a constant sequence and NaN bounds or a NaN ``init_mean`` blamed "the model
    or the goal"; a wrong shape was a broadcast error, a numpy ``init_mean`` an AttributeError."""
    P, K = horizon, action_dim
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype (torch.float32), got {dtype}")
    for name, v in (("init_mean", init_mean), *((("bounds lo", bounds[0]), ("bounds hi", bounds[1]))
                                                if isinstance(bounds, (tuple, list)) and len(bounds) == 2 else ())):
        if np.ma.is_masked(v):  # the hidden values were planned with (round 29)
            raise ValueError(f"{name}: a masked array with {int(np.ma.count_masked(v))} masked value(s) (a masked "
                             f"value has no number); pass plain numbers")
    if init_mean is not None:
        if isinstance(init_mean, np.ndarray):
            init_mean = torch.from_numpy(np.asarray(init_mean, np.float32))
        if not isinstance(init_mean, torch.Tensor) or tuple(init_mean.shape) != (P, K):
            got = f"shape {tuple(init_mean.shape)}" if hasattr(init_mean, "shape") else type(init_mean).__name__
            raise ValueError(f"init_mean: expected a ({P}, {K}) tensor (horizon x action block), got {got}")
        if not bool(torch.isfinite(init_mean).all()):
            raise ValueError("init_mean: holds NaN/inf; pass finite action blocks (or None: start from zeros)")
    if bounds is not None:
        try:
            lo, hi = (torch.as_tensor(b, dtype=torch.float64).detach().cpu() for b in bounds)  # 1e40: not float32 inf
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"bounds: expected a pair (lo, hi) of numbers or ({K},) vectors, got {bounds!r:.80}") from None
        if lo.numel() not in (1, K) or hi.numel() not in (1, K) or lo.ndim > 1 or hi.ndim > 1:
            # a (2, 1) pair passed here once flattened, then failed in torch's expand (round 17)
            raise ValueError(f"bounds: lo and hi must be one number or {K} numbers each (a number or a ({K},) vector), "
                             f"got shapes {tuple(lo.shape)} and {tuple(hi.shape)}")
        lo, hi = lo.reshape(-1), hi.reshape(-1)
        if not (bool(torch.isfinite(lo).all()) and bool(torch.isfinite(hi).all())):
            raise ValueError(f"bounds: must be finite, got lo {lo.tolist()}, hi {hi.tolist()}")
        for name, b in (("lo", lo), ("hi", hi)):  # finite in float64, inf in the planning dtype (1e300 in float32)
            if not bool(torch.isfinite(b.to(dtype)).all()):
                big = float(b[~torch.isfinite(b.to(dtype))][0])
                raise ValueError(f"bounds: {name} {big:g} overflows {str(dtype).replace('torch.', '')} (the planning "
                                 f"dtype, largest {torch.finfo(dtype).max:g}); give bounds within its range")
        if bool((lo > hi).any()):
            raise ValueError(f"bounds: lo must be <= hi in every dimension, got lo {lo.tolist()}, hi {hi.tolist()}")
        bounds = (lo, hi)  # checked: float64 on the CPU, one number or (K,); the solver moves them to its device
    return init_mean, bounds
