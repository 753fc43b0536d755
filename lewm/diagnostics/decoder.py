"""Seeing imagination: a small pixel decoder trained on detached latents.

:func:`train_decoder` fits a :class:`LatentDecoder` on (latent, frame) pairs (no gradient reaches
the world model); :func:`decode` turns latents, encoded or imagined, back into frames.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _api_checks as chk
from ._common import ArrayLike, _device_of, _eval_mode, _finite, _torch, _uint8_frames

MAX_DECODER_BYTES = 16 << 30
"""The most memory a decoder's training may take (weights, their gradients and Adam's two moments, plus one
batch's activations, float32): width=10**6 was an allocator error of 18 TB."""


def _upsampling_plan(image_size: int, min_base: int = 4) -> tuple[int, int]:
    """(number of 2x upsamplings, base side) with base * 2**n == image_size and base >= min_base
    when possible (224 -> 5 ups from 7; 64 -> 4 from 4); otherwise the nearest plan + a resize."""
    n = 0
    while image_size % (2 ** (n + 1)) == 0 and image_size // (2 ** (n + 1)) >= min_base:
        n += 1
    return n, image_size // (2**n)


class LatentDecoder(nn.Module):
    """Small conv decoder latent (N, D) -> image (N, 3, S, S) in [0, 1].

    Linear to a (C, b, b) grid, then n × [2× nearest upsample, 3×3 conv, GELU] (channels halve
    down to 8), then a 3×3 conv to RGB added to the logit of the training set's mean frame
    (so training starts from the mean image and learns what the latent changes), and a sigmoid.
    Latents are standardised with the training set's mean/std (stored as buffers).
    """

    def __init__(self, latent_dim: int, image_size: int, width: int = 64):
        super().__init__()
        self.latent_dim, self.image_size = latent_dim, image_size
        self.n_up, self.base = _upsampling_plan(image_size)
        self.width = width
        self.register_buffer("z_mean", torch.zeros(latent_dim))
        self.register_buffer("z_std", torch.ones(latent_dim))
        self.register_buffer("mean_logit", torch.zeros(3, image_size, image_size))
        self.fc = nn.Linear(latent_dim, width * self.base * self.base)
        layers, c = [], width
        for _ in range(self.n_up):
            c_out = max(c // 2, 8)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c_out, 3, padding=1), nn.GELU()]
            c = c_out
        self.up = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = (z - self.z_mean) / self.z_std  # (N, D)
        h = F.gelu(self.fc(x)).view(-1, self.width, self.base, self.base)  # (N, C, b, b)
        h = self.up(h)  # (N, c, b*2^n, b*2^n)
        if h.shape[-1] != self.image_size:
            h = F.interpolate(h, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.mean_logit + self.to_rgb(h))  # (N, 3, S, S)


def _decoder_bytes(latent_dim: int, image_size: int, width: int, batch: int) -> int:
    """About the memory :func:`train_decoder` takes (float32): 4 copies of the weights (them, their gradients,
    Adam's two moments) and 3 of one batch's activations (forward values, gradients, the upsampled copy)."""
    n_up, side = _upsampling_plan(image_size)
    params = latent_dim * width * side * side + width * side * side  # fc
    acts = width * side * side
    c = width
    for _ in range(n_up):
        c_out, side = max(c // 2, 8), side * 2
        params += c * c_out * 9 + c_out
        acts += (c + c_out) * side * side
        c = c_out
    params += c * 3 * 9 + 3
    acts += 3 * image_size * image_size
    return 4 * (4 * params + 3 * batch * acts)


def _train_args(latents, pixels, steps, batch_size, lr, width, seed, device, progress):
    """train_decoder's arguments, checked before anything is allocated: (z (N, D) on device, frames
    (N, S, S, 3) uint8 on device, device)."""
    fn = "train_decoder"
    for name, v, lo in (("steps", steps, 1), ("batch_size", batch_size, 1), ("width", width, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:  # steps=0 was an untrained decoder
            raise ValueError(f"train_decoder: {name} must be a whole number >= {lo}, got {v!r}")
    if not (isinstance(lr, (int, float, np.floating)) and not isinstance(lr, bool) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"train_decoder: lr must be a finite number > 0, got {lr!r}")
    chk.seed(fn, seed)  # None was torch's "int() argument must be ..."
    chk.flag(fn, "progress", progress)  # 'no' is truthy: a progress bar was shown
    device = chk.device(fn, device, "device")  # 'cuda' without CUDA was torch's AssertionError
    z = _torch(latents, what=f"{fn}(latents=...)")  # (N, D) detached copy, on the CPU until checked
    px = _uint8_frames(pixels, fn)  # (N, S, S, 3) uint8: float frames are refused
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"train_decoder: latents must be (N, D) with N >= 2 (their spread normalises them), got {tuple(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"train_decoder: the latents hold {int((~torch.isfinite(z)).sum())} NaN/inf values")
    if px.shape[1] != px.shape[2]:
        raise ValueError(f"train_decoder: frames must be (N, S, S, 3) uint8, got shape {tuple(px.shape)}")
    if len(z) != len(px):
        raise ValueError(f"train_decoder: {len(z)} latents but {len(px)} frames")
    need = _decoder_bytes(z.shape[1], px.shape[1], int(width), min(int(batch_size), len(z)))
    if need > MAX_DECODER_BYTES:
        raise ValueError(f"train_decoder(width=...) {width}: a decoder of {z.shape[1]}-dim latents to {px.shape[1]}x"
                         f"{px.shape[1]} frames (batch {min(int(batch_size), len(z))}) needs about {need / 2**30:.1f} "
                         f"GiB to train (more than {MAX_DECODER_BYTES >> 30} GiB); use a smaller width (default 64) "
                         f"or batch_size")
    return z.to(device), px.to(device), device


def train_decoder(latents: ArrayLike, pixels: ArrayLike, steps: int = 800, *, batch_size: int = 32,
                  lr: float = 2e-3, width: int = 64, seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool = False) -> LatentDecoder:
    """Train a :class:`LatentDecoder` on (latent (N, D), frame (N, S, S, 3) uint8) pairs (float frames are
    refused, as :func:`lewm.diagnostics.encode_frames` refuses them: convert [0, 1] floats to uint8 first).

    The latents are copied and detached first: no gradient ever reaches a world model. Plain MSE
    on [0, 1] pixels, Adam with a cosine schedule. The decoder's loss history is in ``.history``.
    """
    z, px, device = _train_args(latents, pixels, steps, batch_size, lr, width, seed, device, progress)
    steps, batch_size, width, seed = int(steps), int(batch_size), int(width), int(seed)
    torch.manual_seed(seed)
    dec = LatentDecoder(z.shape[1], px.shape[1], width).to(device)
    dec.z_mean.copy_(z.mean(0))
    dec.z_std.copy_(z.std(0).clamp_min(1e-6))
    mean_img = px.float().mean(0).permute(2, 0, 1) / 255.0  # (3, S, S)
    dec.mean_logit.copy_(torch.logit(mean_img.clamp(0.01, 0.99)))
    opt = torch.optim.Adam(dec.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=lr * 0.05)
    gen = torch.Generator().manual_seed(seed)
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="decoder", unit="step")
    dec.history = []
    dec.train()
    for _ in it:
        idx = torch.randint(len(z), (min(batch_size, len(z)),), generator=gen).to(device)  # (b,)
        target = px[idx].permute(0, 3, 1, 2).float() / 255.0  # (b, 3, S, S)
        loss = F.mse_loss(dec(z[idx]), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        dec.history.append(loss.item())
    return dec.eval()


def decode(decoder: LatentDecoder, z: ArrayLike, batch: int = 256) -> np.ndarray:
    """Latents (N, D) (or (D,)) -> uint8 frames (N, S, S, 3)."""
    if not isinstance(decoder, LatentDecoder):  # None was "'NoneType' object has no attribute 'parameters'"
        raise TypeError(f"decode(decoder=...) must be a LatentDecoder (from train_decoder), got {type(decoder).__name__}")
    batch = chk.whole("decode", "batch", batch, 1)  # -1 decoded 3 latents to no frames, 0 was range()'s error
    dev = _device_of(decoder)
    zt = _torch(z, device=dev, what="decode(z=...)")  # None was torch's "can't convert numpy.object_"
    given = tuple(zt.shape)
    if zt.dim() == 0:  # was an IndexError "tuple index out of range"
        raise ValueError(f"decode: latents must be (N, D) or (D,), got shape {given}")
    zt = zt[None] if zt.dim() == 1 else zt.reshape(-1, zt.shape[-1])  # (N, D)
    if zt.shape[-1] != decoder.latent_dim:  # was torch's "size of tensor a (17) must match ... (16)"
        raise ValueError(f"decode: the decoder was trained on {decoder.latent_dim}-dim latents, got latents of "
                         f"shape {given}")
    _finite(zt, "decode: the latents")  # NaN decoded to black frames without a word
    out = []
    with _eval_mode(decoder):
        for lo in range(0, len(zt), batch):
            img = decoder(zt[lo:lo + batch])  # (b, 3, S, S)
            out.append((img.permute(0, 2, 3, 1) * 255 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, decoder.image_size, decoder.image_size, 3), np.uint8)
