"""What the world model's public operations accept (``LeWM.encode``, ``predict``, ``rollout``).

Each check turns a wrong input into one ValueError / TypeError naming the argument, what was found
and what is expected — not a convolution's channel error, "mat1 and mat2 shapes cannot be
multiplied" or "Input type (double) and bias type (float) should be the same" from deep inside torch.

The checks read shapes and dtypes only (no device sync), so they cost nothing on the training step;
the one exception, float pixels that look like 0-255 values, reads one number, and only for float
input (training and planning pass uint8 frames).
"""
from __future__ import annotations

import torch

FLOAT_PIXELS_MAX = 10.0
"""ImageNet-normalised pixels lie in about [-2.2, 2.7]; a float frame above this holds raw 0-255 values."""


def _tensor(x, name: str, want: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):  # numpy: "'numpy.ndarray' object has no attribute 'new_zeros'"
        raise TypeError(f"{name}: expected a torch tensor {want}, got {type(x).__name__} "
                        f"(convert with torch.as_tensor)")
    return x


def _floating(x: torch.Tensor, name: str, dtype: torch.dtype) -> torch.Tensor:
    """Whole numbers and float64 become ``dtype`` (the weights'); fp32 / bf16 / fp16 pass unchanged
    (autocast decides those); bool and complex are refused."""
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    if not x.is_floating_point() or x.dtype == torch.float64:
        return x.to(dtype)
    return x


def _shape(x: torch.Tensor, name: str, want: str, dims: int, last: int | None, nonempty: tuple[int, ...]) -> None:
    if x.dim() != dims or (last is not None and x.shape[-1] != last):
        raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    for d in nonempty:
        if x.shape[d] < 1:
            raise ValueError(f"{name}: expected shape {want} with at least one entry in dimension {d}, "
                             f"got {tuple(x.shape)}")


def check_pixels(pixels, image_size: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, T, 3, S, S) frames: uint8 0-255, or float already ImageNet-normalised (the official
    checkpoints' convention). Other whole-number types are refused (their scale is unknown)."""
    want = f"(B, T, 3, {image_size}, {image_size})"
    x = _tensor(pixels, "pixels", want + " uint8")
    _shape(x, "pixels", want, 5, None, (0, 1))
    if x.shape[2] != 3:
        raise ValueError(f"pixels: expected shape {want} (channels first, RGB), got {tuple(x.shape)}")
    if tuple(x.shape[3:]) != (image_size, image_size):
        raise ValueError(f"pixels: the model was trained on {image_size}x{image_size} frames, "
                         f"got {x.shape[3]}x{x.shape[4]}")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():  # int64 / bool frames: a RuntimeError from the convolution
        raise TypeError(f"pixels: expected uint8 (0-255) or float (ImageNet-normalised) frames, got {x.dtype}")
    top = float(x.detach().abs().amax())
    if top > FLOAT_PIXELS_MAX:  # 0-255 floats were encoded as garbage
        raise ValueError(f"pixels: float frames must be ImageNet-normalised (about -2.2..2.7), got values up to "
                         f"{top:.4g}; pass raw frames as uint8 instead")
    return _floating(x, "pixels", dtype)


def check_latents(z, latent_dim: int, dtype: torch.dtype, name: str = "z") -> torch.Tensor:
    """(B, T, D) latents with D = the model's ``latent_dim``."""
    want = f"(B, T, {latent_dim})"
    x = _tensor(z, name, want)
    _shape(x, name, want, 3, latent_dim, (0, 1))
    return _floating(x, name, dtype)


def check_action_blocks(a, block_dim: int, dtype: torch.dtype, name: str = "actions",
                        allow_empty_time: bool = False) -> torch.Tensor:
    """(B, T, K) normalised action blocks, K = frameskip x action_dim."""
    want = f"(B, T, {block_dim}) (action blocks of frameskip x action_dim numbers)"
    x = _tensor(a, name, want)
    _shape(x, name, want, 3, block_dim, (0,) if allow_empty_time else (0, 1))
    return _floating(x, name, dtype)
