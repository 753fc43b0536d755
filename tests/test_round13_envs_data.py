"""Reliability round 13 (/work/runs/s17/round13_api.md), lewm.envs, lewm.planning and lewm.data: every
hostile argument is one clear exception naming the function and argument (no AttributeError, IndexError,
numpy broadcast error or silent wrong result); valid calls still work; a file fresh from collect loads
without a warning."""
import shutil
import warnings

import h5py
import numpy as np
import pytest
import torch

from lewm import data as DT
from lewm.config import get_preset
from lewm.envs import Box, make
from lewm.envs.base import ResetNeeded
from lewm.envs.policies import make_policy
from lewm.model import build_model
from lewm.planning import LatentGoalCost, PlannerConfig, clamp_state, imagine_candidate, run_episode, setup_plan
from lewm.planning.env_space import to_pixels_tensor

CFG = get_preset("cpu-tiny")


@pytest.fixture(scope="module")
def fresh_h5(tmp_path_factory):
    """A two_room file just written by this lab's collect (its last action row per episode is NaN)."""
    from lewm.collect import collect
    p = str(tmp_path_factory.mktemp("r13") / "tr.h5")
    collect("two_room", 3, p, image_size=16, episode_len=8, workers=1, progress=False)
    return p


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(CFG.model).eval()


# ------------------------------------------------------------------------------------------ lewm.envs
def test_api8_9_59_60_box_arguments():
    with pytest.raises(TypeError, match=r"^Box.sample\(rng=...\) must be a numpy Generator .* got int"):
        make("two_room", image_size=16).action_space.sample(0)
    with pytest.raises(ValueError, match=r"^Box.sample: cannot sample uniformly from an unbounded Box"):
        Box(0, np.inf, shape=(2,)).sample()
    with pytest.raises(ValueError, match=r"^Box: low must be <= high in every dimension, got low 1 > high 0"):
        Box(1, 0)
    with pytest.raises(ValueError, match=r"^Box: low has 2 values \(shape \(2,\)\) for shape \(3,\)"):
        Box([0, 0], [1, 1], shape=(3,))
    # still fine: numpy generators and numbers, integer boxes, broadcast bounds, an unbounded box (not sampled)
    b = Box(np.int64(-1), np.float32(1.0), shape=(2,))
    assert b.sample(np.random.default_rng(0)) in b and b.sample() in b
    assert Box(0, 255, (2, 2, 3), np.uint8).sample(np.random.default_rng(0)).dtype == np.uint8
    assert Box(-1.0, [1.0, 2.0]).shape == (2,) and Box(0, np.inf, shape=(2,)).contains([1e9, 0])


def test_api10_an_expert_refuses_another_env():
    pol = make_policy(make("pusht", image_size=16), "expert", np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"^PushTExpert\(env\): env is two_room, expected pusht or gym_pusht"):
        pol(make("two_room", image_size=16))
    env = make("two_room", image_size=16)
    env.reset(seed=0)
    tr = make_policy(env, "expert", np.random.default_rng(0))
    tr.reset(env)
    assert tr(env).shape == (2,)  # its own env: fine


def test_api39_step_before_reset():
    for name in ("two_room", "pusht", "reacher"):
        env = make(name, image_size=16)
        with pytest.raises(ValueError, match=rf"^{name}: call reset\(\) \(or set_state\(...\)\) before step\(\)"):
            env.step(np.zeros(2))
    with pytest.raises(RuntimeError):  # also a RuntimeError (gymnasium's kind of mistake)
        make("two_room", image_size=16).step(np.zeros(2))
    assert issubclass(ResetNeeded, ValueError)
    env = make("two_room", image_size=16)
    env.set_state([90.0, 150.0])  # an explicit state is a start: stepping is fine
    assert env.step([1.0, 0.0])[4]["state"][0] == 95.0


def test_api40_41_string_and_complex_actions():
    env = make("two_room", image_size=16)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"^two_room: action must be numbers in \[-1, 1\], got text \['1', '1'\]"):
        env.step(np.array(["1", "1"]))
    with pytest.raises(ValueError, match=r"^two_room: action must be real numbers in \[-1, 1\], got complex"):
        env.step(np.array([0.1, 0.1], dtype=np.complex64))
    for a in ([1, 0], np.array([True, False]), torch.tensor([0.5, 0.5]), np.float16([0.1, 0.1]), [np.int64(1), 0.0]):
        env.step(a)  # numbers of any real kind: fine


def test_api42_path_distance_nan_goal():
    env = make("two_room", image_size=16)
    with pytest.raises(ValueError, match=r"^two_room: path_distance: goal must be finite, got \[nan, 50.0\]"):
        env.path_distance([[50, 50]], [np.nan, 50])
    assert env.path_distance([[50, 50]], [50, 60])[0] == pytest.approx(10.0)


def test_api45_clamp_state_clamps_speeds_and_wraps_angles():
    reacher = make("reacher", image_size=16)
    s = clamp_state(reacher, [100, 100, 100, -100])
    np.testing.assert_allclose(s[2:], [8.0, -8.0])
    assert np.all(np.abs(s[:2]) <= np.pi) and np.allclose(np.cos(s[:2]), np.cos(100.0))
    reacher.reset(seed=0, state=s)  # what reset(state=...) accepts
    tr = make("two_room", image_size=16)
    np.testing.assert_array_equal(clamp_state(tr, [50.0, 60.0]), [50.0, 60.0])  # a valid state is unchanged
    assert bool(tr.valid_states(clamp_state(tr, [112.0, 150.0])[None])[0])  # in the wall: moved out


# -------------------------------------------------------------------------------------- lewm.planning
def test_api13_14_latent_goal_cost_arguments(model):
    with pytest.raises(TypeError, match=r"^LatentGoalCost\(z_hist=...\) must be a torch tensor \(1, H0, D\), got ndarray"):
        LatentGoalCost(model, np.zeros((1, 2, 16)), torch.zeros(16))
    with pytest.raises(TypeError, match=r"^LatentGoalCost\(model=...\) must be a world model .* got NoneType"):
        LatentGoalCost(None, torch.zeros(1, 2, 16), torch.zeros(16))
    with pytest.raises(TypeError, match=r"^LatentGoalCost\(z_goal=...\) must be a torch tensor"):
        LatentGoalCost(model, torch.zeros(1, 2, 16), [0.0] * 16)
    with pytest.raises(ValueError, match=r"^LatentGoalCost\(z_hist=...\) must be a \(1, H0, D\) tensor"):
        LatentGoalCost(model, torch.zeros(2, 16), torch.zeros(16))
    cost = LatentGoalCost(model, torch.zeros(1, 1, 16), torch.zeros(16))
    c, zf = cost(torch.zeros(3, 2, CFG.model.action_block_dim))
    assert c.shape == (3,) and zf.shape == (3, 16)


def test_api15_to_pixels_tensor_device():
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^to_pixels_tensor\(device=...\) cuda: .*use device='cpu'"):
            to_pixels_tensor(frames, "cuda")
    with pytest.raises(TypeError, match=r"^to_pixels_tensor\(device=...\) must be a torch.device"):
        to_pixels_tensor(frames, 1.5)
    for dev in ("cpu", torch.device("cpu")):
        assert to_pixels_tensor(frames, dev).shape == (1, 2, 3, 16, 16)


def test_api43_imagination_clips_as_execution_does(model):
    env = make("two_room", image_size=32)
    s = setup_plan(model, CFG, env, [50, 50], [150, 50])
    hi = s.bounds[1].numpy()
    np.testing.assert_array_equal(imagine_candidate(s, np.full((2, hi.size), 1e30)),
                                  imagine_candidate(s, np.tile(hi, (2, 1))))


def test_api58_run_episode_refuses_a_training_model(model):
    env = make("two_room", image_size=32)
    pcfg = PlannerConfig(num_samples=8, topk=2, iterations=2, horizon=2)
    model.train()
    try:
        with pytest.raises(ValueError, match=r"^run_episode\(model=...\) is in training mode: call model.eval\(\) first"):
            run_episode(env, model, CFG, pcfg, [50, 50], [150, 50], budget=2)
        assert model.training  # not switched behind the user's back
    finally:
        model.eval()
    assert run_episode(env, model, CFG, pcfg, [50, 50], [150, 50], budget=2).steps == 2


# ------------------------------------------------------------------------------------------ lewm.data
def test_api11_action_stats_of_none():
    with pytest.raises(TypeError, match=r"^action_stats_of\(cfg=...\) must be a LeWMConfig"):
        DT.action_stats_of(None)
    assert DT.action_stats_of(CFG).mean.shape == (CFG.model.action_dim,)


def test_api12_38_65_compute_action_stats_arguments(fresh_h5):
    ln, off = np.array([8, 8, 8]), np.array([0, 8, 16])
    with pytest.raises(DT.DataError, match=r"tr\.h5: episode 2 \(offset 17, length 8\) runs past the 24 rows"):
        DT.compute_action_stats(fresh_h5, ln, np.array([0, 8, 17]))
    for chunk in (-5, 0, 2.5, True):
        with pytest.raises(ValueError, match=r"^compute_action_stats: chunk must be a whole number >= 1, got "):
            DT.compute_action_stats(fresh_h5, ln, off, chunk=chunk)
    a, n = DT.compute_action_stats(fresh_h5, ln, off, chunk=np.int64(5))
    b, _ = DT.compute_action_stats(fresh_h5, ln, off)
    assert n == 3 and np.allclose(a.mean, b.mean) and np.allclose(a.std, b.std) and (a.std > 1e-3).all()


def test_api61_a_fresh_collect_file_loads_without_a_warning(fresh_h5, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = DT.WindowDataset(fresh_h5, 1, 1)
    assert len(ds) > 0 and np.isfinite(ds.get_batch(np.arange(len(ds)))["actions"].numpy()).all()
    odd = str(tmp_path / "odd.h5")
    shutil.copy(fresh_h5, odd)
    with h5py.File(odd, "r+") as f:
        f["action"][7] = [np.inf, 0.0]  # an episode's last row, not the layout's all-NaN one
        f["action"][15] = [np.nan, 0.5]
    with pytest.warns(UserWarning, match=r"odd\.h5: zeroed 2 action rows at episode ends holding inf or some NaN"):
        DT.WindowDataset(odd, 1, 1)
    with h5py.File(odd, "r+") as f:
        f["action"][3] = np.nan  # inside an episode: still refused
    with pytest.raises(DT.DataError, match=r"has NaN/inf at row 3, inside an episode"):
        DT.WindowDataset(odd, 1, 1)


def test_api62_63_64_window_and_stats_arguments(fresh_h5):
    ds = DT.WindowDataset(fresh_h5, 1, 1)
    with pytest.raises(TypeError, match=r"^WindowDataset.get_batch\(idx=...\) must be a 1-D array of whole window "
                                        r"indices, got float64 \(1,\)"):
        ds.get_batch(np.array([0.5]))
    with pytest.raises(IndexError, match=rf"^WindowDataset.get_batch: window {len(ds)} out of range"):
        ds.get_batch(np.array([0, len(ds)]))
    assert ds.get_batch(np.array([0, -1], np.int32))["pixels"].shape[0] == 2
    st = DT.ActionStats(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match=r"^ActionStats.normalize: actions have 3 columns \(shape \(4, 3\)\), the stats 2"):
        st.normalize(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"^ActionStats.denormalize: actions have 5 columns"):
        st.denormalize(torch.zeros(5))
    assert st.normalize(np.ones((4, 3, 2))).shape == (4, 3, 2) and st.denormalize(torch.ones(2)).shape == (2,)
    with pytest.raises(TypeError, match=r"^open_h5\(path=...\) must be a file name .* got None"):
        DT.open_h5(None)
    from pathlib import Path
    with DT.open_h5(Path(fresh_h5)) as f:
        assert "action" in f


def test_canvas_grid_refuses_a_non_environment():
    """Round 13 (api44): canvas_grid(None) returned None, which reads as 'not a canvas environment'."""
    from lewm.planning.stepwise import canvas_grid
    with pytest.raises(TypeError, match=r"canvas_grid\(env=\.\.\.\) must be an environment"):
        canvas_grid(None)
