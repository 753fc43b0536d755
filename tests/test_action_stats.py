"""lewm.action_stats: the chunked statistics equal numpy's over the valid rows, whatever the chunk."""
import numpy as np
import pytest

from lewm.action_stats import ActionStats, action_stats_of, compute_action_stats
from lewm.episode_file import validate_file


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_chunked_statistics_equal_numpy_on_the_valid_rows(syn_h5, chunk):
    import h5py
    info = validate_file(syn_h5)
    with h5py.File(syn_h5) as f:
        a = f["action"][:].astype(np.float64)  # (N, A), the last row of each episode NaN
    valid = np.isfinite(a).all(axis=1)
    stats, n_end = compute_action_stats(syn_h5, info["ep_len"], info["ep_offset"], chunk=chunk)
    assert n_end == int((~valid).sum()) == info["num_episodes"]
    np.testing.assert_allclose(stats.mean, a[valid].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.std, a[valid].std(0), rtol=1e-5, atol=1e-6)
    x = a[valid][:5].astype(np.float32)
    np.testing.assert_allclose(stats.denormalize(stats.normalize(x)), x, rtol=1e-5, atol=1e-6)


def test_a_checkpoints_stats_and_the_identity():
    from lewm.config import get_preset
    cfg = get_preset("cpu-tiny")
    s = action_stats_of(cfg)
    assert isinstance(s, ActionStats) and (s.mean == 0).all() and (s.std == 1).all()
    assert s.mean.shape == (cfg.model.action_dim,)
