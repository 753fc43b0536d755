"""lewm.diagnostics.collapse: meters, verdict, example clouds (diagnostics.examples), lewm.metrics.effective_rank."""
import math

import numpy as np
import pytest

from lewm import diagnostics as dg
from lewm.diagnostics import collapse_meters, collapse_verdict, demo_latents, sigreg_view


def with_spectrum(lams, n=400, seed=0):
    """Points whose sample covariance has exactly the eigenvalues ``lams`` (in a random basis)."""
    g = np.random.default_rng(seed)
    D = len(lams)
    x = g.normal(size=(n, D))
    x -= x.mean(0)
    u, _, _ = np.linalg.svd(x, full_matrices=False)  # (n, D) orthonormal columns, each centred
    q, _ = np.linalg.qr(g.normal(size=(D, D)))
    return (u * math.sqrt(n - 1) * np.sqrt(lams)) @ q.T + 5.0  # offset: covariance ignores it


def test_collapse_meters_on_constructed_spectra():
    lams = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.5])
    m = dg.collapse_meters(with_spectrum(lams), k=2)
    np.testing.assert_allclose(m.spectrum, lams, rtol=1e-6)
    p = lams / lams.sum()
    assert m.effective_rank == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-6)
    assert m.top1_fraction == pytest.approx(8 / 16)
    assert m.topk_fraction == pytest.approx(12 / 16)
    assert m.components_90 == 4  # 15/16 >= 0.9 > 14/16
    assert m.total_variance == pytest.approx(16.0)


def test_effective_rank_isotropic_and_rank_one():
    g = np.random.default_rng(1)
    iso = dg.collapse_meters(g.normal(size=(20000, 16)))
    assert iso.effective_rank == pytest.approx(16, rel=0.02)
    assert iso.top1_fraction == pytest.approx(1 / 16, rel=0.15)
    assert abs(iso.mean_cosine) < 0.01
    line = g.normal(size=(500, 1)) * g.normal(size=(1, 16))
    one = dg.collapse_meters(line)
    assert one.effective_rank == pytest.approx(1.0, abs=1e-3)
    assert one.top1_fraction == pytest.approx(1.0, abs=1e-9)
    assert dg.collapse_meters(np.ones((10, 4)) * 3 + 1e-9 * g.normal(size=(10, 4))).mean_cosine == pytest.approx(1.0)


def test_mean_cosine_matches_brute_force():
    x = np.random.default_rng(3).normal(size=(60, 5)) + 0.7
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = u @ u.T
    ref = c[~np.eye(60, dtype=bool)].mean()
    assert dg.collapse_meters(x).mean_cosine == pytest.approx(ref, abs=1e-9)


def test_second_moment_rank_exposes_point_collapse():
    import torch
    from lewm.metrics import effective_rank
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(4000, 16, generator=g)
    point = torch.ones(16) * 0.5 + 1e-3 * torch.randn(4000, 16, generator=g)  # collapsed to a point + jitter
    assert effective_rank(iso) > 15 and effective_rank(iso, centered=False) > 15
    assert effective_rank(point) > 15  # the centred rank is blind to this collapse (scale-free)
    assert effective_rank(point, centered=False) < 1.1


def test_collapse_verdict():
    assert collapse_verdict(0.01, 5.0, 16) == (True, "collapsed to a point: latent std 0.010 (target 1)")
    assert collapse_verdict(0.8, 1.2, 16) == (True, "collapsed to a line: effective rank 1.20 of 16")
    assert collapse_verdict(0.9, 10.0, 16) == (False, "spread out: std 0.90, effective rank 10.0 of 16")
    assert collapse_verdict(float("nan"), 10.0, 16) == (False, "no data yet")


@pytest.mark.parametrize("kind", ["gaussian", "collapsed", "line", "scaled"])
def test_demo_latents_tell_the_sigreg_story(kind):
    z = demo_latents(kind, n=512, dim=8)
    v = sigreg_view(z, num_dirs=4, seed=0)
    if kind == "gaussian":
        assert v.value < 2
    else:
        assert v.value > 5


def test_demo_latents_through_the_verdict():
    verdict = {k: collapse_verdict(m.mean_std, m.effective_rank, 16)[0]
               for k in ("gaussian", "collapsed", "line")
               for m in [collapse_meters(demo_latents(k, n=1024, dim=16))]}
    assert verdict == {"gaussian": False, "collapsed": True, "line": True}
    with pytest.raises(ValueError, match="unknown demo latents"):
        demo_latents("spiral")
