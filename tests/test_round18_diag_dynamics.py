"""Round 18 (fixer F2): dynamics, surprise, perturbations and episode_failure refuse what they cannot read with
one named error (Y4 Y10 Y19 Y22 Y25 Y36 Y41 A3 A9 U11 U14 U19 U29 U30 U34 U35 U38 U43 U45 T4 T6 T8 T11 T18
T21 T22 T23 T27 T37 T41 T51 F7 F8 F12), and still accept numpy ints, tensors and integer frames."""
import numpy as np
import pytest
import torch

from lewm import diagnostics as dg
from lewm.data import action_stats_of
from lewm.diagnostics.episode_failure import explain_failure, path_goal_cost

from _known_worlds import PositionWorld, StubEnv, position_episode, world_cfg


@pytest.fixture(scope="module")
def world():
    torch.set_num_threads(1)
    model = PositionWorld(history=2, frameskip=3)
    ep = position_episode(np.random.default_rng(0))  # 31 frames (8, 8, 3), actions (31, 2), states (31, 2)
    return model, world_cfg(model), ep


# -- dynamics ---------------------------------------------------------------------------------------------
def test_open_loop_dynamics_horizon_cfg_actions_and_float_frames(world):
    model, cfg, ep = world
    px, act = ep["pixels"], ep["action"]
    for bad in (2.7, True, "3"):  # Y4: 2.7 was truncated to 2, True 1 step, '3' 3 steps
        with pytest.raises(TypeError, match=r"^open_loop_dynamics\(horizon=\.\.\.\) must be a whole number >= 1"):
            dg.open_loop_dynamics(model, px, act, cfg, horizon=bad)
    assert dg.open_loop_dynamics(model, px, act, cfg, horizon=np.int64(2)).error.shape == (2,)
    with pytest.raises(ValueError, match=r"horizon 0 impossible"):
        dg.open_loop_dynamics(model, px, act, cfg, horizon=0)
    for fn in (lambda: dg.open_loop_dynamics(model, px, act, None), lambda: dg.sweep_starts(31, None),
               lambda: dg.surprise_trace(model, px, act, None), lambda: dg.sweep_frames(31, None)):  # Y10
        with pytest.raises(TypeError, match=r"\(cfg=\.\.\.\) must be a LeWMConfig"):
            fn()
    with pytest.raises(ValueError, match=r"^open_loop_dynamics\(actions=\.\.\.\) must have shape \(31, 2\) for these "
                                         r"31 frames .*got \(62, 2\)"):  # Y19: the extra rows were ignored
        dg.open_loop_dynamics(model, px, np.vstack([act, act]), cfg, horizon=2)
    assert dg.open_loop_dynamics(model, px, act[:-1], cfg, horizon=2).frames.tolist() == [6, 9]  # L-1 rows: fine
    # Y41: 0..1 floats were cast to uint8 0s and 1s (the latents of black frames); U49, T7 the same
    msg = r"\(pixels=\.\.\.\): expected uint8 frames \(0\.\.255\), got float64; convert with"
    with pytest.raises(ValueError, match=r"^open_loop_dynamics" + msg):
        dg.open_loop_dynamics(model, px / 255.0, act, cfg, horizon=2)
    with pytest.raises(ValueError, match=r"^surprise_trace" + msg):
        dg.surprise_trace(model, px / 255.0, act, cfg)
    with pytest.raises(ValueError, match=r"^colour_change" + msg):
        dg.colour_change(px / 255.0, 3)
    with pytest.raises(ValueError, match=r"^colour_change\(pixels=\.\.\.\): expected uint8 frames .* values in 0\.\.300"):
        dg.colour_change(np.r_[np.zeros((3, 8, 8, 3), int), np.full((1, 8, 8, 3), 300)], 1)  # would wrap around
    want = dg.open_loop_dynamics(model, px, act, cfg, horizon=2).actual  # integer and tensor frames are still read
    np.testing.assert_array_equal(dg.open_loop_dynamics(model, px.astype(np.int64), act, cfg, horizon=2).actual, want)
    np.testing.assert_array_equal(dg.open_loop_dynamics(model, torch.from_numpy(px), act, cfg, horizon=2).actual, want)


def test_open_loop_sweep_starts_and_straightness_nan(world):
    model, cfg, ep = world
    px, act = ep["pixels"], ep["action"]
    for bad in (None, 0):  # Y22: "'NoneType' object is not iterable"
        with pytest.raises(TypeError, match=r"^open_loop_sweep\(starts=\.\.\.\) must be a list of frame indices .*sweep_starts"):
            dg.open_loop_sweep(model, px, act, cfg, bad, 2)
    with pytest.raises(ValueError, match=r"^open_loop_sweep\(starts=\.\.\.\) must be a 1-D list of whole frame indices"):
        dg.open_loop_sweep(model, px, act, cfg, [2.5], 2)  # Y25: was start 2
    with pytest.raises(TypeError, match=r"^open_loop_sweep\(horizon=\.\.\.\) must be a whole number"):
        dg.open_loop_sweep(model, px, act, cfg, [0], 2.5)
    runs = dg.open_loop_sweep(model, px, act, cfg, np.array([0, 3]), np.int64(2))
    assert [r.context_frames.tolist() for r in runs] == [[0, 3], [3, 6]]
    z = np.r_[np.random.default_rng(0).normal(size=(5, 4)), [[np.nan] * 4]]
    with pytest.raises(ValueError, match=r"^temporal_straightness: the latents z hold NaN/inf \(1 of 6 rows\)"):
        dg.temporal_straightness(z)  # Y36: was a finite number, the NaN frame skipped as 'not moving'
    with pytest.raises(ValueError, match=r"^temporal_straightness\(z=\.\.\.\) must be latents"):
        dg.temporal_straightness([["a", "b"]] * 3)


def test_action_blocks_frames_and_actions(world):
    _, cfg, ep = world
    act, stats = ep["action"], action_stats_of(cfg)
    with pytest.raises(ValueError, match=r"^action_blocks\(frames=\.\.\.\): \[-1\] outside the episode's 31 frames"):
        dg.action_blocks(act, np.array([-1]), 3, stats)  # A3: rows -1..1 without a word
    with pytest.raises(ValueError, match=r"^action_blocks\(frames=\.\.\.\) must be a 1-D list of whole frame indices"):
        dg.action_blocks(act, [0.5], 3, stats)
    with pytest.raises(ValueError, match=r"^action_blocks\(frames=\.\.\.\) must be a 1-D list"):
        dg.action_blocks(act, np.zeros((2, 2), int), 3, stats)
    with pytest.raises(TypeError, match=r"^action_blocks\(frames=\.\.\.\) must be a list of frame indices"):
        dg.action_blocks(act, 3, 3, stats)
    with pytest.raises(ValueError, match=r"^action_blocks\(actions=\.\.\.\) must be \(L, A\) numbers, got None"):
        dg.action_blocks(None, np.array([0]), 3, stats)  # A9
    assert dg.action_blocks(act, [0, 3], 3, stats).shape == (2, 6)
    assert dg.action_blocks(act, [], 3, stats).shape == (0, 6)


# -- surprise ---------------------------------------------------------------------------------------------
def test_paired_one_sided_and_sweep_frames(world):
    _, cfg, _ = world
    with pytest.raises(ValueError, match=r"^paired_one_sided needs at least one pair \(2 for a test\), got 0"):
        dg.paired_one_sided([], [])  # U11: (nan, nan) without a word
    for bad in (["a"], ["1"]):  # U14: numpy's unnamed "could not convert"; '1' was read as 1.0
        with pytest.raises(ValueError, match=r"^paired_one_sided\(a=\.\.\.\) must be paired numbers"):
            dg.paired_one_sided(bad, [0.0])
    assert np.isnan(dg.paired_one_sided([1.0], [0.5])[0])  # one pair: no test, as documented
    with pytest.raises(ValueError, match=r"^sweep_frames\(L=\.\.\.\) must be >= 0, got -3"):
        dg.sweep_frames(-3, cfg)  # U19: [] as if merely short
    for bad in (40.5, None):  # float frames past the episode; [0, 5]
        with pytest.raises(TypeError, match=r"^sweep_frames\(L=\.\.\.\) must be a whole number"):
            dg.sweep_frames(bad, cfg)
    assert dg.sweep_frames(np.int64(31), cfg).tolist() == list(range(6, 31, 3))
    big = dg.sweep_frames(10**12, cfg, most=3)  # not allocated: was np.arange of 3e11 frames
    assert big.tolist() == [6, 6 + 3 * round((10**12 - 7) // 3 / 2), 6 + 3 * ((10**12 - 7) // 3)]


def test_surprise_test_arguments(world):
    model, cfg, ep = world
    env = StubEnv()
    with pytest.raises(ValueError, match=r"^surprise_test\(t=\.\.\.\) gives 1 frame\(s\) for 2 episodes; give one per"):
        dg.surprise_test(model, cfg, [ep, ep], t=[6], perturbations=("colour",))  # U29: IndexError
    with pytest.raises(ValueError, match=r"gives 2 frame\(s\) for 1 episodes"):
        dg.surprise_test(model, cfg, [ep], t=[6, 9], perturbations=("colour",))  # the second silently ignored
    with pytest.raises(TypeError, match=r"^surprise_test\(t=\.\.\.\) must be a whole frame index"):
        dg.surprise_test(model, cfg, [ep], t=6.5, perturbations=("colour",))
    res = dg.surprise_test(model, cfg, [ep, ep], t=[6, np.int64(9)], perturbations=("colour",))
    assert res["colour"].frame.tolist() == [6, 9]
    with pytest.raises(ValueError, match=r"^surprise_test: episode 0 lacks 'action'"):  # U30: KeyError
        dg.surprise_test(model, cfg, [{"pixels": ep["pixels"]}], perturbations=("colour",))
    with pytest.raises(ValueError, match=r"^surprise_test: episode 0 lacks 'state'"):
        dg.surprise_test(model, cfg, [{"pixels": ep["pixels"], "action": ep["action"]}], env=env)
    with pytest.raises(ValueError, match=r"^perturbation_sweep: episode lacks 'action'"):
        dg.perturbation_sweep(model, cfg, {"pixels": ep["pixels"]}, [6])
    with pytest.raises(TypeError, match=r"^surprise_test\(episodes=\.\.\.\) must be a list of episode dicts, got one "
                                        r"dict \(wrap it: \[ep\]\)"):
        dg.surprise_test(model, cfg, ep, perturbations=("colour",))  # U34
    with pytest.raises(TypeError, match=r"^surprise_test\(perturbations=\.\.\.\) must be a list of names, got the string "
                                        r"'colour'"):
        dg.surprise_test(model, cfg, [ep], perturbations="colour")  # U35: "unknown perturbation 'c'"
    with pytest.raises(ValueError, match=r"^unknown perturbation 'blue'"):
        dg.surprise_test(model, cfg, [ep], perturbations=("blue",))
    with pytest.raises(ValueError, match=r"^surprise_test: a teleport needs env"):
        dg.surprise_test(model, cfg, [ep], perturbations=("teleport",))  # U38: {} without a word
    with pytest.warns(UserWarning, match=r"^surprise_test: no env given: the teleport test is skipped"):
        assert list(dg.surprise_test(model, cfg, [ep], perturbations=("teleport", "colour"))) == ["colour"]
    assert list(dg.surprise_test(model, cfg, [ep])) == ["colour"]  # the default: teleport only with an env
    assert list(dg.surprise_test(model, cfg, [ep], env=env)) == ["teleport", "colour"]
    with pytest.raises(TypeError, match=r"^surprise_test\(progress=\.\.\.\) must be True or False"):
        dg.surprise_test(model, cfg, [ep], perturbations=("colour",), progress="no")
    with pytest.raises(ValueError, match=r"^surprise_test\(episodes\[0\]\['pixels'\]=\.\.\.\): expected uint8"):
        dg.surprise_test(model, cfg, [dict(ep, pixels=ep["pixels"] / 255.0)], perturbations=("colour",))


def test_perturbation_sweep_frames(world):
    model, cfg, ep = world
    with pytest.raises(ValueError, match=r"^perturbation_sweep\(frames=\.\.\.\) must be a 1-D list of whole frame"):
        dg.perturbation_sweep(model, cfg, ep, [7.9])  # U43: silently frame 7
    with pytest.raises(TypeError, match=r"^perturbation_sweep\(frames=\.\.\.\) must be a list of frame indices .*sweep_frames"):
        dg.perturbation_sweep(model, cfg, ep, None)  # U45
    with pytest.raises(ValueError, match=r"^frames: \[100\] outside the episode's 31 frames"):
        dg.perturbation_sweep(model, cfg, ep, [6, 100])
    assert [r.t for r in dg.perturbation_sweep(model, cfg, ep, np.array([6, 9]))] == [6, 9]


# -- perturbations ----------------------------------------------------------------------------------------
def test_colour_change_arguments(world):
    px = world[2]["pixels"]
    for bad in (10.7, None, True):  # T4: slice error, int() error, frame 1
        with pytest.raises(TypeError, match=r"^colour_change\(t=\.\.\.\) must be a whole frame index in 0\.\.30"):
            dg.colour_change(px, bad)
    with pytest.raises(ValueError, match=r"^colour change time 100 must be inside the episode \(0\.\.30\)"):
        dg.colour_change(px, 100)
    with pytest.raises(TypeError, match=r"^colour_change\(pixels=\.\.\.\) must be uint8 frames \(L, S, S, 3\), got NoneType"):
        dg.colour_change(None, 1)  # T6
    with pytest.raises(ValueError, match=r"^colour_change\(pixels=\.\.\.\) must be frames \(L, S, S, 3\) \(one episode\), "
                                         r"got one frame \(8, 8, 3\)"):
        dg.colour_change(px[0], 1)  # T8: rows 1..7 of the image recoloured
    with pytest.raises(ValueError, match=r"^colour_change\(pixels=\.\.\.\) must be frames .* 3 colour channels"):
        dg.colour_change(np.zeros((4, 8, 8, 1), np.uint8), 1, "hue")  # T11
    out = dg.colour_change(px, np.int64(3), "invert")
    assert out.dtype == np.uint8 and np.array_equal(out[3], 255 - px[3]) and np.array_equal(out[2], px[2])


def test_teleport_and_render_mismatch_arguments(world):
    _, _, ep = world
    px, st, env = ep["pixels"], ep["state"], StubEnv()
    with pytest.raises(ValueError, match=r"^teleport\(delta=\.\.\.\) must give one shift per dim in dims \(2\), got 3"):
        dg.teleport(px, st, 10, env, delta=[1, 2, 3])  # T18
    with pytest.raises(ValueError, match=r"^teleport\(delta=\.\.\.\) must give one shift per dim in dims \(2\), got one"):
        dg.teleport(px, st, 10, env, delta=0.1)
    for bad in (10.5, None):  # T21
        with pytest.raises(TypeError, match=r"^teleport\(t=\.\.\.\) must be a whole frame index in 1\.\.30"):
            dg.teleport(px, st, bad, env)
    with pytest.raises(TypeError, match=r"^teleport\(env=\.\.\.\) must have render_state\(state\)"):
        dg.teleport(px, st, 10, None)  # T22
    with pytest.raises(TypeError, match=r"^render_mismatch\(env=\.\.\.\) must have render_state\(state\)"):
        dg.render_mismatch(px, st, None, [0])
    with pytest.raises(ValueError, match=r"^teleport\(bounds=\.\.\.\) must be \(low \(Q,\), high \(Q,\)\) with Q = 2, "
                                         r"got shapes \(1,\) and \(1,\)"):
        dg.teleport(px, st, 10, env, bounds=([0], [1]))  # T23
    with pytest.raises(ValueError, match=r"^teleport\(bounds=\.\.\.\) low must be <= high"):
        dg.teleport(px, st, 10, env, bounds=(np.full(2, 200.0), np.zeros(2)))  # T27: every state clipped to 0
    _, moved = dg.teleport(px, st, np.int64(10), env, delta=np.array([5.0, -5.0]), bounds=(np.zeros(2), np.full(2, 255.0)))
    np.testing.assert_allclose(moved[10], st[10] + [5.0, -5.0])
    big = np.repeat(np.repeat(px, 2, 1), 2, 2)  # 16x16 frames, the env draws 8x8
    with pytest.raises(ValueError, match=r"^render_mismatch: the env renders 8x8x3 frames, the episode's are 16x16x3"):
        dg.render_mismatch(big, st, env, [0])  # T37: numpy's broadcast error
    assert dg.render_mismatch(px, st, env, [0, 5]) == 0.0
    with pytest.raises(TypeError, match=r"^default_teleport_dims\(state_names=\.\.\.\) must be a sequence of names"):
        dg.default_teleport_dims(None)  # T41
    with pytest.raises(TypeError, match=r"^renderer_for\(env_name=\.\.\.\) must be an environment name"):
        dg.renderer_for(["two_room"], 32)  # T51: None, as for an unknown env
    assert dg.renderer_for(None, 32) is None and isinstance(dg.renderer_for("synthetic_dot", 32), dg.DotRenderer)


# -- episode_failure --------------------------------------------------------------------------------------
def test_explain_failure_inputs():
    with pytest.raises(ValueError, match=r"^explain_failure: cost must be a list of numbers, got None"):
        explain_failure(None, None, 1)  # F7: None read as NaN
    with pytest.raises(ValueError, match=r"^explain_failure: cost must be 1-D \(L,\), one value per step, got shape \(3, 2\)"):
        explain_failure(np.ones((3, 2)), np.ones(6), 1)  # F8: flattened to 6 steps
    with pytest.raises(ValueError, match=r"^explain_failure: cost must be >= 0 \(a distance or a squared norm\)"):
        explain_failure([-5.0] * 20, [5.0] * 20, 1.0)  # F12: "-500000000000000% of the start's"
    with pytest.raises(ValueError, match=r"^explain_failure: distance must be >= 0"):
        explain_failure([5.0] * 20, [-5.0] * 20, 1.0)
    assert explain_failure(torch.linspace(5, 1, 20), np.arange(20, 0, -1), np.int64(1)).kind == "out of budget"


def test_path_goal_cost_frames(world):
    model = world[0]
    px = world[2]["pixels"]
    with pytest.raises(ValueError, match=r"^path_goal_cost\(goal_frame=\.\.\.\) must be one uint8 frame \(S, S, 3\), got None"):
        path_goal_cost(model, px[:3], None)
    with pytest.raises(ValueError, match=r"^path_goal_cost\(frames=\.\.\.\): expected uint8 frames"):
        path_goal_cost(model, px[:3] / 255.0, px[5])


def test_y11_a_missing_model_is_named_by_the_function_called():
    """Y11: None as the model was named by encode_frames, deep inside."""
    import lewm.diagnostics as dg
    from lewm.config import get_preset
    cfg = get_preset("cpu-tiny")
    px, act = np.zeros((12, 32, 32, 3), np.uint8), np.zeros((12, 2), np.float32)
    for fn, call in (("open_loop_dynamics", lambda: dg.open_loop_dynamics(None, px, act, cfg)),
                     ("open_loop_sweep", lambda: dg.open_loop_sweep(None, px, act, cfg, [0], 1)),
                     ("surprise_trace", lambda: dg.surprise_trace(None, px, act, cfg)),
                     ("surprise_test", lambda: dg.surprise_test(None, cfg, [{"pixels": px, "action": act}])),
                     ("perturbation_sweep", lambda: dg.perturbation_sweep(None, cfg, {"pixels": px, "action": act}, [5]))):
        with pytest.raises(TypeError, match=rf"^{fn}\(model=\.\.\.\) must be a LeWM model"):
            call()
