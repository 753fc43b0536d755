"""lewm.envs.spaces: the minimal Box space (broadcast bounds, inclusive membership, clipping,
uniform sampling over the closed box for integers)."""
import numpy as np

from lewm.envs.spaces import Box


def test_box_bounds_membership_clip_and_equality():
    b = Box(-1.0, [1.0, 2.0])
    assert b.shape == (2,) and b.dtype == np.float32
    np.testing.assert_array_equal(b.low, [-1.0, -1.0])
    np.testing.assert_array_equal(b.high, [1.0, 2.0])
    assert [1.0, 2.0] in b and [-1.0, 0.0] in b  # inclusive
    assert [1.5, 0.0] not in b and [0.0, 0.0, 0.0] not in b
    np.testing.assert_array_equal(b.clip([3.0, -5.0]), [1.0, -1.0])
    assert b == Box(np.array([-1.0, -1.0]), np.array([1.0, 2.0])) and b != Box(-1.0, 1.0, shape=(2,))
    assert repr(b) == "Box(-1, 2, (2,), float32)"


def test_box_samples_stay_inside_and_integers_reach_both_ends():
    rng = np.random.default_rng(0)
    b = Box(-0.5, 0.5, shape=(3,))
    xs = np.stack([b.sample(rng) for _ in range(200)])
    assert xs.dtype == np.float32 and xs.min() >= -0.5 and xs.max() <= 0.5 and abs(xs.mean()) < 0.05
    ints = Box(0, 2, shape=(1,), dtype=np.int64)
    seen = {int(ints.sample(rng)[0]) for _ in range(100)}
    assert seen == {0, 1, 2}
