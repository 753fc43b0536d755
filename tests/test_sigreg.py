"""SIGReg against independent references."""
import math

import numpy as np
import pytest
import torch

from lewm.sigreg import epps_pulley, sigreg, sigreg_stats


def brute_force_ep(h: np.ndarray, t_max: float = 3.0, n_grid: int = 20001) -> np.ndarray:
    """N * ∫_{-t_max}^{t_max} e^{-t²/2} |mean_b e^{i t h_b} - e^{-t²/2}|² dt on a fine symmetric grid.

    h: (B, M) -> (M,). Complex exponentials, the full (two-sided) range, plain trapezoid."""
    t = np.linspace(-t_max, t_max, n_grid)  # (G,)
    ecf = np.exp(1j * h[:, :, None] * t).mean(0)  # (M, G)
    phi = np.exp(-0.5 * t**2)
    integrand = phi * np.abs(ecf - phi) ** 2  # (M, G)
    return h.shape[0] * np.trapezoid(integrand, t, axis=-1)


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.5, 1.0), (0.0, 2.0), (1.0, 0.5)])
def test_matches_brute_force_reference(shift, scale):
    g = np.random.default_rng(0)
    h = g.normal(shift, scale, size=(256, 8))
    ours = epps_pulley(torch.from_numpy(h), knots=17, t_max=3.0).numpy()
    ref = brute_force_ep(h)
    np.testing.assert_allclose(ours, ref, rtol=0.01)


def test_projection_path_matches_reference():
    """sigreg_stats projects on its directions; recompute the projections and EP independently."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 128, 16, dtype=torch.float64) * 1.3 + 0.2
    st = sigreg_stats(z, num_proj=32, generator=g)
    u = st.directions.numpy()
    np.testing.assert_allclose(np.linalg.norm(u, axis=0), 1.0, atol=1e-12)
    for t in range(2):
        h = z[t].numpy() @ u
        np.testing.assert_allclose(st.projections[t].numpy(), h, atol=1e-10)
        np.testing.assert_allclose(st.statistic[t].numpy(), brute_force_ep(h), rtol=0.01)
    assert st.value.item() == pytest.approx(st.statistic.mean().item())


def test_null_expectation_matches_theory():
    """Under H0 (z ~ N(0, I)), E[N |φ̂(t) − φ(t)|²] = 1 − e^{−t²}, so E[EP] = ∫ w(t)(1 − e^{−t²}) dt."""
    t = np.linspace(-3, 3, 20001)
    expected = np.trapezoid(np.exp(-t**2 / 2) * (1 - np.exp(-t**2)), t)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 512, 32, generator=g)
    val = sigreg(z, num_proj=1024, generator=g).item()
    assert val == pytest.approx(expected, rel=0.1)


def test_non_gaussian_inputs_score_high():
    g = torch.Generator().manual_seed(1)
    gauss = sigreg(torch.randn(4, 256, 32, generator=g), generator=g).item()
    collapsed = sigreg(torch.zeros(4, 256, 32), generator=g).item()
    shifted = sigreg(torch.randn(4, 256, 32, generator=g) + 1.5, generator=g).item()
    scaled = sigreg(torch.randn(4, 256, 32, generator=g) * 3, generator=g).item()
    # uniform with unit variance: in high D random projections are near-Gaussian (CLT), so test in 1-D.
    uniform = sigreg((torch.rand(4, 2048, 1, generator=g) - 0.5) * math.sqrt(12), generator=g).item()
    gauss1d = sigreg(torch.randn(4, 2048, 1, generator=g), generator=g).item()
    assert gauss < 2.0
    for v in (collapsed, shifted, scaled):
        assert v > 20 * gauss
    assert uniform > 3 * gauss1d


def test_accepts_2d_and_gradients_finite():
    z = torch.randn(64, 8, requires_grad=True)
    v = sigreg(z, num_proj=16, generator=torch.Generator().manual_seed(0))
    v.backward()
    assert v.dim() == 0 and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    zc = torch.zeros(64, 8, requires_grad=True)  # collapsed: gradient must still be finite
    sigreg(zc, num_proj=16, generator=torch.Generator().manual_seed(0)).backward()
    assert torch.isfinite(zc.grad).all()


def test_seeded_generator_is_deterministic_and_fresh_otherwise():
    z = torch.randn(2, 64, 8)
    a = sigreg(z, num_proj=32, generator=torch.Generator().manual_seed(5))
    b = sigreg(z, num_proj=32, generator=torch.Generator().manual_seed(5))
    c = sigreg(z, num_proj=32, generator=torch.Generator().manual_seed(6))
    assert a.item() == b.item() and a.item() != c.item()


def test_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(T, B, D\)"):
        sigreg(torch.randn(2, 3, 4, 5))


def test_stays_fp32_inside_bf16_autocast():
    """SIGReg is fp32 whatever the caller's precision: under bf16 autocast (as a bf16 training step
    calls it) the value and the gradient equal the fp32 ones exactly (the projection matmul used to
    run in bf16: the logged SIGReg came out bf16-rounded, e.g. 1.703125)."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 64, 16, generator=g, requires_grad=True)  # (T, B, D)
    ref = sigreg(z, num_proj=64, generator=torch.Generator().manual_seed(0))
    (gref,) = torch.autograd.grad(ref, z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        val = sigreg(z, num_proj=64, generator=torch.Generator().manual_seed(0))
    (gval,) = torch.autograd.grad(val, z)
    assert val.dtype == torch.float32 and torch.equal(val, ref) and torch.equal(gval, gref)
