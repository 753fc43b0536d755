"""Nearest frames: the dataset frame(s) closest to a latent by L2, a decoder-free way to see it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._common import ArrayLike, _torch


@dataclass
class NearestResult:
    indices: np.ndarray
    """(M, k) rows of the nearest stored latents, closest first."""
    distances: np.ndarray
    """(M, k) L2 distances."""
    frames: np.ndarray | None
    """(M, k, S, S, 3) the matching frames (None when no frames were stored)."""


class NearestFrames:
    """Nearest dataset frame(s) of a latent by L2 distance: a decoder-free way to 'see' a latent."""

    def __init__(self, latents: ArrayLike, frames: ArrayLike | None = None):
        self.latents = _torch(latents)  # (N, D)
        self.frames = None if frames is None else np.asarray(frames)  # (N, S, S, 3)
        if self.frames is not None and len(self.frames) != len(self.latents):
            raise ValueError(f"NearestFrames: {len(self.latents)} latents but {len(self.frames)} frames")

    def query(self, z: ArrayLike, k: int = 1) -> NearestResult:
        """z (M, D) or (D,) -> the k nearest stored frames of each."""
        q = _torch(z)
        q = q[None] if q.dim() == 1 else q  # (M, D)
        k = int(min(k, len(self.latents)))
        d = torch.cdist(q.double(), self.latents.double())  # (M, N)
        dist, idx = d.topk(k, dim=1, largest=False)  # (M, k)
        idx_np = idx.numpy()
        return NearestResult(indices=idx_np, distances=dist.float().numpy(),
                             frames=None if self.frames is None else self.frames[idx_np])
