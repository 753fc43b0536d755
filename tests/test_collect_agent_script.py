"""scripts/collect_agent.py: episodes driven by a checkpoint's planner, in lewm.collect's layout (readable by
``validate_file`` and ``WindowDataset``), with the executed actions recorded; its arguments refused in one line."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from lewm.collect import collect
from lewm.data import WindowDataset, validate_file

from _cli_errors import one_error_line
from test_scripts_round10 import _run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_ROOM = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")


@pytest.fixture(scope="module")
def mix_h5(tmp_path_factory):
    return collect("two_room", 3, str(tmp_path_factory.mktemp("ca") / "mix.h5"), episode_len=20, workers=1,
                   progress=False)


def test_collects_the_agents_episodes_and_the_copied_ones(mix_h5, tmp_path, capsys):
    out = str(tmp_path / "agent.h5")
    rc, stdout, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", out, "--episodes", "2",
                                                      "--budget", "10", "--horizon", "2", "--noisy", "1",
                                                      "--mix", mix_h5, "--copy", "2"])
    assert rc == 0, err
    info = validate_file(out)
    assert info["num_episodes"] == 4 and list(info["ep_len"]) == [11, 11, 20, 20]
    with h5py.File(out) as f, h5py.File(mix_h5) as m:
        act, st = f["action"][:], f["state"][:]
        assert np.isnan(act[10]).all() and np.isfinite(act[:10]).all()  # the last frame has no action
        assert np.abs(act[:10]).max() <= 1.0  # noisy actions clipped to the env's box
        assert f.attrs["policy"] == "agent" and f["ep_random"][:2].all()  # --noisy 1: both episodes noisy
        copied = {tuple(m["state"][o]) for o in m["ep_offset"][:]}
        assert {tuple(st[22]), tuple(st[42])} <= copied  # the copied episodes are the file's own
    # the executed actions move the agent as recorded: replaying them from the first state gives the states
    from lewm.envs import make
    env = make("two_room", image_size=16)
    env.reset(state=st[0], goal=st[10])
    for t in range(10):
        _, _, _, _, step_info = env.step(act[t])
        np.testing.assert_allclose(step_info["state"], st[t + 1], atol=1e-5)
    assert len(WindowDataset(out, history=1, frameskip=5)) > 0


@pytest.mark.parametrize("argv,words", [
    (["--episodes", "0"], "--episodes"),
    (["--noise", "nan"], "--noise"),
    (["--seed", "1"], "--seed"),  # eval seeds' pairs are never training data
    (["--copy", "2"], "--mix and --copy go together"),
    (["--horizon", "3", "--receding-horizon", "4"], "--receding-horizon 4"),
])
def test_refuses_bad_arguments_in_one_line(argv, words, tmp_path, capsys):
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", str(tmp_path / "x.h5")] + argv)
    assert rc == 2 and words in one_error_line(err)
    assert not os.path.exists(tmp_path / "x.h5")


def test_never_replaces_a_dataset_unasked(mix_h5, tmp_path, capsys):
    before = open(mix_h5, "rb").read()
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", mix_h5, "--episodes", "1"])
    assert rc == 2 and "--force" in one_error_line(err)
    assert open(mix_h5, "rb").read() == before


def test_open_loop_plays_each_plan_whole(tmp_path, capsys):
    """--receding-horizon = --horizon: one plan per --horizon blocks (the data holds whole planned sequences)."""
    out = str(tmp_path / "open.h5")
    rc, stdout, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", out, "--episodes", "1",
                                                      "--budget", "20", "--horizon", "2", "--receding-horizon", "2",
                                                      "--noisy", "0"])
    assert rc == 0, err
    assert "re-plan every 2 blocks" in stdout
    assert validate_file(out)["num_episodes"] == 1


def test_tiny_budgets_write_a_file_and_copy_0_is_named(mix_h5, tmp_path, capsys):
    """Fewer than 8 frames in all was h5py's "Chunk shape must not be greater than data shape" after the run;
    ``--mix F --copy 0`` was told "--mix and --copy go together" although both were given."""
    out = str(tmp_path / "tiny.h5")
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", out, "--episodes", "1",
                                                 "--budget", "1", "--noisy", "0"])
    assert rc == 0, err
    with h5py.File(out) as f:
        assert f["ep_len"][:].tolist() == [2] and f["pixels"].shape[0] == 2  # the start frame and one step
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", str(tmp_path / "c0.h5"),
                                                 "--mix", mix_h5, "--copy", "0"])
    assert rc == 2 and "--copy 0 with --mix" in one_error_line(err)
