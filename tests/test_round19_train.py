"""Round 19 (train's run folder): links and pipes named like a run's files are refused (C1, C2); a folder
with both last.pt and model.pt is ambiguous, a shipped checkpoint's folder is no run folder (C6); a run
that fails before its first checkpoint removes what it wrote, never an earlier run's files (C17)."""
import hashlib
import os
import shutil

import pytest
import torch

from lewm import checkpoint
from lewm.checkpoint import CheckpointError
from lewm.config import get_preset
from lewm.train import TrainingDiverged, train


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _md5(p):
    return hashlib.md5(open(p, "rb").read()).hexdigest()


def _cfg():
    return get_preset("cpu-tiny")


@pytest.fixture(scope="module")
def done_run(tmp_path_factory, syn_h5):
    out = str(tmp_path_factory.mktemp("r19") / "tr")
    train(_cfg(), syn_h5, out, steps=3, progress=False, val_batches=0)
    return out


@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl", "last.pt"])
def test_c1_symlinked_run_file_refused_target_untouched(tmp_path, syn_h5, done_run, name):
    d = tmp_path / "d.h5"
    shutil.copy(syn_h5 if name != "last.pt" else os.path.join(done_run, "last.pt"), d)
    before = _md5(d)
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(str(d), run / name)
    with pytest.raises(ValueError, match=rf"train\(out=\.\.\.\) .*{name}: is a symbolic link to .*d\.h5"):
        train(_cfg(), syn_h5, str(run), steps=2, progress=False)
    assert _md5(d) == before and os.path.islink(run / name)


@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl", "last.pt"])
def test_c2_fifo_run_file_refused_before_opening(tmp_path, syn_h5, name):
    run = tmp_path / "f"
    run.mkdir()
    os.mkfifo(run / name)
    with pytest.raises(ValueError, match=rf"{name}: is a pipe \(FIFO\), not a regular file"):
        train(_cfg(), syn_h5, str(run), steps=2, progress=False)


def test_c6_folder_with_both_checkpoints_is_ambiguous(tmp_path, done_run):
    run = tmp_path / "both"
    shutil.copytree(done_run, run)
    shutil.copy(run / "last.pt", run / "model.pt")
    with pytest.raises(CheckpointError, match=r"holds both last.pt .* and model.pt .*pass the file itself"):
        checkpoint.load(str(run))
    assert checkpoint.load(str(run / "model.pt"))[2]["step"] == 3  # the file itself still loads
    os.remove(run / "model.pt")
    assert checkpoint.load(str(run))[2]["step"] == 3  # one checkpoint: the folder still resolves


def test_c6_train_refuses_shipped_checkpoint_folder(tmp_path, syn_h5, done_run):
    ship = tmp_path / "tw"
    ship.mkdir()
    shutil.copy(os.path.join(done_run, "last.pt"), ship / "model.pt")
    (ship / "eval.json").write_text('{"planner": {}}')
    with pytest.raises(ValueError, match=r"holds model.pt \(a shipped or exported checkpoint\) and no run's last.pt"):
        train(_cfg(), syn_h5, str(ship), steps=2, progress=False)
    assert sorted(os.listdir(ship)) == ["eval.json", "model.pt"]
    # a run's own folder with its export beside last.pt resumes as before
    run = tmp_path / "own"
    shutil.copytree(done_run, run)
    shutil.copy(run / "last.pt", run / "model.pt")
    assert train(_cfg(), syn_h5, str(run), steps=4, progress=False, val_batches=0).step == 4


def test_c6_train_refuses_foreign_config_json(tmp_path, syn_h5):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "config.json").write_text('{"_target_": "x"}')
    with pytest.raises(ValueError, match=r"config.json: is a JSON file .*not a run's config"):
        train(_cfg(), syn_h5, str(rel), steps=2, progress=False)
    assert (rel / "config.json").read_text() == '{"_target_": "x"}'


def test_c17_failed_first_run_removes_its_files(tmp_path, syn_h5):
    run = tmp_path / "div"
    with pytest.raises(TrainingDiverged, match="none \\(no checkpoint was written before it\\)"):
        train(_cfg().with_overrides(train={"lr": 1e308, "log_every": 1}), syn_h5, str(run), steps=5, progress=False)
    assert os.listdir(run) == []  # config.json and metrics.jsonl removed (the folder stays)

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="boom"):
        train(_cfg(), syn_h5, str(kept), steps=5, progress=False,
              on_step=lambda s: (_ for _ in ()).throw(RuntimeError("boom")))
    assert sorted(os.listdir(kept)) == ["notes.txt"]


def test_c17_earlier_run_files_stay(tmp_path, syn_h5, done_run):
    run = tmp_path / "again"
    shutil.copytree(done_run, run)
    with pytest.raises(RuntimeError, match="boom"):
        train(_cfg(), syn_h5, str(run), steps=6, progress=False,
              on_step=lambda s: (_ for _ in ()).throw(RuntimeError("boom")))
    assert {"config.json", "metrics.jsonl", "last.pt"} <= set(os.listdir(run))
