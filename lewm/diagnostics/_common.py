"""Helpers shared by the diagnostics modules: array/tensor conversion, eval mode, the state grid.

Nothing here measures anything; each instrument lives in its own module of :mod:`lewm.diagnostics`.
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn


ArrayLike = Any  # np.ndarray | torch.Tensor


def _np(x: ArrayLike, dtype=np.float32) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:  # what bf16 autocast gives; numpy has no bfloat16 ("unsupported ScalarType")
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _torch(x: ArrayLike, dtype=torch.float32, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode (BatchNorm running stats, no dropout) and no grad; restores the mode after."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was)


def _as_2d(z: ArrayLike) -> np.ndarray:
    """(..., D) -> (n, D) float32."""
    try:
        a = _np(z)
    except (TypeError, ValueError) as e:  # was: numpy's "could not convert string to float: 'a'", unnamed
        raise ValueError(f"latents z must be numbers of shape (N, D) or (T, B, D), got {type(z).__name__} that "
                         f"numpy cannot read as floats ({e})") from None
    if a.ndim < 2:
        raise ValueError(f"latents must have shape (N, D) or (T, B, D), got {a.shape}")
    return a.reshape(-1, a.shape[-1])


def _whole(v, what: str, lo: int = 1, hi: int | None = None, why: str = "") -> int:
    """``v`` as an int >= ``lo``, or one ValueError "``what`` must be a whole number >= lo" (0 answered
    an empty result, 2.5 was truncated, True counted as 1, numpy/Python errors came from deeper);
    ``hi``: also <= hi (``why`` says why, e.g. the memory it would take: 10**9 was a MemoryError)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{what} must be a whole number >= {lo}, got {v!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{what} must be <= {hi:_}{f' ({why})' if why else ''}, got {v!r}")
    return int(v)


def _finite(a: np.ndarray | torch.Tensor, what: str) -> np.ndarray | torch.Tensor:
    """``a`` (an array or a tensor) unchanged, or one ValueError naming ``what`` when it holds NaN/inf
    (scikit-learn's "Input X contains NaN ... HistGradientBoosting" paragraph, or a result of NaN
    without a word)."""
    bad = ~torch.isfinite(a) if isinstance(a, torch.Tensor) else ~np.isfinite(a)
    if bool(bad.any()):
        rows = int(bad.reshape(len(a), -1).any(1).sum()) if a.ndim > 1 else int(bad.sum())
        raise ValueError(f"{what} hold NaN/inf ({rows} of {len(a)} rows); pass finite values")
    return a


def _state_grid(env, n: int, dims, lo, hi, base_state) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
    """An n×n grid over state components ``dims`` (default ``env.landscape_dims``) between ``lo``
    and ``hi`` (default ``env.state_bounds``, else 0..224), other components from ``base_state``:
    (dims, xs (n,), ys (n,), states (n*n, Q) row-major with rows = ys)."""
    dims = tuple(env.landscape_dims if dims is None else dims)
    q = int(env.state_dim)
    if len(dims) != 2 or not all(isinstance(d, (int, np.integer)) and 0 <= d < q for d in dims) or dims[0] == dims[1]:
        raise ValueError(f"dims: expected two different state components in 0..{q - 1} "
                         f"({', '.join(env.state_names)}), got {dims!r}")
    base = np.asarray(base_state, np.float64).reshape(-1)  # (Q,)
    bounds = env.state_bounds
    lo = np.asarray(lo if lo is not None else [bounds[0][d] if bounds else 0.0 for d in dims], np.float64)
    hi = np.asarray(hi if hi is not None else [bounds[1][d] if bounds else 224.0 for d in dims], np.float64)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)  # (n,), (n,)
    X, Y = np.meshgrid(xs, ys)  # (n, n) rows = ys
    states = np.repeat(base[None], n * n, 0)  # (n*n, Q)
    states[:, dims[0]], states[:, dims[1]] = X.ravel(), Y.ravel()
    return dims, xs, ys, states


def check_episode(pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0) -> None:
    """One ValueError naming the argument for an episode the instruments cannot read: ``pixels``
    (L, S, S, 3) at the model's image size, ``actions`` (L, A) with the model's action size, and
    0 <= ``start`` < L (a negative start is not counted from the end)."""
    shape = tuple(np.shape(pixels))
    S = cfg.model.image_size
    if len(shape) != 4 or shape[1:] != (S, S, 3):
        raise ValueError(f"pixels must have shape (L, {S}, {S}, 3) for this model, got {shape}")
    a = tuple(np.shape(actions))
    if len(a) != 2 or a[1] != cfg.model.action_dim or a[0] < shape[0] - 1:
        raise ValueError(f"actions must have shape ({shape[0]}, {cfg.model.action_dim}) for these "
                         f"{shape[0]} frames, got {a}")
    act = np.asarray(actions.detach().cpu() if hasattr(actions, "detach") else actions, np.float64)
    if not np.isfinite(act[: shape[0] - 1]).all():  # the last row may be NaN (the file layout's convention)
        row = int(np.flatnonzero(~np.isfinite(act[: shape[0] - 1]).all(1))[0])
        raise ValueError(f"actions hold NaN/inf at row {row} (only the last row of an episode may): the "
                         f"predicted latents and the surprise would be NaN")
    if not isinstance(start, (int, np.integer)) or not 0 <= int(start) < shape[0]:
        raise ValueError(f"start must be a frame index in 0..{shape[0] - 1}, got {start!r}")
