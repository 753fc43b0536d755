"""Nearest frames: the dataset frame(s) closest to a latent by L2, a decoder-free way to see it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._common import ArrayLike, _finite, _torch, _whole


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
        self.latents = _torch(latents, what="NearestFrames(latents=...)")  # (N, D)
        if self.latents.dim() != 2 or len(self.latents) < 1:  # an empty set answered every query with nothing
            raise ValueError(f"NearestFrames needs stored latents of shape (N, D) with N >= 1, got "
                             f"{tuple(self.latents.shape)}")
        _finite(self.latents, "NearestFrames: the stored latents")  # NaN distances otherwise
        self.frames = None if frames is None else np.asarray(frames)  # (N, S, S, 3)
        if self.frames is not None and (self.frames.ndim != 4 or self.frames.dtype.kind not in "biuf"):
            raise ValueError(f"NearestFrames(frames=...) must be (N, S, S, 3) frames (or None), got "
                             f"{type(frames).__name__} of shape {self.frames.shape}")  # 7 was "len() of unsized object"
        if self.frames is not None and len(self.frames) != len(self.latents):
            raise ValueError(f"NearestFrames: {len(self.latents)} latents but {len(self.frames)} frames")

    def query(self, z: ArrayLike, k: int = 1) -> NearestResult:
        """z (M, D) or (D,) -> the k nearest stored frames of each (k >= 1; at most all N of them)."""
        _whole(k, "NearestFrames.query: k")  # 0 answered nothing
        q = _torch(z, what="NearestFrames.query(z=...)")
        given = tuple(q.shape)
        q = q[None] if q.dim() == 1 else q  # (M, D)
        D = self.latents.shape[1]
        if q.dim() != 2 or q.shape[1] != D:  # was torch.cdist's "X1 and X2 must have the same number of columns"
            raise ValueError(f"NearestFrames.query: z must be (M, {D}) or ({D},) like the stored latents, got "
                             f"{given}")
        _finite(q, "NearestFrames.query: z")
        k = int(min(k, len(self.latents)))
        d = torch.cdist(q.double(), self.latents.double())  # (M, N)
        dist, idx = d.topk(k, dim=1, largest=False)  # (M, k)
        idx_np = idx.numpy()
        return NearestResult(indices=idx_np, distances=dist.float().numpy(),
                             frames=None if self.frames is None else self.frames[idx_np])
