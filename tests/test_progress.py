"""lewm.progress: bounded histories, recent rates and ETAs of a live run."""
import numpy as np

from lewm.progress import downsample_indices, eta_seconds, recent_rate


def test_downsample_keeps_ends_and_recent_points():
    idx = downsample_indices(10_000, 200)
    assert len(idx) <= 200 and idx[0] == 0 and idx[-1] == 9_999
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx[-100:], np.arange(9_900, 10_000))  # newest half dense
    assert np.array_equal(downsample_indices(5, 200), np.arange(5))


def test_eta_and_recent_rate():
    assert eta_seconds(50, 150, 10.0) == 10.0
    assert eta_seconds(50, 150, 0.0) is None
    assert eta_seconds(200, 150, 5.0) == 0.0
    steps, times = np.arange(0, 200, 2), np.arange(100) * 0.5  # 2 steps every 0.5 s
    assert recent_rate(steps, times) == 4.0
    assert recent_rate(steps[:1], times[:1]) is None
    assert recent_rate(np.array([3, 5]), np.array([1.0, 1.0])) is None  # no time passed
