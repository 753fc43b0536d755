"""What SIGReg sees: random 1-D projections of the latents against N(0, 1).

:func:`sigreg_view` projects latents on a few random unit directions (the same directions and
quadrature as the training loss) and returns histograms of each projection next to the standard
normal density, with each projection's Epps–Pulley statistic: a Gaussian-looking embedding is what
SIGReg pushes towards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..sigreg import sigreg_stats
from ._common import ArrayLike, _as_2d, _finite, _torch


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density (:data:`scipy.stats.norm`)."""
    from scipy.stats import norm
    try:
        a = np.asarray(x, np.float64)
    except (TypeError, ValueError):  # 'a' was numpy's UFuncTypeError
        raise TypeError(f"normal_pdf: x must be numbers, got {type(x).__name__} {str(x)[:40]!r}") from None
    return norm.pdf(a)


@dataclass
class SIGRegView:
    """Histogram-ready view of the random projections SIGReg tests against N(0, 1)."""

    value: float
    """SIGReg value (mean Epps–Pulley statistic over the K projections and the T steps)."""
    statistic: np.ndarray
    """(K,) Epps–Pulley statistic of each projection (mean over time steps)."""
    projections: np.ndarray
    """(T*B, K) the projected 1-D samples (time steps stacked)."""
    directions: np.ndarray
    """(D, K) unit directions."""
    bin_edges: np.ndarray
    """(nbins+1,) common histogram bin edges."""
    histograms: np.ndarray
    """(K, nbins) density-normalised histogram of each projection (area 1 inside the range)."""
    grid: np.ndarray
    """(G,) x values for the reference curve."""
    reference_pdf: np.ndarray
    """(G,) N(0, 1) density on ``grid``."""
    dim_mean: np.ndarray
    """(D,) per-dimension mean of the latents."""
    dim_std: np.ndarray
    """(D,) per-dimension standard deviation of the latents."""


def sigreg_view(z: ArrayLike, num_dirs: int = 8, *, seed: int = 0,
                generator: torch.Generator | None = None, knots: int = 17, t_max: float = 3.0,
                bins: int = 40, x_range: float = 4.0, grid_points: int = 201) -> SIGRegView:
    """Project latents z (B, D) or (T, B, D) on ``num_dirs`` random unit directions.

    The statistics come from :func:`lewm.sigreg.sigreg_stats` (same directions, same quadrature
    as the training loss). ``generator`` (CPU) wins over ``seed``.
    """
    if not isinstance(num_dirs, (int, np.integer)) or num_dirs < 1:
        raise ValueError(f"num_dirs must be a whole number >= 1, got {num_dirs!r}")
    zt = _torch(z)  # (B, D) or (T, B, D)
    if zt.dim() not in (2, 3):
        raise ValueError(f"sigreg_view expects (B, D) or (T, B, D) latents, got {tuple(zt.shape)}")
    if not bool(torch.isfinite(zt).all()):  # a value and histograms of NaN without a word
        _finite(zt.reshape(-1, zt.shape[-1]).numpy(), "sigreg_view: the latents")
    gen = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    st = sigreg_stats(zt, num_proj=num_dirs, knots=knots, t_max=t_max, generator=gen)
    proj = st.projections.reshape(-1, num_dirs).numpy()  # (T*B, K)
    edges = np.linspace(-x_range, x_range, bins + 1)  # (nbins+1,)
    hist = np.stack([np.histogram(proj[:, k], bins=edges, density=False)[0] for k in range(num_dirs)])  # (K, nbins)
    width = edges[1] - edges[0]
    hist = hist / np.maximum(hist.sum(1, keepdims=True), 1) / width  # (K, nbins) density
    grid = np.linspace(-x_range, x_range, grid_points)  # (G,)
    flat = _as_2d(z)  # (T*B, D)
    return SIGRegView(value=float(st.value), statistic=st.statistic.mean(0).numpy(), projections=proj,
                      directions=st.directions.numpy(), bin_edges=edges, histograms=hist, grid=grid,
                      reference_pdf=normal_pdf(grid), dim_mean=flat.mean(0), dim_std=flat.std(0))
