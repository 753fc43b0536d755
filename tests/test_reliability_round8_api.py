"""Round 8 (hostile API tester): environments, data, diagnostics, SIGReg/metrics/loss refuse bad
arguments with one ValueError/TypeError naming the argument, instead of an IndexError, a numpy/torch/
scipy message, or a silently wrong result (an empty frame, NaN, a negative index from the end)."""
from __future__ import annotations

import os
import warnings

import h5py
import numpy as np
import pytest
import torch

from lewm.data import ActionStats, DataError, WindowDataset, batch_iterator, load_episode, validate_file
from lewm.envs import make

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "two_room", "model.pt")


def _raises(cases):
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()


# ----------------------------------------------------------------------------- environments
def test_env_start_and_goal_states_must_be_in_the_world():
    """env1/env6/env19/env21/env7: out-of-world, in-wall, absurd and non-numeric start/goal states."""
    tr, pt, re = make("two_room", image_size=16), make("pusht", image_size=16), make("reacher", image_size=16)
    world = r"is outside the world: the dot's centre must be in \[21, 203\] x \[21, 203\] and not inside the wall"
    _raises([
        (lambda: tr.reset(state=[1e6, -1e6]), ValueError, r"^two_room: state \[1e\+06, -1e\+06\] " + world),
        (lambda: tr.reset(state=[112, 30]), ValueError, r"^two_room: state \[112, 30\] " + world),
        (lambda: tr.reset(goal=[112, 150]), ValueError, r"^two_room: goal \[112, 150\] " + world),
        (lambda: tr.set_goal("ab"), ValueError, r"^two_room: goal must have 2 values \('agent_x', 'agent_y'\), got 'ab'"),
        (lambda: pt.reset(state=[1e9] * 7), ValueError, r"^pusht: state .* is outside the world: agent and block positions in \[0, 512\]"),
        (lambda: pt.set_goal([1e9, 1e9, 0.0]), ValueError, r"^pusht: goal .* is outside the world"),
        (lambda: pt.set_goal([256, 256, np.inf]), ValueError, r"^pusht: goal must have a finite block pose"),
        (lambda: re.reset(state=[1e20] * 4), ValueError, r"^reacher: state .* is outside the world: joint angles"),
        (lambda: re.reset(state=[0.0, 0.0, 50.0, 0.0]), ValueError, r"joint speeds \|dq1\|, \|dq2\| <= 8"),
    ])
    assert not tr.valid_states([[112, 30]])[0] and tr.valid_states([[112, 49]])[0]  # the doorway is open
    # the states the env itself produces stay valid, and the doorway, the wall faces and PushT's
    # "don't care" agent goal are accepted
    tr.reset(state=[100.0, 30.0], goal=[115.0, 40.0])
    pt.set_goal([256.0, 256.0, np.pi / 4])
    assert np.isnan(pt.goal_state[:2]).all()
    # Reacher: angles wrap (the docstring's promise), exactly representable ones round-trip
    re.reset(state=[3 * np.pi, -0.5, 1.0, 0.0])
    np.testing.assert_allclose(re.get_state()[:2], [-np.pi, -0.5], atol=1e-6)
    s = np.float32([np.pi, -np.pi, 0.5, -0.5])  # float32 π is a hair above π: kept as it is
    re.set_state(s)
    np.testing.assert_array_equal(re.get_state(), s)


def test_env_render_state_refuses_what_it_cannot_draw():
    """env3/env4/env5/env20: a huge or NaN state rendered the empty background; 3 values a reshape error."""
    tr, pt = make("two_room", image_size=16), make("pusht", image_size=16)
    _raises([
        (lambda: tr.render_state([1e300, 1e300]), ValueError, r"^two_room: render_state: state .* is off the canvas"),
        (lambda: tr.render_state([np.nan, 3]), ValueError, r"^two_room: render_state: state \[nan, 3\] must be finite"),
        (lambda: tr.render_state([1, 2, 3]), ValueError, r"^two_room: render_state: state must have 2 values .*got \(3,\)"),
        (lambda: pt.render_state([1e30] * 7), ValueError, r"^pusht: render_state: state .* is outside the world"),
        (lambda: pt.render_state([np.nan] * 7), ValueError, r"neither an agent nor a block to draw"),
    ])
    tr.render_state([112.0, 150.0])  # inside the wall: drawable (landscape grids cross walls)
    blank = pt.render_state([100.0, 100.0, np.nan, np.nan, np.nan, 0.0, 0.0])  # agent only: still allowed
    assert blank.shape == (16, 16, 3)


def test_env_constructor_arguments_are_checked():
    """env8/env10-14/env23: sizes, step limits, probabilities, flags and seeds numpy or Python took."""
    _raises([
        (lambda: make("two_room", image_size=10**6), ValueError, r"^image_size must be at most 1024 pixels"),
        (lambda: make("two_room", max_episode_steps=0), ValueError, r"^two_room: max_episode_steps must be a whole number >= 1"),
        (lambda: make("two_room", max_episode_steps=-3), ValueError, r"max_episode_steps .*got -3"),
        (lambda: make("two_room", max_episode_steps=2.7), ValueError, r"max_episode_steps .*got 2.7"),
        (lambda: make("two_room", other_room_prob=5), ValueError, r"^two_room: other_room_prob must be a probability in \[0, 1\], got 5"),
        (lambda: make("two_room", seed=-1), ValueError, r"^two_room: seed must be a whole number >= 0 \(or None\), got -1"),
        (lambda: make("two_room", terminate_on_success="no"), TypeError, r"^two_room: terminate_on_success must be True or False"),
        (lambda: make("reacher", draw_target="no"), TypeError, r"^reacher: draw_target must be True or False"),
        (lambda: make("pusht", supersample=0), ValueError, r"^pusht: supersample must be a whole number in 1..8"),
    ])
    assert make("two_room", max_episode_steps=np.int64(7), seed=np.int64(3)).max_episode_steps == 7


def test_env_distances_and_success_check_their_arguments():
    """env17/env18: a short state was an IndexError, a NaN goal made is_success False silently."""
    tr, re = make("two_room", image_size=16), make("reacher", image_size=16)
    _raises([
        (lambda: tr.success_distance([1], [2]), ValueError, r"^two_room: state must have 2 values"),
        (lambda: tr.is_success([10, 10], [np.nan, np.nan]), ValueError, r"^two_room: goal must be finite"),
        (lambda: re.success_distance([0, 0, 0, 0], [np.nan, 0, 0, 0]), ValueError, r"^reacher: goal must be finite"),
    ])
    assert tr.success_distance([30.0, 30.0], [30.0, 40.0]) == pytest.approx(10.0)


def test_env_stepping_past_the_limit_is_documented_and_stays_truncated():
    """env2: collect's --episode-len and the planner's budget step past max_episode_steps on
    purpose, so it is allowed (documented in Env.step) and ``truncated`` stays True."""
    env = make("two_room", image_size=16, max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step([0.0, 0.0])[3] for _ in range(5)]
    assert flags == [False, False, True, True, True] and env.elapsed_steps == 5


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def lab_h5(tmp_path_factory):
    """A two_room file written by this lab's collect (attribute lewm_format_version)."""
    from lewm.collect import collect
    p = str(tmp_path_factory.mktemp("r8") / "tr.h5")
    collect("two_room", 3, p, image_size=16, episode_len=8, workers=1, progress=False)
    return p


def _variant(src: str, dst: str, edit) -> str:
    import shutil
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def test_window_dataset_episode_lists_seed_and_action_stats(syn_h5):
    """w1-w4, w6, w8, w9, w17: explicit episode indices, seed, history and action_stats."""
    _raises([
        (lambda: WindowDataset(syn_h5, 1, 5, episodes=[100]), ValueError, r"^WindowDataset: episode 100 is not in .*episodes 0\.\.11"),
        (lambda: WindowDataset(syn_h5, 1, 5, episodes=[-1]), ValueError, r"^WindowDataset: episode -1 is not in"),
        (lambda: WindowDataset(syn_h5, 1, 5, episodes=[0, 0]), ValueError, r"^WindowDataset: episode 0 is listed more than once"),
        (lambda: WindowDataset(syn_h5, 1, 5, episodes=[]), ValueError, r"^WindowDataset: episodes is empty"),
        (lambda: WindowDataset(syn_h5, 1, 5, episodes=[0.5]), ValueError, r"^WindowDataset: episodes must be a 1-D list"),
        (lambda: WindowDataset(syn_h5, 1, 5, seed=-1), ValueError, r"^WindowDataset: seed must be a whole number >= 0, got -1"),
        (lambda: WindowDataset(syn_h5, True, 5), ValueError, r"^WindowDataset: history must be a whole number >= 1, got True"),
        (lambda: WindowDataset(syn_h5, 1, 5, action_stats=ActionStats(np.zeros(3), np.ones(3))), ValueError,
         r"^WindowDataset: action_stats has 3 dimensions but .* has 2-dim actions"),
        (lambda: ActionStats(np.zeros(2), np.zeros(2)), ValueError, r"^ActionStats: mean must be finite and std finite and > 0"),
        (lambda: ActionStats(np.zeros(2), np.ones(3)), ValueError, r"^ActionStats: mean and std must be two 1-D arrays"),
    ])
    ds = WindowDataset(syn_h5, 1, 5, episodes=[3, 1])
    assert ds.episodes.tolist() == [1, 3]
    gen = torch.Generator().manual_seed(0)
    _raises([(lambda: next(batch_iterator(ds, 0, gen)), ValueError, r"^batch_iterator: batch_size must be a whole number >= 1, got 0"),
             (lambda: next(batch_iterator(ds, -3, gen)), ValueError, r"batch_size .*got -3")])
    assert next(batch_iterator(ds, 2, gen))["pixels"].shape[0] == 2


def test_load_episode_and_validate_file_arguments(syn_h5, lab_h5, tmp_path):
    """w19-w22, w25, N25: episode indices of the wrong type, image_size 0, a goal_state of the wrong
    width, a newer format version, and a lab file whose states are off the map (eval scored 0%)."""
    _raises([
        (lambda: load_episode(syn_h5, 1.5), TypeError, r"^load_episode: episode must be a whole number .*got 1.5"),
        (lambda: load_episode(syn_h5, True), TypeError, r"got True"),
        (lambda: load_episode(syn_h5, "1"), TypeError, r"got '1'"),
        (lambda: validate_file(syn_h5, 0), ValueError, r"^validate_file: image_size must be a whole number >= 8, got 0"),
    ])
    assert load_episode(syn_h5, np.int64(1))["pixels"].shape[0] == 40
    assert validate_file(lab_h5)["env"] == "two_room"
    goal5 = _variant(lab_h5, str(tmp_path / "goal5.h5"),
                     lambda f: (f.__delitem__("goal_state"), f.create_dataset("goal_state", data=np.zeros((3, 5), np.float32))))
    v99 = _variant(lab_h5, str(tmp_path / "v99.h5"), lambda f: f.attrs.__setitem__("lewm_format_version", 99))
    x100 = _variant(lab_h5, str(tmp_path / "x100.h5"), lambda f: f["state"].__setitem__(slice(None), f["state"][()] * 100))
    goal_wall = _variant(lab_h5, str(tmp_path / "gw.h5"), lambda f: f["goal_state"].__setitem__(1, [112.0, 150.0]))
    _raises([
        (lambda: validate_file(goal5), DataError, r"key 'goal_state' must be real numbers \(3, 2\).*got float32 \(3, 5\)"),
        (lambda: load_episode(goal5, 0), DataError, r"key 'goal_state' must be \(3, Q\).*got \(3, 5\)"),
        (lambda: validate_file(v99), DataError, r"v99\.h5: written in episode-file format 99 .*reads format 1 at most"),
    ])
    from lewm.envs import make
    from lewm.evaluate import check_world_states  # the path `eval --data` takes: one line naming the file
    tr = make("two_room", image_size=16)
    _raises([
        (lambda: check_world_states(x100, tr), DataError, r"x100\.h5: key 'state' row 0 = .* is outside the two_room world"),
        (lambda: check_world_states(goal_wall, tr), DataError, r"gw\.h5: key 'goal_state' row 1 is not a two_room goal state"),
    ])
    check_world_states(lab_h5, tr)
    check_world_states(syn_h5, tr)  # another tool's file (no lewm_format_version): its units are its own


# ----------------------------------------------------------------------------- diagnostics
def test_diagnostics_pure_functions_refuse_bad_arguments():
    """d4-d7, d9, d10, d13, d15-d17, d24, d25, d27, d29, d31, d35, d44."""
    from lewm.config import get_preset
    from lewm.diagnostics import (action_blocks, collapse_verdict, default_teleport_dims, demo_latents, pearson_r,
                                  r2_score_cols, readout_angle, sweep_frames, sweep_starts)
    from lewm.diagnostics.episode_failure import explain_failure
    from lewm.diagnostics.health import UNKNOWN, health_verdict
    cfg = get_preset("cpu-tiny")
    _raises([
        (lambda: explain_failure([1, 2, 3], [np.nan, 1, 2], 16), ValueError, r"^explain_failure: distance holds NaN/inf at step\(s\) \[0\]"),
        (lambda: explain_failure([1, 2, 3, 4], [5, 4, 3, 2], float("nan")), ValueError, r"^explain_failure: threshold must be a finite number"),
        (lambda: explain_failure([1, 2, 3, 4], [5, 4, 3, 2], "x"), ValueError, r"threshold .*got 'x'"),
        (lambda: explain_failure([1, 2, 3, 4], [5, 5, 5, 5], 1, plan_costs="abc"), ValueError, r"^explain_failure: plan_costs must be a list of numbers"),
        (lambda: health_verdict(1.0, 3, 0), ValueError, r"^health_verdict: latent_dim \(the latents' D\) must be a whole number >= 1, got 0"),
        (lambda: health_verdict(1.0, 100, 16), ValueError, r"^health_verdict: effective_rank must be in \[0, latent_dim = 16\], got 100"),
        (lambda: collapse_verdict(-1.0, 5, 16), ValueError, r"^collapse_verdict: mean_std is a standard deviation"),
        (lambda: demo_latents("gaussian", n=0), ValueError, r"^demo_latents: n must be a whole number >= 1, got 0"),
        (lambda: demo_latents("line", dim=0), ValueError, r"^demo_latents: dim must be"),
        (lambda: demo_latents("gaussian", n=-5), ValueError, r"got -5"),
        (lambda: readout_angle(np.ones(4), np.ones(5)), ValueError, r"^readout_angle needs two directions of one length"),
        (lambda: sweep_starts(40, cfg, max_starts=0), ValueError, r"^sweep_starts: max_starts must be a whole number >= 1"),
        (lambda: sweep_frames(40, cfg, most=0), ValueError, r"^sweep_frames: most must be a whole number >= 1"),
        (lambda: r2_score_cols(np.ones((5, 2)), np.ones((4, 2))), ValueError, r"^r2_score_cols needs pred and true of one shape"),
        (lambda: pearson_r(np.ones((5, 2)), np.ones((5, 3))), ValueError, r"^pearson_r needs pred and true of one shape"),
        (lambda: default_teleport_dims("agent_x,agent_y"), TypeError, r"^state_names must be a sequence of names, not one string"),
        (lambda: action_blocks(np.zeros((10, 2)), np.arange(3), 0, None), ValueError, r"^action_blocks: frameskip must be"),
    ])
    assert health_verdict(float("nan"), float("nan"), 0).status == UNKNOWN  # the lab's live view before any data
    with pytest.warns(UserWarning, match="zero readout direction"):
        assert np.isnan(readout_angle(np.zeros(4), np.zeros(4)))
    t = np.c_[np.arange(6.0), np.ones(6)]  # the second true column is constant: nothing to score
    with pytest.warns(UserWarning, match=r"true column\(s\) \[1\] are constant"):
        r = pearson_r(t + 0.1, t)
    assert r[0] == pytest.approx(1.0) and np.isnan(r[1])
    with pytest.warns(UserWarning, match="constant"):
        assert np.isnan(r2_score_cols(t, t)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant *prediction* of a varying truth reads nothing: 0, no warning
        assert pearson_r(np.ones(6), np.arange(6.0)) == 0.0


def test_diagnostics_with_latents_and_frames_refuse_bad_arguments():
    """d18, d20, d21, d23 (NearestFrames), d36-d38 (render_mismatch), d41 (decode), d56 (UMAP)."""
    from lewm.diagnostics import NearestFrames, fit_latent_map, render_mismatch
    from lewm.diagnostics.decoder import LatentDecoder, decode
    z = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    nf = NearestFrames(z)
    env = make("two_room", image_size=16)
    px, st = np.zeros((4, 16, 16, 3), np.uint8), np.full((4, 2), 60.0)
    _raises([
        (lambda: NearestFrames(np.zeros((0, 4))), ValueError, r"^NearestFrames needs stored latents of shape \(N, D\) with N >= 1"),
        (lambda: NearestFrames(np.full((3, 4), np.nan)), ValueError, r"^NearestFrames: the stored latents hold NaN/inf \(3 of 3 rows\)"),
        (lambda: nf.query(z[:1], k=0), ValueError, r"^NearestFrames.query: k must be a whole number >= 1, got 0"),
        (lambda: nf.query(np.zeros((1, 6))), ValueError, r"^NearestFrames.query: z must be \(M, 4\) or \(4,\)"),
        (lambda: nf.query(np.full(4, np.nan)), ValueError, r"^NearestFrames.query: z hold NaN/inf"),
        (lambda: render_mismatch(px, st, env, [100]), ValueError, r"^render_mismatch: frames: \[100\] outside the episode's 4 frames"),
        (lambda: render_mismatch(px, st, env, [-1]), ValueError, r"^render_mismatch: frames: \[-1\]"),
        (lambda: render_mismatch(px, st[:, :1], env, [0]), ValueError, r"^render_mismatch: states must be \(4, 2\)"),
        (lambda: decode(LatentDecoder(4, 16), np.zeros((2, 5))), ValueError, r"^decode: the decoder was trained on 4-dim latents"),
        (lambda: fit_latent_map(z[:3], "umap"), ValueError, r"^fit_latent_map: UMAP needs at least 4 latents"),
    ])
    assert nf.query(z[2], k=2).indices[0, 0] == 2
    assert 0.0 <= render_mismatch(px, st, env, [0, 3]) <= 1.0


def test_goal_cost_landscape_refuses_a_goal_off_the_map_and_a_tiny_grid():
    """d47: n=1 gave Spearman NaN; d48: a goal at (1e6, 1e6) was scored against the grid."""
    from lewm import checkpoint
    from lewm.diagnostics import goal_cost_landscape
    model, cfg, _ = checkpoint.load(SHIPPED)
    env = make("two_room", image_size=cfg.model.image_size)
    _raises([
        (lambda: goal_cost_landscape(model, env, [1e6, 1e6], n=4), ValueError,
         r"^goal_state \[1000000.0, 1000000.0\] is outside the world: the dot's centre"),
        (lambda: goal_cost_landscape(model, env, [100.0, 100.0], n=1), ValueError,
         r"^goal_cost_landscape: n \(grid points per side.*must be a whole number >= 3, got 1"),
    ])


# ----------------------------------------------------------------------------- SIGReg / metrics / loss
def test_sigreg_metrics_and_loss_name_the_problem():
    """g8, g10-g14, l5."""
    from lewm.loss import lewm_loss
    from lewm.metrics import covariance_spectrum, effective_rank
    from lewm.sigreg import epps_pulley, random_directions
    z = torch.randn(64, 16)
    _raises([
        (lambda: random_directions(0, 4), ValueError, r"^SIGReg directions need a latent dimension \(dim\) >= 1, got 0"),
        (lambda: epps_pulley(torch.randn(10)), ValueError, r"^epps_pulley expects samples of shape \(\.\.\., B, M\)"),
        (lambda: covariance_spectrum(z[:1]), ValueError, r"^covariance_spectrum needs at least 2 latents"),
        (lambda: effective_rank(z[:1]), ValueError, r"needs at least 2 latents"),
        (lambda: effective_rank(torch.full((4, 3), float("nan"))), ValueError, r"the latents hold 12 NaN/inf values"),
        (lambda: effective_rank(torch.randn(10)), ValueError, r"expects latents of shape \(N, D\) or \(\.\.\., D\), got \(10,\)"),
        (lambda: effective_rank(np.zeros((4, 3))), TypeError, r"expects a torch tensor"),
        (lambda: lewm_loss(None, {"pixels": torch.zeros(1)}, None), ValueError,
         r"^lewm_loss: the batch lacks \['actions'\]; expected 'pixels' .* got keys \['pixels'\]"),
    ])
    assert effective_rank(z[:1], centered=False) == pytest.approx(1.0)  # a second moment needs one row only
    assert epps_pulley(torch.randn(10)[:, None]).shape == (1,)
