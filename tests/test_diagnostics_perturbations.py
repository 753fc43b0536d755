"""lewm.diagnostics.perturbations: teleports (stub, Two-Room, Reacher), colour changes, the render mismatch."""
import numpy as np

from lewm import diagnostics as dg

from _known_worlds import StubEnv, position_episode, render_position


def test_teleport_and_colour_change():
    ep = position_episode(np.random.default_rng(0))
    bounds = (np.array([50.0, 60.0]), np.array([200.0, 220.0]))
    px, st = dg.teleport(ep["pixels"], ep["state"], 12, StubEnv(), bounds=bounds)
    assert np.array_equal(px[:12], ep["pixels"][:12]) and np.array_equal(st[:12], ep["state"][:12])
    np.testing.assert_allclose(st[12], np.clip([250.0, 280.0] - ep["state"][12], *bounds))  # mirror image
    np.testing.assert_allclose(np.diff(st[12:], axis=0), np.diff(ep["state"][12:], axis=0))  # same motion after
    assert px[20, 0, 0, 0] == int(st[20, 0])
    px2, st2 = dg.teleport(ep["pixels"], ep["state"], 5, render_position, delta=[1000, 0], bounds=bounds)
    assert (st2[5:, 0] == 200).all() and np.array_equal(st2[5:, 1], ep["state"][5:, 1])
    assert dg.default_teleport_dims(["agent_x", "agent_y", "block_x", "block_y", "block_angle"]) == [2, 3]
    assert dg.default_teleport_dims(["q1", "q2", "dq1"]) == [0, 1]
    img = np.zeros((3, 2, 2, 3), np.uint8)
    img[..., 0] = 200  # red
    hue = dg.colour_change(img, 1, "hue")
    assert hue[0, 0, 0].tolist() == [200, 0, 0] and hue[1, 0, 0].tolist() == [0, 200, 0]
    assert dg.colour_change(img, 2, "invert")[2, 0, 0].tolist() == [55, 255, 255]


def test_teleport_with_two_room_env_moves_the_dot():
    from lewm.envs import make
    env = make("two_room", image_size=32)
    states = np.stack([np.linspace(40, 80, 10), np.full(10, 150.0)], 1).astype(np.float32)
    px = np.stack([env.render_state(s) for s in states])
    px2, st2 = dg.teleport(px, states, 4, env, delta=[120.0, -100.0])

    def red_centroid(img):
        w = img[..., 0].astype(float) - img[..., 1].astype(float)  # red where G is low
        ys, xs = np.mgrid[:32, :32]
        return np.array([(xs * w).sum(), (ys * w).sum()]) / w.sum() * 224 / 32

    np.testing.assert_allclose(red_centroid(px2[6]), st2[6], atol=4.0)
    np.testing.assert_allclose(st2[6], states[6] + [120.0, -100.0])


def test_teleport_redraws_the_episodes_own_target(tmp_path):
    """Reacher draws its goal: a zero teleport must reproduce the recorded frames exactly when the
    episode's goal_state is given (from the HDF5 file), and the mismatch meter must flag it when not."""
    from lewm.collect import collect
    from lewm.data import load_episode
    from lewm.envs import make
    path = str(tmp_path / "r.h5")
    collect("reacher", 2, path, image_size=32, seed=5, episode_len=12, workers=1, progress=False)
    ep = load_episode(path, 1)
    assert ep["goal_state"].shape == (4,)
    env = make("reacher", image_size=32)  # a fresh env: its own default goal
    px, _ = dg.teleport(ep["pixels"], ep["state"], 6, env, delta=[0.0, 0.0], goal_state=ep["goal_state"])
    assert (px == ep["pixels"]).all()
    assert dg.render_mismatch(ep["pixels"], ep["state"], env, [3], goal_state=ep["goal_state"]) == 0.0
    assert dg.render_mismatch(ep["pixels"], ep["state"], env, [3]) > 0.0  # the target drawn elsewhere
    np.testing.assert_array_equal(env.goal_state, np.zeros(4, np.float32))  # restored
