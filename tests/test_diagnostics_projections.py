"""lewm.diagnostics.projections: the SIGReg view (projections, Epps-Pulley, histograms) against brute force."""
import numpy as np
import pytest

from lewm import diagnostics as dg


def test_sigreg_view_projections_statistics_and_reference():
    g = np.random.default_rng(0)
    z = g.normal(size=(512, 12)).astype(np.float32) * 1.5 + 0.3
    v = dg.sigreg_view(z, num_dirs=6, seed=1)
    np.testing.assert_allclose(np.linalg.norm(v.directions, axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(v.projections, z @ v.directions, atol=1e-4)
    # Epps–Pulley against a brute-force two-sided complex integral on a fine grid
    t = np.linspace(-3, 3, 6001)
    h = v.projections.astype(np.float64)
    ecf = np.exp(1j * h[:, :, None] * t).mean(0)  # (K, G)
    ref = len(h) * np.trapezoid(np.exp(-t**2 / 2) * np.abs(ecf - np.exp(-t**2 / 2)) ** 2, t, axis=-1)
    np.testing.assert_allclose(v.statistic, ref, rtol=0.02)
    assert v.value == pytest.approx(ref.mean(), rel=0.02)
    assert np.trapezoid(v.reference_pdf, v.grid) == pytest.approx(1.0, abs=1e-3)
    width = np.diff(v.bin_edges)
    inside = ((h > v.bin_edges[0]) & (h < v.bin_edges[-1])).mean(0)
    np.testing.assert_allclose((v.histograms * width).sum(1), 1.0, atol=1e-9)
    assert inside.min() > 0.95
    np.testing.assert_allclose(v.dim_mean, z.mean(0), atol=1e-5)
    np.testing.assert_allclose(v.dim_std, z.std(0), rtol=1e-4)
    # same seed -> same directions; (T, B, D) input stacks the steps
    assert np.array_equal(dg.sigreg_view(z, 6, seed=1).directions, v.directions)
    v3 = dg.sigreg_view(z.reshape(4, 128, 12), 6, seed=1)
    assert v3.projections.shape == (512, 6)


def test_sigreg_view_gaussian_histogram_matches_reference():
    z = np.random.default_rng(2).normal(size=(20000, 8)).astype(np.float32)
    v = dg.sigreg_view(z, num_dirs=3, seed=0, bins=20)
    centres = 0.5 * (v.bin_edges[1:] + v.bin_edges[:-1])
    np.testing.assert_allclose(v.histograms, np.broadcast_to(dg.normal_pdf(centres), v.histograms.shape), atol=0.02)
    # under H0, E[EP] = ∫ e^{-t²/2} (1 - e^{-t²}) dt over [-3, 3] ≈ 1.06, whatever N; shifted data is far above
    t = np.linspace(-3, 3, 20001)
    null = np.trapezoid(np.exp(-t**2 / 2) * (1 - np.exp(-t**2)), t)
    assert v.value == pytest.approx(null, rel=0.5)
    assert dg.sigreg_view(z + 0.5, num_dirs=3, seed=0).value > 50 * null
