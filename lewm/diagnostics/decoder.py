"""Seeing imagination: a small pixel decoder trained on detached latents.

:func:`train_decoder` fits a :class:`LatentDecoder` on (latent, frame) pairs (no gradient reaches
the world model); :func:`decode` turns latents, encoded or imagined, back into frames.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._common import ArrayLike, _device_of, _eval_mode, _torch


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


def train_decoder(latents: ArrayLike, pixels: ArrayLike, steps: int = 800, *, batch_size: int = 32,
                  lr: float = 2e-3, width: int = 64, seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool = False) -> LatentDecoder:
    """Train a :class:`LatentDecoder` on (latent (N, D), frame (N, S, S, 3) uint8) pairs.

    The latents are copied and detached first: no gradient ever reaches a world model. Plain MSE
    on [0, 1] pixels, Adam with a cosine schedule. The decoder's loss history is in ``.history``.
    """
    for name, v, lo in (("steps", steps, 1), ("batch_size", batch_size, 1), ("width", width, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:  # steps=0 was an untrained decoder
            raise ValueError(f"train_decoder: {name} must be a whole number >= {lo}, got {v!r}")
    if not (isinstance(lr, (int, float, np.floating)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"train_decoder: lr must be a finite number > 0, got {lr!r}")
    z = _torch(latents, device=device)  # (N, D) detached copy
    px = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(pixels))
    px = px.to(device)  # (N, S, S, 3) uint8
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"train_decoder: latents must be (N, D) with N >= 2 (their spread normalises them), got {tuple(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"train_decoder: the latents hold {int((~torch.isfinite(z)).sum())} NaN/inf values")
    if px.dim() != 4 or px.shape[-1] != 3 or px.shape[1] != px.shape[2]:
        raise ValueError(f"train_decoder: frames must be (N, S, S, 3) uint8, got shape {tuple(px.shape)}")
    if len(z) != len(px):
        raise ValueError(f"train_decoder: {len(z)} latents but {len(px)} frames")
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
    dev = _device_of(decoder)
    zt = _torch(z, device=dev)
    given = tuple(zt.shape)
    zt = zt[None] if zt.dim() == 1 else zt.reshape(-1, zt.shape[-1])  # (N, D)
    if zt.shape[-1] != decoder.latent_dim:  # was torch's "size of tensor a (17) must match ... (16)"
        raise ValueError(f"decode: the decoder was trained on {decoder.latent_dim}-dim latents, got latents of "
                         f"shape {given}")
    out = []
    with _eval_mode(decoder):
        for lo in range(0, len(zt), batch):
            img = decoder(zt[lo:lo + batch])  # (b, 3, S, S)
            out.append((img.permute(0, 2, 3, 1) * 255 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, decoder.image_size, decoder.image_size, 3), np.uint8)
