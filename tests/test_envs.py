"""Every registered environment against the common API (in the spirit of dm_control's suite_test),
plus a few physics and policy checks per environment."""
import numpy as np
import pytest

from lewm.envs import ENVS, Box, list_envs, make
from lewm.envs.policies import make_policy
from lewm.envs.two_room import room_of

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


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["expert", "random"])
def test_policies_give_valid_actions(name, kind):
    env = make(name, image_size=SIZE)
    env.render_on_step = False
    env.reset(seed=0)
    pol = make_policy(env, kind, np.random.default_rng(0))
    pol.reset(env)
    for _ in range(30):
        a = pol(env)
        assert a.shape == (env.action_dim,) and a.dtype == np.float32
        assert np.all(np.abs(a) <= 1)
        env.step(a)
    with pytest.raises(ValueError, match="expert.*random"):
        make_policy(env, "nope", np.random.default_rng(0))


# ----------------------------------------------------------------------------- per-env physics
def test_two_room_wall_and_door():
    env = make("two_room", image_size=SIZE)
    env.reset(seed=0, state=[90.0, 150.0])
    for _ in range(10):
        env.step([1.0, 0.0])
    assert env.get_state()[0] == 100.0  # stopped by the wall face (wall x 107 minus σ 7)
    env.set_state([90.0, 49.0])
    for _ in range(10):
        env.step([1.0, 0.0])
    assert env.get_state()[0] > 124.0  # through the door
    env.set_state([25.0, 25.0])
    for _ in range(5):
        env.step([-1.0, -1.0])
    np.testing.assert_array_equal(env.get_state(), [21.0, 21.0])  # clamped to the frame
    env.set_state([112.0, 49.0])  # in the doorway: slides along the jamb
    for _ in range(10):
        env.step([0.0, 1.0])
    assert env.get_state()[1] == 63.0


def test_two_room_expert_crosses_rooms():
    env = make("two_room", image_size=SIZE)
    env.render_on_step = False
    crossed = 0
    for ep in range(20):
        env.reset(seed=ep)
        pol = make_policy(env, "expert", np.random.default_rng(ep))
        pol.reset(env)
        rooms = {room_of(env.get_state()[0])}
        for _ in range(99):
            env.step(pol(env))
            rooms.add(room_of(env.get_state()[0]))
        crossed += len(rooms) == 2
    assert crossed >= 12


def test_pusht_agent_pushes_block_and_expert_moves_it():
    env = make("pusht", image_size=SIZE)
    env.render_on_step = False
    env.reset(seed=0, state=[100.0, 300.0, 250.0, 280.0, np.pi / 2, 0.0, 0.0])
    b0 = env.get_state()[2:4].copy()
    for _ in range(15):
        env.step([1.0, 0.0])
    assert env.get_state()[2] > b0[0] + 20  # pushed to the right
    moved = 0
    for ep in range(8):
        env.reset(seed=ep)
        pol = make_policy(env, "expert", np.random.default_rng(ep))
        pol.reset(env)
        s0 = env.get_state()
        for _ in range(100):
            env.step(pol(env))
        moved += np.hypot(*(env.get_state()[2:4] - s0[2:4])) > 20
    assert moved >= 6


def test_pusht_goal_conventions():
    env = make("pusht", image_size=SIZE)
    env.reset(seed=0)
    assert np.isnan(env.goal_state[0]) and env.goal_state[2] == 256  # default: block pose only
    s = env.get_state()
    env.set_goal(s[2:5])  # block pose: agent ignored
    moved_agent = s.copy()
    moved_agent[0] += 100
    assert env.is_success(moved_agent)
    env.set_goal(s)  # full state: agent xy counts (reference eval_state)
    assert not env.is_success(moved_agent)
    rot = s.copy()
    rot[4] = (rot[4] + np.pi / 6) % (2 * np.pi)
    assert not env.is_success(rot)
    rot[4] = (s[4] + 2 * np.pi - 0.1) % (2 * np.pi)  # angle wraps
    assert env.is_success(rot)


def test_reacher_dynamics():
    env = make("reacher", image_size=SIZE)
    env.reset(seed=0, state=[0.3, -0.2, 0.0, 0.0])
    for _ in range(5):
        env.step([0.0, 0.0])
    np.testing.assert_allclose(env.get_state(), [0.3, -0.2, 0.0, 0.0], atol=1e-7)
    for _ in range(5):
        env.step([1.0, 0.0])
    assert env.get_state()[2] > 1.0  # shoulder torque spins the shoulder
    env.set_state([0.3, -0.2, 0.0, 0.0])
    for _ in range(5):
        env.step([0.0, -1.0])
    assert env.get_state()[3] < -1.0
    for _ in range(60):
        env.step([1.0, 1.0])
        s = env.get_state()
        assert np.all(np.abs(s[2:]) <= 8.0) and np.all(np.abs(s[:2]) <= np.pi)  # limits, wrapping


def test_reacher_no_target_hides_only_the_target():
    """Same arm pixels as Reacher; the goal changes nothing in the image (it does in Reacher)."""
    a, b = make("reacher", image_size=SIZE), make("reacher_no_target", image_size=SIZE)
    s = np.array([0.3, -0.8, 0.0, 0.0])
    for env in (a, b):
        env.set_goal([2.0, 1.0, 0.0, 0.0])
    img_a, img_b = a.render_state(s), b.render_state(s)
    b.set_goal([-1.0, 0.5, 0.0, 0.0])
    assert (b.render_state(s) == img_b).all()
    diff = np.abs(img_a.astype(int) - img_b.astype(int)).max(-1) > 8  # (S, S) where they differ
    assert 0 < diff.mean() < 0.02  # only the small target dot
    a.draw_target = False
    assert (a.render_state(s) == img_b).all()
    assert b.name == "reacher_no_target" and type(b).__mro__[1] is ENVS["reacher"]


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


def test_reacher_fingertip_distance_against_forward_kinematics():
    import math
    env = make("reacher", image_size=SIZE)
    g = np.array([0.3, -1.1, 0.0, 0.0])
    assert env.fingertip_distance(g, g) == 0.0
    # the elbow-flipped configuration puts the tip elsewhere; a straight arm at angle 0 has its tip at (0.21, 0)
    s = np.array([0.0, 0.0, 0.0, 0.0])
    tg = (0.10 * math.cos(0.3) + 0.11 * math.cos(0.3 - 1.1), 0.10 * math.sin(0.3) + 0.11 * math.sin(0.3 - 1.1))
    assert abs(env.fingertip_distance(s, g) - math.hypot(0.21 - tg[0], tg[1])) < 1e-12
