"""The health verdict (issue 20 point 5) on constructed latents, and its agreement with the Collapse lab."""
import math

import numpy as np
import pytest

from lewm.diagnostics.health import (COLLAPSED, DIMENSIONAL, HEALTHY, UNKNOWN, health_verdict,
                                     latent_health)
from lewm.diagnostics import collapse_verdict

rng = np.random.default_rng(0)
N, D = 2000, 16


def test_isotropic_gaussian_is_healthy():
    h = latent_health(rng.standard_normal((N, D)))
    assert h.status == HEALTHY and h.ok
    assert 0.95 < h.mean_std < 1.05 and h.effective_rank > 15
    assert h.why.startswith("spread out") and "of 16" in h.why


def test_all_equal_latents_are_collapsed():
    h = latent_health(np.tile(rng.standard_normal(D), (N, 1)))
    assert h.status == COLLAPSED and not h.ok
    assert h.mean_std == pytest.approx(0.0, abs=1e-9) and "point" in h.why


def test_shrunken_jitter_is_collapsed_though_its_rank_is_full():
    """The issue's contradiction: a cloud shrunk to a point scores effective rank ~16/16 (scale-free)."""
    h = latent_health(5.0 + 1e-3 * rng.standard_normal((N, D)))
    assert h.effective_rank > 15 and h.status == COLLAPSED
    assert "(scale)" in h.why and "0.001" in h.why


def test_rank_two_is_dimensional_collapse():
    z = rng.standard_normal((N, 2)) @ rng.standard_normal((2, D))
    h = latent_health(z)
    assert h.status == DIMENSIONAL and 1.5 < h.effective_rank < 2.1
    assert "(shape)" in h.why and "of 16" in h.why


def test_a_line_is_collapsed():
    z = rng.standard_normal((N, 1)) @ rng.standard_normal((1, D))
    h = latent_health(z)
    assert h.status == COLLAPSED and "line" in h.why


def test_small_latent_dims():
    """D = 2 (the shipped Two-Room agent): a spread 2-D cloud is healthy; 'dimensional' needs D >= 4."""
    assert latent_health(rng.standard_normal((N, 2)) * [1.2, 0.8]).status == HEALTHY
    assert health_verdict(1.0, 1.9, 2).status == HEALTHY
    assert health_verdict(1.0, 2.5, 4).status == HEALTHY  # 2.5 >= 4/4
    assert health_verdict(1.0, 1.2, 4).status == COLLAPSED and health_verdict(1.0, 0.9, 8).status == COLLAPSED


def test_no_data_is_unknown():
    assert health_verdict(float("nan"), 3.0, 16).status == UNKNOWN
    assert health_verdict(1.0, math.inf, 16).status == UNKNOWN


@pytest.mark.parametrize("std", [0.0, 0.01, 0.049, 0.05, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("rank", [1.0, 1.4, 1.6, 3.0, 8.0, 16.0])
def test_collapsed_exactly_when_the_collapse_lab_says_so(std, rank):
    """Same measures, same thresholds as the Collapse lab's verdict (lewm.jobs.collapse_verdict)."""
    assert (health_verdict(std, rank, 16).status == COLLAPSED) == collapse_verdict(std, rank, 16)[0]
