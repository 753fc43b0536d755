"""Cheap latent-space statistics used while training (the diagnostics module builds on these)."""
from __future__ import annotations

import math
import numbers

import torch

from ._api_checks import flag


def _as_rows(z: torch.Tensor, centered: bool, who: str) -> torch.Tensor:
    """z (..., D) as float64 rows (n, D), or one error naming what is wrong: a 1-D tensor was one
    row of D values (rank 1.0), one latent a covariance of zeros, NaN a LinAlgError."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{who} expects a torch tensor of latents (..., D), got {type(z).__name__}")
    if z.is_complex():  # the imaginary part was dropped with only torch's warning (as lewm.sigreg refuses)
        raise TypeError(f"{who} expects real latents, got {z.dtype}")
    if z.is_meta:  # was "Tensor.item() cannot be called on meta tensors"
        raise ValueError(f"{who}: latents on the meta device hold no values (shapes only); move them to 'cpu' or "
                         f"'cuda' first")
    if z.dim() < 2 or z.shape[-1] < 1:
        raise ValueError(f"{who} expects latents of shape (N, D) or (..., D), got {tuple(z.shape)}")
    x = z.reshape(-1, z.shape[-1]).double()  # (n, D)
    if len(x) < (2 if centered else 1):
        raise ValueError(f"{who} needs at least 2 latents for a covariance (one has no spread), got {len(x)}")
    if not bool(torch.isfinite(x).all()):  # the eigensolver syncs anyway: no extra stall
        raise ValueError(f"{who}: the latents hold {int((~torch.isfinite(x)).sum())} NaN/inf values")
    return x


def covariance_spectrum(z: torch.Tensor, centered: bool = True) -> torch.Tensor:
    """Eigenvalues (descending) of the covariance of z (..., D) flattened to (n, D), n >= 2 finite rows.

    ``centered=False`` uses the raw second moment E[z zᵀ] instead, which keeps the mean: latents
    collapsed onto one point then have one dominant eigenvalue (one row is then enough)."""
    flag("covariance_spectrum", "centered", centered)  # 'no' was taken as True
    return _spectrum(z, centered, "covariance_spectrum")


def _spectrum(z: torch.Tensor, centered: bool, who: str) -> torch.Tensor:
    """covariance_spectrum, its errors naming ``who``."""
    x = _as_rows(z, centered, who)  # (n, D)
    if centered:
        x = x - x.mean(0, keepdim=True)
    cov = x.T @ x / max(x.shape[0] - 1, 1)  # (D, D)
    return torch.linalg.eigvalsh(cov).flip(0).clamp_min(0.0)  # (D,)


def effective_rank(z: torch.Tensor, eps: float = 1e-12, centered: bool = True) -> float:
    """Entropy effective rank exp(H(p)), p = normalised covariance eigenvalues (Roy & Vetterli).

    Isotropic data in D dims gives ≈ D; rank-1 data gives 1. The centred version is scale-free:
    latents that shrink to a point but keep isotropic jitter still score high. ``centered=False``
    (second-moment rank) exposes that collapse: all latents ≈ one vector c ⇒ ≈ 1. Latents that do
    not vary at all (zero spectrum) score 1.
    """
    flag("effective_rank", "centered", centered)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"effective_rank(eps=...) must be a number > 0, got {eps!r:.60}")
    if not (math.isfinite(eps) and eps > 0):  # -1 gave 2.06, NaN a NaN rank
        raise ValueError(f"effective_rank(eps=...) must be a finite number > 0, got {eps!r}")
    ev = _spectrum(z, centered, "effective_rank")
    total = ev.sum()
    if total <= eps:
        return 1.0
    p = ev / total
    h = -(p * torch.log(p.clamp_min(eps))).sum()
    return float(torch.exp(h))
