"""lewm.envs.reacher: arm dynamics and limits, Reacher without its target, and the fingertip distance."""
import numpy as np

from lewm.envs import ENVS, make

SIZE = 32


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


def test_reacher_fingertip_distance_against_forward_kinematics():
    import math
    env = make("reacher", image_size=SIZE)
    g = np.array([0.3, -1.1, 0.0, 0.0])
    assert env.fingertip_distance(g, g) == 0.0
    # the elbow-flipped configuration puts the tip elsewhere; a straight arm at angle 0 has its tip at (0.21, 0)
    s = np.array([0.0, 0.0, 0.0, 0.0])
    tg = (0.10 * math.cos(0.3) + 0.11 * math.cos(0.3 - 1.1), 0.10 * math.sin(0.3) + 0.11 * math.sin(0.3 - 1.1))
    assert abs(env.fingertip_distance(s, g) - math.hypot(0.21 - tg[0], tg[1])) < 1e-12
