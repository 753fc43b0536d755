"""Round 17 (hostile test of the envs' Python API): E1..E9."""
import numpy as np
import pytest
import torch

from lewm.envs import make

SIZE = 16


@pytest.fixture
def envs():
    out = {}
    for name in ("two_room", "pusht", "reacher"):
        env = make(name, image_size=SIZE)
        env.reset(seed=0)
        out[name] = env
    return out


def test_e1_e2_e3_batches_of_states_of_the_wrong_width(envs):
    tr, pt, re = envs["two_room"], envs["pusht"], envs["reacher"]
    TR = r"\(N, 2\) \('agent_x', 'agent_y'\)"
    cases = [
        (lambda: tr.valid_states(np.full((3, 3), 50.0)), rf"^two_room: valid_states: states must be {TR}, got shape \(3, 3\)"),
        (lambda: tr.valid_states([[50, 50, 50]]), rf"^two_room: valid_states: states must be {TR}, got shape \(1, 3\)"),
        (lambda: tr.valid_states(None), rf"^two_room: valid_states: states must be numbers {TR}, got None$"),
        (lambda: pt.valid_states(np.zeros((2, 3))), r"^pusht: valid_states: states must be \(N, 7\) .*got shape \(2, 3\)"),
        (lambda: re.valid_states(np.zeros((3, 2))), r"^reacher: valid_states: states must be \(N, 4\) .*got shape \(3, 2\)"),
        (lambda: tr.regions(np.full((3, 3), 50.0)), rf"^two_room: regions: states must be {TR}, got shape \(3, 3\)"),
        (lambda: tr.regions([[np.nan, 50.0]]), r"^two_room: regions: states must be finite, got row 0 = \[nan, 50.0\]"),
        (lambda: pt.probe_quantities(np.zeros((2, 4))), r"^pusht: probe_quantities: states must be \(N, 7\) .*got shape \(2, 4\)"),
        (lambda: pt.probe_quantities([[np.nan] * 5]), r"^pusht: probe_quantities: states must be \(N, 7\) .*got shape \(1, 5\)"),
        (lambda: re.probe_quantities(np.zeros((2, 6))), r"^reacher: probe_quantities: states must be \(N, 4\) .*got shape \(2, 6\)"),
        (lambda: tr.probe_quantities(np.zeros((2, 3))), rf"^two_room: probe_quantities: states must be {TR}, got shape \(2, 3\)"),
        (lambda: tr.path_distance(np.full((3, 3), 50.0), [60, 60]),
         rf"^two_room: path_distance: states must be {TR}, got shape \(3, 3\)"),
        (lambda: pt.path_distance(np.zeros((2, 3)), pt.goal_state), r"^pusht: path_distance: states must be \(N, 7\)"),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError, match=msg):
            fn()
    # what was valid stays valid: one state, an empty batch, NaN rows are simply not valid states
    assert tr.valid_states([50, 50]).tolist() == [True]
    assert tr.valid_states([]).shape == (0,)
    assert tr.valid_states([[np.nan, 50.0], [50.0, 50.0]]).tolist() == [False, True]
    assert re.valid_states(np.zeros((3, 4))).tolist() == [True] * 3
    assert tr.regions([[50.0, 50.0], [150.0, 50.0]])[0].tolist() == [0, 1]
    assert tr.path_distance([[50, 50]], [50, 60])[0] == pytest.approx(10.0)
    assert len(re.probe_quantities(np.zeros((2, 4)))["cos_q1"]) == 2
    assert pt.valid_states(torch.zeros(2, 7)).shape == (2,)


def test_e4_clip_state_refuses_a_wrong_length_or_nan(envs):
    tr, pt, re = envs["two_room"], envs["pusht"], envs["reacher"]
    for fn, msg in [
        (lambda: re.clip_state([1, 2, 3]), r"^reacher: clip_state: state must have 4 values \('q1', 'q2', 'dq1', 'dq2'\), got \(3,\)"),
        (lambda: tr.clip_state([1, 2, 3]), r"^two_room: clip_state: state must have 2 values .*got \(3,\)"),
        (lambda: pt.clip_state([1e9] * 5), r"^pusht: clip_state: state must have 7 values .*got \(5,\)"),
        (lambda: re.clip_state([np.nan, 0, 0, 0]), r"^reacher: clip_state: state must be finite, got \[nan, 0.0, 0.0, 0.0\]"),
        (lambda: tr.clip_state([np.inf, 50]), r"^two_room: clip_state: state must be finite"),
    ]:
        with pytest.raises(ValueError, match=msg):
            fn()
    np.testing.assert_allclose(re.clip_state([4.0, 0.0, 100.0, 0.0]), [4.0 - 2 * np.pi, 0.0, 8.0, 0.0])
    np.testing.assert_array_equal(tr.clip_state([50, 60]), [50.0, 60.0])


@pytest.mark.parametrize("name", ["two_room", "reacher"])
def test_e5_set_state_alone_draws_a_goal_as_reset_does(name):
    env = make(name, image_size=SIZE, seed=3)
    s = env._sample_state(np.random.default_rng(1))
    env.set_state(s)
    g = env.goal_state.copy()
    assert not np.array_equal(g, np.zeros(env.state_dim)) and env.valid_states(g[None])[0]  # was [0, 0], off the map
    info = env.step(np.zeros(2))[4]
    assert info["distance"] == pytest.approx(env.success_distance(info["state"], g))
    # the same goal as reset(state=...) draws from the same generator
    other = make(name, image_size=SIZE, seed=3)
    np.testing.assert_array_equal(other.reset(state=s)[1]["goal_state"], g)
    # a goal that was set stays
    env.set_goal(s)
    env.set_state(s)
    np.testing.assert_array_equal(env.goal_state, np.asarray(s, np.float32))


def test_e5_pusht_keeps_its_drawn_target():
    env = make("pusht", image_size=SIZE)
    goal = env.goal_state.copy()
    env.set_state([100, 100, 256, 300, 0, 0, 0])
    np.testing.assert_array_equal(env.goal_state, goal)


def test_e6_tensors_that_require_grad_are_read(envs):
    tr = envs["two_room"]
    obs, info = tr.reset(seed=0, state=torch.tensor([50.0, 50.0], requires_grad=True))
    np.testing.assert_array_equal(info["state"], [50.0, 50.0])
    st = tr.step(torch.tensor([0.2, -0.2], requires_grad=True))[4]["state"]
    np.testing.assert_allclose(st, [51.0, 49.0])
    tr.set_goal(torch.tensor([60.0, 60.0], requires_grad=True))
    assert tr.valid_states(torch.tensor([[50.0, 50.0]], requires_grad=True)).tolist() == [True]
    pt = envs["pusht"]
    pt.set_goal(torch.tensor([256.0, 256.0, 0.7], requires_grad=True))
    assert pt.goal_state[4] == pytest.approx(0.7)


def test_e7_e8_none_masked_and_text(envs):
    tr, pt = envs["two_room"], envs["pusht"]
    for fn, msg in [
        (lambda: tr.step([None, None]), r"^two_room: action must be numbers in \[-1, 1\], got None in \[None, None\]"),
        (lambda: tr.step(np.ma.masked_array([0.5, 0.5], [True, False])),
         r"^two_room: action must be numbers in \[-1, 1\], got a masked array with 1 masked value"),
        (lambda: tr.reset(seed=0, state=["50", "50"]),
         r"^two_room: state must be numbers: 2 values \('agent_x', 'agent_y'\), got text \['50', '50'\]"),
        (lambda: tr.set_state([50, None]), r"^two_room: state must be numbers: 2 values .*got None in \[50, None\]"),
        (lambda: tr.set_goal(np.ma.masked_array([50.0, 50.0], [False, True])), r"^two_room: goal must be numbers: .*masked"),
        (lambda: tr.set_state(np.array(["50", 50], dtype=object)), r"^two_room: state must be numbers: .*got text"),
        (lambda: pt.set_goal(["1", "2", "3"]), r"^pusht: goal must be numbers: a block pose or a state, got text"),
        (lambda: tr.step(np.array(["2020", "2021"], dtype="datetime64[Y]")), r"^two_room: action must be numbers .*datetime64"),
        (lambda: tr.set_goal("ab"), r"^two_room: goal must have 2 values \('agent_x', 'agent_y'\), got 'ab'"),  # round 8's words
    ]:
        with pytest.raises(ValueError, match=msg):
            fn()
    tr.reset(seed=0, state=[50, 50])
    st = tr.step(np.ma.masked_array([0.2, 0.2], [False, False]))[4]["state"]  # nothing masked: its numbers
    np.testing.assert_allclose(st, [51.0, 51.0])
    tr.set_state(np.array([50, 50], dtype=object))  # numbers in an object array: fine
    tr.step([np.int64(1), np.float16(0.0)])


def test_e9_pusht_fast_states_stay_in_the_arena():
    env = make("pusht", image_size=SIZE)
    for s in ([256, 256, 256, 256, 0, 1e4, 1e4], [256, 256, 256, 256, 0, -1e4, -1e4], [480, 30, 256, 256, 0, 1e4, -1e4]):
        env.reset(seed=0, state=s)
        for _ in range(3):
            st = env.step([0.0, 0.0])[4]["state"]
            assert env.valid_states(st[None])[0], st
            assert ((0 <= st[:2]) & (st[:2] <= 512)).all()
            env.set_state(env.get_state())  # round trip: a state the env can be in
    env.reset(seed=0, state=[256, 256, 256, 256, 0, 1e4, 1e4])
    np.testing.assert_array_equal(env.step([0.0, 0.0])[4]["state"][[0, 1, 5, 6]], [512, 512, 0, 0])  # stopped at the edge


def test_e9_normal_policies_never_reach_the_edge():
    from lewm.envs.policies import make_policy
    env = make("pusht", image_size=SIZE)
    env.render_on_step = False
    for kind in ("expert", "random"):
        env.reset(seed=1)
        pol = make_policy(env, kind, np.random.default_rng(1))
        pol.reset(env)
        for _ in range(60):
            st = env.step(pol(env))[4]["state"]
            assert 0 < st[:2].min() and st[:2].max() < 512
