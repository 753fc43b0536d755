"""A model's health in one word: ``collapsed``, ``dimensional collapse`` or ``healthy``, and why.

The same two measures as the Collapse lab, read against SIGReg's target N(0, I):

- **scale** — the mean per-dimension std of the latents (target 1). A cloud that shrank to a point
  (std → 0) is *collapsed* whatever its shape: the effective rank is scale-free and still reads a
  tiny isotropic jitter as "rich".
- **shape** — the effective rank (exp of the entropy of the normalised covariance spectrum; ≈ D for
  N(0, I)). Below 1.5 the cloud lies on a line: *collapsed*. Below a quarter of the latent dimension
  D it uses only a few of its directions: *dimensional collapse* (the rest carry no variance).

:func:`health_verdict` reads the two numbers (e.g. the live view of a training run);
:func:`latent_health` measures them on latents (N, D). Both return a small :class:`Health`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._common import ArrayLike
from .collapse import LINE_RANK, POINT_STD, check_meters, collapse_meters  # the Collapse lab's thresholds: one verdict

HEALTHY, DIMENSIONAL, COLLAPSED, UNKNOWN = "healthy", "dimensional collapse", "collapsed", "unknown"
DIM_FRACTION = 0.25
"""Below this fraction of the latent dimension D the effective rank is a dimensional collapse (D >= 4)."""


@dataclass(frozen=True)
class Health:
    status: str
    """``healthy``, ``dimensional collapse``, ``collapsed`` or ``unknown`` (no finite measure)."""
    why: str
    """One line: the measure that decided, with its number and its target."""
    mean_std: float
    """Mean per-dimension std of the latents (scale; target 1)."""
    effective_rank: float
    """Effective rank of their covariance (shape; target ≈ D)."""
    latent_dim: int
    """D."""

    @property
    def ok(self) -> bool:
        return self.status == HEALTHY


def health_verdict(mean_std: float, effective_rank: float, latent_dim: int) -> Health:
    """The verdict from the latents' mean per-dimension std and effective rank (see the module doc).
    NaN or infinite measures (nothing measured yet, a diverged batch) give ``unknown``; otherwise ``latent_dim`` must be the
    latents' D >= 1, the std >= 0 and the rank within [0, D]."""
    checked = check_meters("health_verdict", mean_std, effective_rank, latent_dim, inf_unknown=True)
    if checked is None:
        D = int(latent_dim)  # a whole number >= 0 (checked)
        return Health(UNKNOWN, "no finite latents to measure yet", float(mean_std), float(effective_rank), D)
    s, r, D = checked
    of = f" of {D}"
    if s < POINT_STD:
        why = (f"collapsed to a point (scale): latent std {s:.3g}, target 1 — the effective rank {r:.1f}{of} "
               f"only measures the shape of what is left")
        return Health(COLLAPSED, why, s, r, D)
    if D >= 2 and r < LINE_RANK:
        return Health(COLLAPSED, f"collapsed to a line (shape): effective rank {r:.2f}{of}, std {s:.2f}", s, r, D)
    if D >= 4 and r < DIM_FRACTION * D:
        why = (f"dimensional collapse (shape): effective rank {r:.1f}{of} — the latents use about "
               f"{100 * r / D:.0f}% of their directions (N(0, I) uses all {D}); std {s:.2f}, target 1")
        return Health(DIMENSIONAL, why, s, r, D)
    return Health(HEALTHY, f"spread out: latent std {s:.2f} (target 1), effective rank {r:.1f}{of}", s, r, D)


def latent_health(z: ArrayLike) -> Health:
    """:func:`health_verdict` of latents z (N, D) (or (..., D)), measured as in the Collapse lab."""
    m = collapse_meters(z)
    return health_verdict(m.mean_std, m.effective_rank, len(m.spectrum))
