"""lewm.envs.pusht: the agent pushes the block, the expert moves it, the goal conventions."""
import numpy as np

from lewm.envs import make
from lewm.envs.policies import make_policy

SIZE = 32


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
