"""Collapse meters: how many directions the embedding really uses, and how spread it is.

:func:`collapse_meters` reads the covariance spectrum of latents (effective rank, top-k variance,
components for 90%), their absolute spread and their mean pairwise cosine;
:func:`collapse_verdict` turns two of them into a yes/no with a one-line reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import covariance_spectrum, effective_rank
from ._common import ArrayLike, _as_2d, _whole


@dataclass
class CollapseMeters:
    """How many directions the embedding really uses, and how spread it is.

    The effective rank is scale-free: latents that collapsed towards one point but keep a tiny,
    spread-out jitter can still score a high rank. Read it together with ``mean_std`` (absolute
    spread) and ``mean_cosine`` (→ 1 when every latent points the same way).
    """

    spectrum: np.ndarray
    """(D,) eigenvalues of the latent covariance (= its singular values), descending."""
    effective_rank: float
    """exp(entropy of the normalised spectrum): ≈ D for isotropic latents, 1 for rank-1."""
    top1_fraction: float
    """Fraction of the total variance in the first principal component."""
    topk_fraction: float
    """Fraction of the total variance in the first ``k`` principal components."""
    k: int
    """The k of ``topk_fraction``."""
    components_90: int
    """Smallest number of principal components holding 90% of the variance."""
    mean_cosine: float
    """Mean cosine similarity over all pairs of distinct (uncentred) latents; → 1 under collapse."""
    total_variance: float
    """Trace of the covariance."""
    mean_std: float
    """Mean per-dimension standard deviation."""


def collapse_meters(z: ArrayLike, k: int = 5) -> CollapseMeters:
    """Collapse diagnostics of latents z (N, D) (or (..., D), flattened)."""
    x = _as_2d(z, "collapse_meters").astype(np.float64)  # (n, D)
    n, D = x.shape
    _whole(k, "collapse_meters: k (the top-k variance)")  # 0 and -1 were read as 1
    if n < 2:
        raise ValueError(f"collapse_meters needs at least 2 latents, got {n}")
    if not np.isfinite(x).all():  # was LinAlgError "failed to converge" from the eigensolver
        raise ValueError(f"collapse_meters: the latents hold NaN/inf ({int((~np.isfinite(x)).any(1).sum())} of {n} rows)")
    ev = covariance_spectrum(torch.from_numpy(x)).numpy()  # (D,) descending
    total = float(ev.sum())
    frac = ev / total if total > 0 else np.r_[1.0, np.zeros(D - 1)]  # (D,)
    cum = np.cumsum(frac)  # (D,)
    k = int(min(max(k, 1), D))
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # (n, D) unit rows
    s = u.sum(0)  # (D,)
    # sum_{i != j} <u_i, u_j> = |sum_i u_i|² - sum_i |u_i|²
    self_dots = float((u**2).sum())
    mean_cos = (float(s @ s) - self_dots) / (n * (n - 1))
    return CollapseMeters(spectrum=ev, effective_rank=effective_rank(torch.from_numpy(x)),
                          top1_fraction=float(frac[0]), topk_fraction=float(cum[k - 1]), k=k,
                          components_90=int(np.searchsorted(cum, 0.9 - 1e-12) + 1), mean_cosine=mean_cos,
                          total_variance=total, mean_std=float(x.std(0).mean()))


POINT_STD = 0.05
"""Below this mean per-dimension std (target 1) the latents have shrunk to a point."""
LINE_RANK = 1.5
"""Below this effective rank the latents lie on a line."""


def check_meters(who: str, mean_std, effective_rank, latent_dim, *,
                 inf_unknown: bool = False) -> tuple[float, float, int] | None:
    """The two meters and D as (std, rank, D), None when a meter is NaN (nothing measured yet: D may then be 0),
    or one ValueError: D not a whole number, D < 1, a negative or infinite std, a rank outside [0, D] (a std of -1
    read as "collapsed to a point", a rank of 100 "of 16" as spread out, D = 0 skipped the shape tests, an
    infinite rank and D = 'x' were read as "no data yet"). ``inf_unknown``: an infinite meter is None too (the
    health badge of a live view, whose diverged batch is "unknown", not an error on the page)."""
    try:
        s, r = float(mean_std), float(effective_rank)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: mean_std and effective_rank must be numbers, got {mean_std!r:.40} and "
                         f"{effective_rank!r:.40}") from None
    D = _whole(latent_dim, f"{who}: latent_dim (the latents' D)", lo=0)  # checked before the NaN short-cut
    if math.isnan(s) or math.isnan(r) or inf_unknown and not (math.isfinite(s) and math.isfinite(r)):
        return None
    D = _whole(D, f"{who}: latent_dim (the latents' D)")
    if not (math.isfinite(s) and s >= 0):
        raise ValueError(f"{who}: mean_std is a standard deviation (>= 0, finite), got {s:g}")
    if not 0 <= r <= D * (1 + 1e-6):
        raise ValueError(f"{who}: effective_rank must be in [0, latent_dim = {D}], got {r:g}")
    return s, r, D


def collapse_verdict(mean_std: float, effective_rank: float, latent_dim: int) -> tuple[bool, str]:
    """Is a batch of latents collapsed? ``(collapsed, one-line reason)``, from two of the meters.

    SIGReg's target N(0, I) has per-dimension std 1 and effective rank ≈ D. Collapse shows as the
    cloud shrinking to a point (std → 0, the prediction loss then goes to 0 for free) or folding
    onto very few directions (effective rank → 1).
    """
    checked = check_meters("collapse_verdict", mean_std, effective_rank, latent_dim)
    if checked is None:
        return False, "no data yet"
    mean_std, effective_rank, latent_dim = checked
    if mean_std < POINT_STD:
        return True, f"collapsed to a point: latent std {mean_std:.3f} (target 1)"
    if effective_rank < LINE_RANK:
        return True, f"collapsed to a line: effective rank {effective_rank:.2f} of {latent_dim}"
    return False, f"spread out: std {mean_std:.2f}, effective rank {effective_rank:.1f} of {latent_dim}"
