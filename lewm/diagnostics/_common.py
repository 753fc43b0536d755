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


def _kind(x) -> str:
    """How a value that is not numbers reads in a message: ``None``, ``str 'ab'``, ``list of object``."""
    if x is None:
        return "None"
    if isinstance(x, (str, bytes)):
        return f"{type(x).__name__} {x!r:.40}"
    dt = getattr(x, "dtype", None)
    return f"{type(x).__name__}{f' of {dt}' if dt is not None else ''}"


def _unmasked(x, what: str = "the input"):
    """``x``, or its data when ``x`` is a numpy masked array with nothing masked; masked entries are one
    ValueError: numpy hands their hidden values on as data (round 29: probes, collapse meters and Pearson r
    scored them without a word)."""
    if not np.ma.isMaskedArray(x):
        return x
    n = int(np.ma.count_masked(x))
    if n:
        raise ValueError(f"{what} is a masked array with {n} of {x.size} entries masked; their hidden values would "
                         f"be read as data: drop those rows first (or fill them: x.filled(value))")
    return np.ma.getdata(x)


def _holds_text(x) -> bool:
    """``x`` is text, or a numpy array holding text (numpy would parse '1.5' as a number)."""
    if isinstance(x, (str, bytes)):
        return True
    if not isinstance(x, np.ndarray):
        return False
    return x.dtype.kind in "US" or (x.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in x.flat))


def _np(x: ArrayLike, dtype=np.float32, what: str = "the input") -> np.ndarray:
    """``x`` as a numpy array of ``dtype``; None (was read as NaN without a word), complex values (the imaginary
    part dropped), masked entries and what numpy cannot read are one error naming ``what``."""
    x = _unmasked(x, what)
    if x is None:
        raise TypeError(f"{what} must be numbers (an array), got None")
    if isinstance(x, torch.Tensor):
        if x.is_complex() and not np.dtype(dtype).kind == "c":
            raise TypeError(f"{what} must be real numbers, got a tensor of {x.dtype}")
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:  # what bf16 autocast gives; numpy has no bfloat16 ("unsupported ScalarType")
            x = x.float()
        x = x.numpy()
    elif hasattr(x, "dtype") and np.iscomplexobj(x) and not np.dtype(dtype).kind == "c":
        raise TypeError(f"{what} must be real numbers, got {_kind(x)}")
    given = x  # for the messages
    if dtype is not None and np.dtype(dtype).kind in "biufc":  # numpy parses '1.5' as a number: refused (session 26)
        if not isinstance(x, (np.ndarray, str, bytes)):
            try:  # one conversion: the cast below reuses it
                x = np.asarray(x)
            except (TypeError, ValueError):  # ragged: the cast below explains it
                pass
        if _holds_text(x):
            raise ValueError(f"{what} must be numbers, got {_kind(given)}, which holds text; convert it first "
                             f"(np.asarray(x, float))")
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as e:  # the same class as numpy's, with the name
        raise type(e)(f"{what} must be numbers, got {_kind(given)} ({e})") from None


def _torch(x: ArrayLike, dtype=torch.float32, device=None, what: str = "the input") -> torch.Tensor:
    """``x`` as a detached tensor of ``dtype`` on ``device``; None / object arrays (torch's "can't convert
    np.ndarray of type numpy.object_"), complex values, masked entries and meta tensors are one error naming
    ``what``."""
    x = _unmasked(x, what)
    if isinstance(x, torch.Tensor):
        if x.is_complex() and not dtype.is_complex:  # the imaginary part was dropped with only a warning
            raise TypeError(f"{what} must be real numbers, got a tensor of {x.dtype}")
        if x.is_meta:
            raise ValueError(f"{what}: a tensor on the meta device holds no values (shapes only); move it to "
                             f"'cpu' or 'cuda' first")
        return x.detach().to(device=device, dtype=dtype)
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{what} must be numbers (an array or a tensor), got {_kind(x)}")
    try:
        a = np.asarray(x)
    except ValueError as e:  # a ragged list
        raise ValueError(f"{what} must be numbers of one shape, got {_kind(x)} ({e})") from None
    if a.dtype.kind not in "biuf" and not (a.dtype.kind == "c" and dtype.is_complex):
        raise TypeError(f"{what} must be real numbers (an array or a tensor), got {_kind(x)}"
                        f"{f' of {a.dtype}' if not hasattr(x, 'dtype') else ''}")
    return torch.as_tensor(a, dtype=dtype, device=device)


def _uint8_frames(x: ArrayLike, fn: str, name: str = "pixels") -> torch.Tensor:
    """Frames (N, S, S, 3) uint8 as a tensor (no copy for a contiguous array), or one error naming ``fn`` and
    ``name``: None / object arrays a TypeError (was torch's "can't convert np.ndarray of type numpy.object_"),
    another shape or a float / int dtype a ValueError (float frames in [0, 1] would be read as almost black, 300.0
    is no pixel value: the documented input is uint8, as the encoder takes it)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        if x is None or isinstance(x, (str, bytes)):
            raise TypeError(f"{fn}({name}=...) must be uint8 frames (N, S, S, 3), got {_kind(x)}")
        try:
            a = np.ascontiguousarray(x)
        except ValueError as e:
            raise ValueError(f"{fn}({name}=...) must be uint8 frames (N, S, S, 3) of one shape, got {_kind(x)} "
                             f"({e})") from None
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{fn}({name}=...) must be uint8 frames (N, S, S, 3), got {_kind(x)} of {a.dtype}")
        t = torch.from_numpy(a)
    if t.ndim != 4:  # one frame (S, S, 3) was a permute error inside torch
        raise ValueError(f"{name}: expected frames (N, S, S, 3), got shape {tuple(t.shape)} (one frame: {name}[None]; "
                         f"{fn})")
    if t.shape[-1] != 3:  # channels first was reported by the model as a transposed shape
        raise ValueError(f"{name}: expected frames (N, S, S, 3) with channels last, got shape {tuple(t.shape)} ({fn})")
    if t.dtype != torch.uint8:  # the model takes float input as already normalised: 0..1 frames would be wrong
        raise ValueError(f"{name}: expected uint8 frames (0..255), got {t.dtype} ({fn} takes uint8 frames); convert "
                         f"with (frames * 255).round().astype(np.uint8) if they are floats in [0, 1]")
    return t


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


def _as_2d(z: ArrayLike, who: str = "") -> np.ndarray:
    """(..., D) -> (n, D) float32; ``who``: the function, for the messages."""
    pre = f"{who}: " if who else ""
    z = _unmasked(z, f"{pre}latents z")
    try:
        a = _np(z)
    except (TypeError, ValueError) as e:  # was: numpy's "could not convert string to float: 'a'", unnamed
        raise ValueError(f"{pre}latents z must be numbers of shape (N, D) or (T, B, D), got {type(z).__name__} "
                         f"that is not ({e})") from None
    if a.ndim < 2:
        raise ValueError(f"{pre}latents must have shape (N, D) or (T, B, D), got {a.shape}")
    if a.shape[-1] < 1:  # was numpy's "cannot reshape array of size 0 into shape (0)"
        raise ValueError(f"{pre}latents need D >= 1 dimensions, got shape {a.shape}")
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
    if lo.shape != (2,) or hi.shape != (2,):  # [10] was an IndexError "index 1 is out of bounds"
        raise ValueError(f"lo/hi must give one value per grid dim (2: {', '.join(env.state_names[d] for d in dims)}), "
                         f"got shapes {lo.shape} and {hi.shape}")
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)  # (n,), (n,)
    X, Y = np.meshgrid(xs, ys)  # (n, n) rows = ys
    states = np.repeat(base[None], n * n, 0)  # (n*n, Q)
    states[:, dims[0]], states[:, dims[1]] = X.ravel(), Y.ravel()
    return dims, xs, ys, states


def check_episode(pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0, *, fn: str = "check_episode") -> None:
    """One ValueError naming the argument for an episode the instruments cannot read: ``pixels``
    (L, S, S, 3) at the model's image size, ``actions`` (L, A) with the model's action size, and
    0 <= ``start`` < L (a negative start is not counted from the end); ``cfg`` not a LeWMConfig is a TypeError
    naming ``fn`` (None was "'NoneType' object has no attribute 'model'")."""
    from .. import _api_checks as chk
    chk.config(fn, cfg)
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
