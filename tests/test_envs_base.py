"""lewm.envs.base: every registered environment against the common Env API (and the registry in lewm.envs)."""
import numpy as np
import pytest

from lewm.envs import ENVS, Box, list_envs, make

NAMES = list_envs()
SIZE = 32


def far_from(name: str, s: np.ndarray) -> np.ndarray:
    """A state clearly outside the success region around ``s``."""
    s = np.array(s, np.float64)
    if name == "two_room":
        s[0] += 40.0 if s[0] < 112 else -40.0
    elif name == "pusht":
        s[2] += 60.0
    elif name in ("reacher", "reacher_no_target"):
        s[0] += 0.5
    else:  # a new env must say what "far" means here
        raise AssertionError(f"add {name!r} to far_from()")
    return s


def rollout(env, seed: int, steps: int):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, states = [obs], [info["state"]]
    for _ in range(steps):
        obs, *_, info = env.step(env.action_space.sample(rng))
        frames.append(obs)
        states.append(info["state"])
    return np.stack(frames), np.stack(states)


def test_registry():
    assert set(NAMES) == {"two_room", "pusht", "reacher", "reacher_no_target"}
    with pytest.raises(ValueError, match="two_room.*pusht.*reacher"):
        make("no_such_env")
    assert isinstance(make("Two-Room", image_size=SIZE), ENVS["two_room"])


@pytest.mark.parametrize("name", NAMES)
def test_spaces_and_attributes(name):
    env = make(name, image_size=SIZE)
    assert env.name == name
    assert env.image_size == SIZE and env.max_episode_steps > 0
    assert isinstance(env.action_space, Box) and env.action_space.shape == (env.action_dim,)
    assert env.action_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    assert env.observation_space.shape == (SIZE, SIZE, 3) and env.observation_space.dtype == np.uint8
    assert len(env.state_names) == env.state_dim and all(isinstance(n, str) for n in env.state_names)
    a = env.action_space.sample(np.random.default_rng(0))
    assert a.dtype == np.float32 and env.action_space.contains(a)


@pytest.mark.parametrize("name", NAMES)
def test_reset_step_types_and_finite(name):
    env = make(name, image_size=SIZE)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (SIZE, SIZE, 3)
    assert env.observation_space.contains(obs)
    assert info["state"].dtype == np.float32 and info["state"].shape == (env.state_dim,)
    assert env.goal_state.dtype == np.float32 and env.goal_state.shape == (env.state_dim,)
    rng = np.random.default_rng(0)
    for t in range(10):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample(rng))
        assert obs.dtype == np.uint8 and obs.shape == (SIZE, SIZE, 3)
        assert isinstance(reward, float) and np.isfinite(reward)
        assert isinstance(terminated, bool) and isinstance(truncated, bool)
        assert isinstance(info["success"], bool)
        assert np.all(np.isfinite(info["state"])) and info["state"].dtype == np.float32
    assert obs.std() > 0  # not a blank image
    env.max_episode_steps = 12
    env.reset(seed=1)
    flags = [env.step(np.zeros(env.action_dim))[3] for _ in range(12)]
    assert flags == [False] * 11 + [True]


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_trajectory(name):
    f1, s1 = rollout(make(name, image_size=SIZE), seed=7, steps=15)
    f2, s2 = rollout(make(name, image_size=SIZE), seed=7, steps=15)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(f1, f2)
    assert len({f.tobytes() for f in f1}) > 1  # the image changes along the trajectory


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_different_starts(name):
    env = make(name, image_size=SIZE)
    starts = [env.reset(seed=s)[1]["state"] for s in range(5)]
    assert len({s.tobytes() for s in starts}) == 5
    goals = [env.reset(seed=s)[1]["goal_state"] for s in range(5)]
    assert all(np.all(np.isfinite(g) | np.isnan(g)) for g in goals)


@pytest.mark.parametrize("name", NAMES)
def test_action_clipping_and_nan(name):
    e1, e2 = make(name, image_size=SIZE), make(name, image_size=SIZE)
    e1.reset(seed=3)
    e2.reset(seed=3)
    a = np.array([5.0, -7.0] + [3.0] * (e1.action_dim - 2))
    np.testing.assert_array_equal(e1.step(a)[0], e2.step(np.clip(a, -1, 1))[0])
    np.testing.assert_array_equal(e1.get_state(), e2.get_state())
    e1.step(np.full(e1.action_dim, np.nan))  # NaN actions act as zero
    e2.step(np.zeros(e2.action_dim))
    np.testing.assert_array_equal(e1.get_state(), e2.get_state())


@pytest.mark.parametrize("name", NAMES)
def test_set_state_round_trip_and_render_state(name):
    env = make(name, image_size=SIZE)
    env.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(8):
        env.step(env.action_space.sample(rng))
    s, frame = env.get_state(), env.render()
    other = make(name, image_size=SIZE)
    other.reset(seed=99)
    other.set_goal(env.goal_state)
    other.set_state(s)
    np.testing.assert_array_equal(other.get_state(), s)  # exact round trip
    np.testing.assert_array_equal(other.render(), other.render_state(s))
    np.testing.assert_array_equal(other.render(), frame)
    # render_state leaves the env alone
    before = other.get_state()
    img = other.render_state(far_from(name, s))
    np.testing.assert_array_equal(other.get_state(), before)
    assert img.shape == (SIZE, SIZE, 3) and not np.array_equal(img, frame)
    # set_state(get_state()) then stepping stays deterministic
    a = env.action_space.sample(rng)
    other.set_state(s)
    o1 = other.step(a)[4]["state"]
    other.set_state(s)
    o2 = other.step(a)[4]["state"]
    np.testing.assert_array_equal(o1, o2)
    with pytest.raises(ValueError):
        other.set_state(np.zeros(env.state_dim + 1))


@pytest.mark.parametrize("name", NAMES)
def test_success_at_goal_not_far(name):
    env = make(name, image_size=SIZE)
    env.reset(seed=5)
    g = env.get_state()
    env.set_goal(g)
    assert env.is_success()  # the current state is the goal
    assert env.is_success(g, g) and env.success_distance(g, g) == 0.0
    far = far_from(name, g)
    assert not env.is_success(far)
    assert env.success_distance(far, g) > 0
    env.set_state(far)
    assert not env.is_success()
    obs, info = env.reset(seed=5, goal=g)
    assert info["success"] and env.step(np.zeros(env.action_dim))[4]["success"] in (True, False)


@pytest.mark.parametrize("name", NAMES)
def test_render_sizes(name):
    for size in (32, 64):
        env = make(name, image_size=size)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (size, size, 3) and env.render().shape == (size, size, 3)
        assert env.render_state(env.get_state()).shape == (size, size, 3)
    env.render_on_step = False
    assert env.step(np.zeros(env.action_dim))[0] is None


def test_probe_quantities_are_smooth_readouts_of_the_state():
    from lewm.envs.reacher import forward_kinematics
    r = make("reacher_no_target", image_size=SIZE)
    s = np.array([[0.3, -0.8, 1.0, 2.0], [3.1, 2.9, 0.0, 0.0]])
    q = r.probe_quantities(s)
    for i, (a, b) in enumerate(s[:, :2]):
        _, tip = forward_kinematics(a, b)
        np.testing.assert_allclose([q["tip_x"][i], q["tip_y"][i]], tip, atol=1e-12)
        np.testing.assert_allclose([q["cos_q12"][i], q["sin_q12"][i]], [np.cos(a + b), np.sin(a + b)])
    p = make("pusht", image_size=SIZE)
    st = np.zeros((1, 7)); st[0, 4] = np.pi / 3
    np.testing.assert_allclose(p.probe_quantities(st)["sin_block_angle"], [np.sin(np.pi / 3)])
    assert make("two_room", image_size=SIZE).probe_quantities(np.zeros((2, 2))) == {}
