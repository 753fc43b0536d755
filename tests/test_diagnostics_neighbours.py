"""lewm.diagnostics.neighbours: nearest frames in latent space against brute force."""
import numpy as np
import pytest

from lewm import diagnostics as dg


def test_nearest_frames_matches_brute_force():
    g = np.random.default_rng(0)
    lat = g.normal(size=(50, 6)).astype(np.float32)
    frames = np.arange(50, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    nf = dg.NearestFrames(lat, frames)
    q = g.normal(size=(4, 6)).astype(np.float32)
    res = nf.query(q, k=3)
    d = np.linalg.norm(q[:, None] - lat[None], axis=-1)
    np.testing.assert_array_equal(res.indices, np.argsort(d, axis=1)[:, :3])
    np.testing.assert_allclose(res.distances, np.sort(d, axis=1)[:, :3], rtol=1e-5)
    assert res.frames.shape == (4, 3, 2, 2, 3) and res.frames[0, 0, 0, 0, 0] == res.indices[0, 0]
    one = nf.query(lat[7])
    assert one.indices.tolist() == [[7]] and one.distances[0, 0] == pytest.approx(0.0, abs=1e-5)
