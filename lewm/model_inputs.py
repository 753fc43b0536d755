"""What the world model's public operations accept (``LeWM.encode``, ``predict``, ``rollout``).

Each check turns a wrong input into one ValueError / TypeError naming the argument, what was found
and what is expected — not a convolution's channel error, "mat1 and mat2 shapes cannot be
multiplied" or "Input type (double) and bias type (float) should be the same" from deep inside torch.

The checks read shapes, dtypes and devices only (no device sync), so they cost nothing on the training
step; the exceptions: float pixels (that look like 0-255 values, or hold NaN/inf) read one number, and only
for float input (training and planning pass uint8 frames); ``predict`` / ``rollout`` refuse NaN/inf inputs
(one read for all, :func:`refuse_nonfinite`) unless called with ``check_finite=False``, as the training
loss does (and the planning cost should: one sync per call).
"""
from __future__ import annotations

import math
import sys

import torch

FLOAT_PIXELS_MAX = 10.0
"""ImageNet-normalised pixels lie in about [-2.2, 2.7]; a float frame above this holds raw 0-255 values."""


def _tensor(x, name: str, want: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):  # numpy: "'numpy.ndarray' object has no attribute 'new_zeros'"
        raise TypeError(f"{name}: expected a torch tensor {want}, got {type(x).__name__} "
                        f"(convert with torch.as_tensor)")
    return x


def _autocast_on(x: torch.Tensor) -> bool:
    try:
        return torch.is_autocast_enabled(x.device.type)
    except RuntimeError:  # a device type autocast does not know (meta)
        return False


def _floating(x: torch.Tensor, name: str, dtype: torch.dtype, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Whole numbers and float64 become ``dtype`` (the weights'); fp32 / bf16 / fp16 pass unchanged
    (autocast decides those), except when the model's ``weights`` are given and autocast is off: then they
    become ``dtype`` too (fp16 latents in an fp32 model were "mat1 and mat2 must have the same dtype");
    bool and complex are refused."""
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    if not x.is_floating_point() or x.dtype == torch.float64:
        return x.to(dtype)
    if weights is not None and x.dtype != dtype and not _autocast_on(x):
        return x.to(dtype)
    return x


def _on(x: torch.Tensor, name: str, weights: torch.Tensor | None) -> None:
    """``x`` is on the device of the model's ``weights`` (None: not checked, a duck-typed model)."""
    if weights is not None and x.device != weights.device:  # was "Tensor on device cpu is not on the expected device meta!"
        dev = weights.device
        raise ValueError(f"{name}: the tensor is on {x.device}, the model on {dev}; move it with "
                         f".to({str(dev)!r})" + (" (a meta tensor holds no values)" if x.is_meta else ""))


def _shape(x: torch.Tensor, name: str, want: str, dims: int, last: int | None, nonempty: tuple[int, ...]) -> None:
    if x.dim() != dims or (last is not None and x.shape[-1] != last):
        raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    for d in nonempty:
        if x.shape[d] < 1:
            raise ValueError(f"{name}: expected shape {want} with at least one entry in dimension {d}, "
                             f"got {tuple(x.shape)}")


def check_frames(pixels, image_size: int, lead: str = "B, T, ", dims: int | None = 5,
                 name: str = "pixels") -> torch.Tensor:
    """Frames (``lead``..., 3, S, S) of the model's size S, uint8 or float (``dims``: their number of
    dimensions; None: any >= 3) — shapes and dtypes only."""
    want = f"({lead}3, {image_size}, {image_size})"
    x = _tensor(pixels, name, want + " uint8")
    if dims is not None:
        _shape(x, name, want, dims, None, (0, 1))
    if x.dim() < 3 or x.shape[-3] != 3:  # channels last was a broadcast error against the ImageNet mean
        raise ValueError(f"{name}: expected shape {want} (channels first, RGB), got {tuple(x.shape)}")
    if tuple(x.shape[-2:]) != (image_size, image_size):
        raise ValueError(f"{name}: the model was trained on {image_size}x{image_size} frames, "
                         f"got {x.shape[-2]}x{x.shape[-1]}")
    if x.dtype != torch.uint8 and not x.is_floating_point():  # int64 / bool frames: a convolution's error
        raise TypeError(f"{name}: expected uint8 (0-255) or float (ImageNet-normalised) frames, got {x.dtype}")
    return x


def check_pixels(pixels, image_size: int, dtype: torch.dtype, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T, 3, S, S) frames: uint8 0-255, or float already ImageNet-normalised (the official
    checkpoints' convention), finite. Other whole-number types are refused (their scale is unknown).
    ``weights``: a tensor of the model (its device and dtype are the inputs', see ``_floating``)."""
    x = check_frames(pixels, image_size)
    _on(x, "pixels", weights)
    if x.dtype == torch.uint8:
        return x
    top = float(x.detach().abs().amax())  # NaN if any value is NaN: the one read covers both checks
    if not math.isfinite(top):  # NaN frames were encoded to NaN latents without a word
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"pixels: the frames hold {bad} NaN/inf values of {x.numel()} (shape {tuple(x.shape)}); "
                         f"frames must be finite")
    if top > FLOAT_PIXELS_MAX:  # 0-255 floats were encoded as garbage
        raise ValueError(f"pixels: float frames must be ImageNet-normalised (about -2.2..2.7), got values up to "
                         f"{top:.4g}; pass raw frames as uint8 instead")
    return _floating(x, "pixels", dtype, weights)


def check_latents(z, latent_dim: int, dtype: torch.dtype, name: str = "z",
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T, D) latents with D = the model's ``latent_dim``."""
    want = f"(B, T, {latent_dim})"
    x = _tensor(z, name, want)
    _shape(x, name, want, 3, latent_dim, (0, 1))
    _on(x, name, weights)
    return _floating(x, name, dtype, weights)


def check_action_blocks(a, block_dim: int, dtype: torch.dtype, name: str = "actions",
                        allow_empty_time: bool = False, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T, K) normalised action blocks, K = frameskip x action_dim."""
    want = f"(B, T, {block_dim}) (action blocks of frameskip x action_dim numbers)"
    x = _tensor(a, name, want)
    _shape(x, name, want, 3, block_dim, (0,) if allow_empty_time else (0, 1))
    _on(x, name, weights)
    return _floating(x, name, dtype, weights)


def refuse_nonfinite(fn: str, **tensors: torch.Tensor | None) -> None:
    """NaN/inf in any of ``tensors`` (None: absent) is one ValueError naming it, instead of NaN latents
    without a word. One device read for all; skipped while a CUDA graph is captured (nothing can be read
    back then)."""
    ts = [(k, t) for k, t in tensors.items() if t is not None and t.numel()]
    if not ts or (any(t.is_cuda for _, t in ts) and torch.cuda.is_current_stream_capturing()):
        return
    ok = torch.stack([torch.isfinite(t.detach()).all() for _, t in ts]).tolist()
    for (k, t), good in zip(ts, ok):
        if not good:
            bad = int((~torch.isfinite(t.detach())).sum())
            raise ValueError(f"{fn}({k}=...) holds {bad} NaN/inf values of {t.numel()} (shape {tuple(t.shape)}); "
                             f"inputs must be finite")


def check_model_config(fn: str, name: str, mc) -> None:
    """``build_model`` / ``parameter_count`` take a :class:`lewm.config.ModelConfig`."""
    from .config import ModelConfig
    if not isinstance(mc, ModelConfig):  # a LeWMConfig was "no attribute 'enc_dim'"
        hint = " (e.g. cfg.model)" if type(mc).__name__ == "LeWMConfig" else " (e.g. get_preset('cpu-tiny').model)"
        raise TypeError(f"{fn}({name}=...) must be a ModelConfig{hint}, got {type(mc).__name__}")


def flag(fn: str, name: str, value) -> bool:
    """True or False (a numpy bool counts), not "no": :func:`lewm._api_checks.flag`, which this module cannot
    import (an import cycle through lewm.validate and lewm.config, tests/test_structure.py)."""
    np = sys.modules.get("numpy")
    value = bool(value) if np is not None and isinstance(value, np.bool_) else value
    if not isinstance(value, bool):  # "no" was taken as True
        raise TypeError(f"{fn}({name}=...) must be True or False, got {value!r:.60}")
    return value


def check_rollout_flags(lean, check_finite) -> tuple[bool, bool]:
    """``rollout(lean=..., check_finite=...)``."""
    return flag("rollout", "lean", lean), flag("rollout", "check_finite", check_finite)


def check_context(z_hist: torch.Tensor, act_hist) -> None:
    """``act_hist`` is None only for a one-frame context (zero actions between frames were assumed)."""
    h0 = z_hist.shape[1]
    if act_hist is None and h0 > 1:
        raise ValueError(f"act_hist: {h0} context frames need {h0 - 1} action block(s) between them, got None "
                         f"(None only for a one-frame context)")


def check_train_rows(fn: str, name: str, shape, rows: int, bn) -> None:
    """In train mode a BatchNorm projector (``bn``, its plain ``nn.BatchNorm1d``) needs at least 2 rows (frames) per
    call: one row was torch's "Expected more than 1 value per channel when training". A global BatchNorm (data
    parallel: ``lewm.distributed``) counts the rows of every rank and is left to itself."""
    if rows == 1 and bn.training and type(bn) is torch.nn.BatchNorm1d:
        raise ValueError(f"{fn}: {name} of shape {tuple(shape)} gives B*T = 1 frame; in train mode the model's "
                         f"BatchNorm needs at least 2 frames per call: pass more frames, or call model.eval() first")
