"""The optional gym_pusht backend (the field's gym-pusht package behind this project's Env API).

Skipped unless gym-pusht is installed (`pip install -r requirements-field.txt`); without it, asking for
the env gives one clear line."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from lewm.envs import make

HAVE = importlib.util.find_spec("gym_pusht") is not None


def test_without_the_package_the_error_says_what_to_install():
    if HAVE:
        pytest.skip("gym-pusht is installed")
    with pytest.raises(ValueError, match="requirements-field.txt"):
        make("gym_pusht")


@pytest.mark.skipif(not HAVE, reason="gym-pusht not installed (pip install -r requirements-field.txt)")
def test_gym_pusht_backend_state_action_render_and_success():
    env = make("gym_pusht", image_size=64)
    obs, info = env.reset(seed=3)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and info["state"].shape == (7,)
    s = np.array([100.0, 120.0, 300.0, 250.0, 1.0, 0.0, 0.0])
    env.set_state(s)
    np.testing.assert_allclose(env.get_state(), s.astype(np.float32), atol=1e-4)
    a0 = env.get_state()[:2].copy()
    for _ in range(3):
        obs, _, _, _, info = env.step(np.array([1.0, 0.0]))  # relative: push right
    assert info["state"][0] > a0[0] + 50 and abs(info["state"][1] - a0[1]) < 5
    before = env.get_state()
    img = env.render_state(np.array([256.0, 400.0, 256.0, 256.0, np.pi / 4, 0.0, 0.0]))
    assert img.shape == (64, 64, 3) and not np.array_equal(img, obs)
    np.testing.assert_allclose(env.get_state(), before, atol=1e-4)  # rendering another state leaves this one
    # the rendered pose is the state's: the block's pixels sit around its centre of gravity
    far = env.render_state(np.array([60.0, 60.0, 380.0, 380.0, 0.0, 0.0, 0.0]))
    dark = (far.astype(int).sum(-1) < 600) & (far[..., 1] < 200)  # block grey, not the green goal or white floor
    ys, xs = np.nonzero(dark)
    assert xs.mean() > 64 * 300 / 512 and ys.mean() > 64 * 300 / 512, (xs.mean(), ys.mean())
    goal = np.array([200.0, 200.0, 256.0, 256.0, np.pi / 4, 0.0, 0.0], np.float32)
    assert env.is_success(goal, goal) and not env.is_success(goal + [0, 0, 0, 0, 0.5, 0, 0], goal)


def test_block_origin_may_sink_into_a_wall_up_to_the_tees_reach():
    """gym-pusht's physics let an expert push put the block's origin at y = -23.7 (its T hangs off the origin):
    eval seed 0 then stopped on "goal_state ... is outside the world" (session 25). No package needed: the check
    is this wrapper's own."""
    from lewm.envs.gym_pusht import TEE_REACH, GymPushT
    env = GymPushT.__new__(GymPushT)  # the check alone: no gym-pusht space behind it
    env.state_dim = len(GymPushT.state_names)
    goal = np.array([418.858, 24.0826, 448.511, -23.6615, 6.26678, -15.5211, -16.1895])
    sunk, far, agent_out = goal.copy(), goal.copy(), goal.copy()
    far[3] = -TEE_REACH - 1  # the whole T off the arena
    agent_out[1] = -1.0  # the agent never leaves it
    assert env.valid_states(np.stack([goal, sunk, far, agent_out])).tolist() == [True, True, False, False]
    assert "within 121" in env.world
