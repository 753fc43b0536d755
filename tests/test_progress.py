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


def test_bad_arguments_are_refused_in_one_line():
    import pytest
    for args, match in (((10.5, 4), r"downsample_indices: n .* must be a whole number >= 0, got 10\.5"),
                        ((10, -3), r"downsample_indices: max_points must be a whole number >= 2, got -3"),
                        ((-1, 4), r"downsample_indices: n .* >= 0, got -1"),
                        ((True, 4), r"downsample_indices: n")):
        with pytest.raises(ValueError, match=match):
            downsample_indices(*args)
    assert np.array_equal(downsample_indices(np.int64(3), 2), [0, 2])
    with pytest.raises(ValueError, match=r"recent_rate: steps and times must be 1-D and of one length .* \(3,\) and \(2,\)"):
        recent_rate(np.arange(3), np.arange(2.0))
    with pytest.raises(ValueError, match=r"recent_rate: window must be a whole number >= 2, got 0"):
        recent_rate(np.arange(3), np.arange(3.0), window=0)
    assert recent_rate([0, 2, 4], [0.0, 1.0, 2.0], window=2) == 2.0
    nan = float("nan")
    assert eta_seconds(1, nan, 1.0) is None and eta_seconds(nan, 10, 1.0) is None
    assert eta_seconds(1, float("inf"), 1.0) is None and eta_seconds(1, 10, None) is None
    with pytest.raises(TypeError, match=r"eta_seconds: total must be a number, got '10'"):
        eta_seconds(1, "10", 1.0)
    assert eta_seconds(np.int64(1), 11, np.float32(2.0)) == 5.0
