"""lewm.diagnostics.examples: the demo latent clouds have the statistics their names promise
(measured here with numpy), and the same seed gives the same cloud."""
import numpy as np
import pytest

from lewm.diagnostics.examples import demo_latents


def _spectrum(z):
    return np.sort(np.linalg.eigvalsh(np.cov(z.astype(np.float64), rowvar=False)))[::-1]


def test_demo_latents_have_the_promised_statistics():
    g = demo_latents("gaussian", n=4000, dim=8)
    assert g.shape == (4000, 8) and g.dtype == np.float32
    np.testing.assert_allclose(np.cov(g, rowvar=False), np.eye(8), atol=0.08)
    c = demo_latents("collapsed", n=4000, dim=8)
    assert c.std(0).max() < 0.03  # one point plus 0.02 jitter
    ev = _spectrum(demo_latents("line", n=4000, dim=8))
    assert ev[0] == pytest.approx(2.5 ** 2, rel=0.1) and ev[0] / ev.sum() > 0.99  # one direction
    s = demo_latents("scaled", n=4000, dim=8)
    assert s.mean() == pytest.approx(1.0, abs=0.01) and s.std() == pytest.approx(0.3, rel=0.02)
    np.testing.assert_array_equal(demo_latents("line", seed=3), demo_latents("line", seed=3))
    with pytest.raises(ValueError, match="unknown demo latents"):
        demo_latents("square")
