"""What SIGReg sees: random 1-D projections of the latents against N(0, 1).

:func:`sigreg_view` projects latents on a few random unit directions (the same directions and
quadrature as the training loss) and returns histograms of each projection next to the standard
normal density, with each projection's Epps–Pulley statistic: a Gaussian-looking embedding is what
SIGReg pushes towards.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..sigreg import sigreg_stats
from ._common import ArrayLike, _as_2d, _finite, _torch, _whole


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density (:data:`scipy.stats.norm`)."""
    from scipy.stats import norm
    try:
        raw = np.asarray(x)
        if raw.dtype.kind not in "biufO" or raw.dtype.kind == "O" and any(v is None for v in raw.flat):
            raise TypeError  # None was NaN without a word
        a = np.asarray(raw, np.float64)
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


MAX_DIRS = 65_536
"""sigreg_view's most directions (a view shows a few; the loss's num_proj is capped at 2**20)."""
MAX_VIEW_BYTES = 8 << 30
"""The most memory sigreg_view's Epps-Pulley pass may take (latents x directions x knots floats)."""


def _view_args(num_dirs, generator, bins, x_range, grid_points) -> tuple[int, int, int]:
    """sigreg_view's arguments, before any work (was: numpy's generator an AttributeError 'device', bins=0 an
    IndexError, x_range=-4 numpy's "bins must increase monotonically", num_dirs=10**7 a 34 GB allocation)."""
    from .. import _api_checks as chk
    fn = "sigreg_view"
    num_dirs = _whole(num_dirs, "num_dirs", hi=MAX_DIRS, why="sigreg_view shows a few random directions")
    if generator is not None and not isinstance(generator, torch.Generator):
        kind = f"{type(generator).__module__.split('.')[0]} {type(generator).__name__}"
        raise TypeError(f"{fn}(generator=...) must be a torch.Generator (CPU) or None (then seed is used), "
                        f"got {kind}")
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"{fn}(generator=...) must be a CPU torch.Generator (the view runs on the CPU), "
                         f"got one on {generator.device}")
    bins, grid_points = chk.whole(fn, "bins", bins, 1, 10_000), chk.whole(fn, "grid_points", grid_points, 2, 100_000)
    if isinstance(x_range, bool) or not isinstance(x_range, numbers.Real) or not 0 < float(x_range) <= 1000:
        raise ValueError(f"{fn}(x_range=...) must be a number > 0 and <= 1000 (the histograms span "
                         f"[-x_range, x_range]), got {x_range!r:.60}")
    return num_dirs, bins, grid_points


def _view_memory(n: int, num_dirs: int, knots) -> None:
    """A view whose Epps-Pulley pass would not fit in memory, refused with the estimate."""
    k = int(knots) if isinstance(knots, (int, np.integer)) and not isinstance(knots, bool) else 17
    need = n * num_dirs * max(k, 1) * 4 * 2  # (N, K, knots) cos and sin, float32
    if need > MAX_VIEW_BYTES:
        raise ValueError(f"sigreg_view: {n:_} latents x num_dirs={num_dirs} x knots={k} need about "
                         f"{need / 2**30:.1f} GiB (more than {MAX_VIEW_BYTES >> 30} GiB); use fewer directions "
                         f"(a view shows a few) or a subsample of the latents")


def sigreg_view(z: ArrayLike, num_dirs: int = 8, *, seed: int = 0,
                generator: torch.Generator | None = None, knots: int = 17, t_max: float = 3.0,
                bins: int = 40, x_range: float = 4.0, grid_points: int = 201) -> SIGRegView:
    """Project latents z (B, D) or (T, B, D) on ``num_dirs`` random unit directions.

    The statistics come from :func:`lewm.sigreg.sigreg_stats` (same directions, same quadrature
    as the training loss). ``generator`` (CPU) wins over ``seed``.
    """
    num_dirs, bins, grid_points = _view_args(num_dirs, generator, bins, x_range, grid_points)
    from .._api_checks import seed as check_seed
    seed = check_seed("sigreg_view", seed)  # None was int()'s TypeError, 2**70 an overflow, 1.7 silently seed 1
    knots = int(knots) if isinstance(knots, np.integer) else knots  # numpy ints are whole numbers too
    zt = _torch(z, what="sigreg_view(z=...)")  # (B, D) or (T, B, D)
    if zt.dim() not in (2, 3):
        raise ValueError(f"sigreg_view expects (B, D) or (T, B, D) latents, got {tuple(zt.shape)}")
    _view_memory(zt.shape[:-1].numel(), num_dirs, knots)
    if not bool(torch.isfinite(zt).all()):  # a value and histograms of NaN without a word
        _finite(zt.reshape(-1, zt.shape[-1]).numpy(), "sigreg_view: the latents")
    gen = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    st = sigreg_stats(zt, num_proj=num_dirs, knots=knots, t_max=t_max, generator=gen)
    proj = st.projections.reshape(-1, num_dirs).numpy()  # (T*B, K)
    x_range = float(x_range)
    edges = np.linspace(-x_range, x_range, bins + 1)  # (nbins+1,)
    hist = np.stack([np.histogram(proj[:, k], bins=edges, density=False)[0] for k in range(num_dirs)])  # (K, nbins)
    width = edges[1] - edges[0]
    hist = hist / np.maximum(hist.sum(1, keepdims=True), 1) / width  # (K, nbins) density
    grid = np.linspace(-x_range, x_range, grid_points)  # (G,)
    flat = _as_2d(z)  # (T*B, D)
    return SIGRegView(value=float(st.value), statistic=st.statistic.mean(0).numpy(), projections=proj,
                      directions=st.directions.numpy(), bin_edges=edges, histograms=hist, grid=grid,
                      reference_pdf=normal_pdf(grid), dim_mean=flat.mean(0), dim_std=flat.std(0))
