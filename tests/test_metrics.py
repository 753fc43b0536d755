"""lewm.metrics: the covariance spectrum against numpy's, and the effective rank on latents whose
spectrum is known exactly."""
import numpy as np
import pytest
import torch

from lewm.metrics import covariance_spectrum, effective_rank


def test_covariance_spectrum_equals_numpy():
    z = np.random.default_rng(0).normal(size=(2, 50, 4)) * [3.0, 1.0, 0.5, 0.1]  # (..., D)
    x = z.reshape(-1, 4)
    want = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    np.testing.assert_allclose(covariance_spectrum(torch.tensor(z)).numpy(), want, rtol=1e-10)
    raw = np.sort(np.linalg.eigvalsh(x.T @ x / (len(x) - 1)))[::-1]  # second moment: keeps the mean
    np.testing.assert_allclose(covariance_spectrum(torch.tensor(z), centered=False).numpy(), raw, rtol=1e-10)


def test_effective_rank_of_known_spectra():
    e = np.eye(4)
    two = torch.tensor(np.concatenate([e[:2], -e[:2]]))  # ±e1, ±e2: two equal eigenvalues, two zero
    assert effective_rank(two) == pytest.approx(2.0, rel=1e-9)
    four = torch.tensor(np.concatenate([e, -e]))
    assert effective_rank(four) == pytest.approx(4.0, rel=1e-9)
    # eigenvalues p = (3/4, 1/4): exp(H) = exp(-(0.75 ln 0.75 + 0.25 ln 0.25))
    uneven = torch.tensor([[3 ** 0.5, 0.0], [-(3 ** 0.5), 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert effective_rank(uneven) == pytest.approx(float(np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))))
    # one point with tiny isotropic jitter: centred rank high, second-moment rank ≈ 1
    pt = torch.tensor(np.random.default_rng(1).normal(size=(500, 8)) * 1e-3 + 5.0)
    assert effective_rank(pt) > 7.0 and effective_rank(pt, centered=False) < 1.01
    assert effective_rank(torch.zeros(10, 3)) == 1.0  # no variance at all

