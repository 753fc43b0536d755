"""lewm.planning.env_space: the action box in the model's normalised space, and frames as pixel tensors."""
import numpy as np
import torch

from lewm.data import ActionStats
from lewm.planning.env_space import action_bounds, to_pixels_tensor


def test_action_bounds_are_the_box_z_scored_and_tiled_per_block():
    stats = ActionStats(mean=np.array([0.5, -0.5]), std=np.array([2.0, 0.5]))
    lo, hi = action_bounds(stats, frameskip=2)
    # (-1 - 0.5) / 2 = -0.75, (-1 + 0.5) / 0.5 = -1;  (1 - 0.5) / 2 = 0.25, (1 + 0.5) / 0.5 = 3
    np.testing.assert_allclose(lo.numpy(), [-0.75, -1.0, -0.75, -1.0])
    np.testing.assert_allclose(hi.numpy(), [0.25, 3.0, 0.25, 3.0])
    assert lo.dtype == torch.float32
    # the bounds map back to the box
    np.testing.assert_allclose(stats.denormalize(lo.numpy().reshape(2, 2)), -np.ones((2, 2)))


def test_pixels_tensor_moves_channels_first_and_adds_a_batch():
    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)  # (T, S, S, 3)
    px = to_pixels_tensor(frames, "cpu")
    assert px.dtype == torch.uint8 and tuple(px.shape) == (1, 3, 3, 4, 4)
    t, c, y, x = 2, 1, 3, 0
    assert int(px[0, t, c, y, x]) == int(frames[t, y, x, c])
    np.testing.assert_array_equal(px[0].permute(0, 2, 3, 1).numpy(), frames)
