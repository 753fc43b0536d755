"""Round 27, the edges of the allowed ranges, run folders edited by hand, the process environment
(docs/reliability_round27.md): one test per root, each failing before its fix."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lewm.cli import main

from _cli_errors import one_error, train_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_train, _one_error = train_tiny, one_error  # tests/_cli_errors.py: shared with the other rounds


@pytest.mark.parametrize("field", ["model.enc_dim", "model.enc_depth", "model.pred_dim", "model.pred_depth"])
def test_e1_architecture_sizes_have_an_upper_end(syn_h5, tmp_path, capsys, field, one_thread):
    """10**12 was a traceback ("Storage size calculation overflowed") or a hang building 10**12 blocks."""
    assert _train(syn_h5, tmp_path / "r", "--steps", "1", "--set", f"{field}=1000000000000") == 2
    line = _one_error(capsys)
    assert f"{field} must be in [1, " in line and "got 1000000000000" in line
    assert not os.path.exists(tmp_path / "r")


@pytest.mark.parametrize("sets,words", [
    (["sigreg.t_max=1e-300"], "raise sigreg.t_max to at least 0.5"),
    (["sigreg.t_max=100"], "raise sigreg.knots to at least"),
    (["sigreg.t_max=6", "sigreg.knots=2"], "raise sigreg.knots to at least 3"),
])
def test_e2_a_sigreg_quadrature_blind_to_collapse_is_refused(syn_h5, tmp_path, capsys, sets, words, one_thread):
    """t_max 1e-300, or 100 with 17 knots, trained with "sigreg=0.000": the regulariser off without a word."""
    args = [a for s in sets for a in ("--set", s)]
    assert _train(syn_h5, tmp_path / "r", "--steps", "1", *args) == 2
    line = _one_error(capsys)
    assert "SIGReg would score even fully collapsed latents ~0" in line and words in line
    assert not os.path.exists(tmp_path / "r")


def test_e2_usable_quadratures_still_train(syn_h5, tmp_path, capsys, one_thread):
    from lewm._range_edges import check_sigreg_sees_collapse
    from lewm.config import SIGRegConfig
    for kw in ({}, {"t_max": 0.5}, {"knots": 2}, {"t_max": 100.0, "knots": 1000}, {"t_max": 1e-300, "weight": 0.0}):
        check_sigreg_sees_collapse(SIGRegConfig(**kw))


def test_e3_warmup_longer_than_the_run_is_said(syn_h5, tmp_path, capsys, one_thread):
    """cpu-tiny's warmup 5 under --steps 2: the learning rate never reached train.lr, without a word."""
    assert _train(syn_h5, tmp_path / "r", "--steps", "2") == 0
    err = capsys.readouterr().err
    assert "note: train.warmup_steps 5 >= train.steps 2: the learning rate only ramped up" in err
    assert _train(syn_h5, tmp_path / "s", "--steps", "2", "--set", "train.warmup_steps=1") == 0
    assert "warmup_steps" not in capsys.readouterr().err


def test_e4_samples_alone_below_the_default_elites_runs():
    """--samples 10 alone was "--topk must be <= --samples (10), got 30" for a --topk never given."""
    from lewm.evaluate import resolve_planner
    pcfg, line = resolve_planner("/nonexistent/last.pt", "shipped", {"num_samples": 10})
    assert (pcfg.num_samples, pcfg.topk) == (10, 1) and "top 30 -> 1: the elites scaled with --samples" in line
    pcfg, line = resolve_planner("/nonexistent/last.pt", "shipped", {"num_samples": 20})
    assert pcfg.topk == 2
    pcfg, line = resolve_planner("/nonexistent/last.pt", "shipped", {"num_samples": 100})
    assert pcfg.topk == 30 and "scaled" not in line  # fewer elites than samples: as they were
    pcfg, _ = resolve_planner("/nonexistent/last.pt", "shipped", {"num_samples": 300})
    assert pcfg.topk == 30  # the default pair unchanged
    with pytest.raises(ValueError, match=r"--topk must be <= --samples \(10\), got 30"):
        resolve_planner("/nonexistent/last.pt", "shipped", {"num_samples": 10, "topk": 30})  # given: refused


def test_e4_bench_plan_samples_alone(tmp_path, capsys, one_thread):
    out = tmp_path / "b.json"
    assert main(["bench", "plan", "--preset", "cpu-tiny", "--samples", "2", "--iterations", "1", "--repeats", "1",
                 "--warmup", "0", "--threads", "1", "--device", "cpu", "--json", str(out)]) == 0
    assert os.path.isfile(out)


def _sha(p) -> str:
    import hashlib
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_l1_a_run_whose_last_pt_was_deleted_is_not_started_over(syn_h5, tmp_path, capsys, one_thread):
    """last.pt deleted by hand, step_N.pt and metrics.jsonl kept: the same command deleted them and trained from 0."""
    run = tmp_path / "r"
    snap = ["--set", "train.keep_snapshots=true", "--set", "train.ckpt_every=1", "--set", "train.warmup_steps=1"]
    assert _train(syn_h5, run, "--steps", "2", *snap) == 0
    os.remove(run / "last.pt")
    before = {n: _sha(run / n) for n in os.listdir(run)}
    capsys.readouterr()
    assert _train(syn_h5, run, "--steps", "4", *snap) == 2
    line = _one_error(capsys)
    assert "holds an earlier run's metrics.jsonl (up to step 2) and step_1.pt but no last.pt" in line
    assert "--no-resume" in line
    assert {n: _sha(run / n) for n in os.listdir(run)} == before  # nothing deleted, nothing rewritten
    os.remove(run / "step_1.pt")  # the log alone, past the run's first checkpoint: also refused
    assert _train(syn_h5, run, "--steps", "4", *snap) == 2
    assert "metrics.jsonl (up to step 2) but no last.pt" in _one_error(capsys)
    assert _train(syn_h5, run, "--steps", "2", "--no-resume", *snap) == 0  # asked for: starts over


def test_l1_a_run_stopped_before_its_first_checkpoint_still_starts_over(syn_h5, tmp_path, capsys, one_thread):
    run = tmp_path / "r"
    os.makedirs(run)
    with open(run / "metrics.jsonl", "w") as f:  # a run killed at step 1, before its checkpoint at 25
        f.write('{"step": 1, "loss": 0.5}\n')
    assert _train(syn_h5, run, "--steps", "2", "--set", "train.warmup_steps=1") == 0


def test_l2_another_runs_metrics_log_is_not_continued(syn_h5, tmp_path, capsys, one_thread):
    """Another run's metrics.jsonl copied over this one's: kept up to the step and continued, two runs in one log."""
    import shutil
    a, b = tmp_path / "a", tmp_path / "b"
    assert _train(syn_h5, a, "--steps", "2", "--set", "train.warmup_steps=1") == 0
    assert _train(syn_h5, b, "--steps", "3", "--set", "train.warmup_steps=1", "--seed", "7") == 0
    shutil.copy(b / "metrics.jsonl", a / "metrics.jsonl")
    before = {n: _sha(a / n) for n in os.listdir(a)}
    capsys.readouterr()
    assert _train(syn_h5, a, "--steps", "4", "--set", "train.warmup_steps=1") == 2
    line = _one_error(capsys)
    assert "metrics.jsonl: its step 2 line (loss" in line and "the log is another run's" in line
    assert {n: _sha(a / n) for n in os.listdir(a)} == before
    os.remove(a / "metrics.jsonl")  # moved away: the run resumes with a new log
    assert _train(syn_h5, a, "--steps", "4", "--set", "train.warmup_steps=1") == 0


@pytest.mark.parametrize("kind", ["folder", "text"])
def test_l3_a_foreign_entry_where_a_snapshot_goes_is_named_before_the_run(syn_h5, tmp_path, capsys, kind, one_thread):
    """A folder or a text file named step_4.pt stopped the run at step 4: "save: ... pick another name"."""
    run = tmp_path / "r"
    snap = ["--set", "train.keep_snapshots=true", "--set", "train.ckpt_every=2", "--set", "train.warmup_steps=1"]
    assert _train(syn_h5, run, "--steps", "2", *snap) == 0
    if kind == "folder":
        os.makedirs(run / "step_4.pt")
    else:
        (run / "step_4.pt").write_text("mine")
    last = _sha(run / "last.pt")
    capsys.readouterr()
    assert _train(syn_h5, run, "--steps", "6", *snap) == 2
    line = _one_error(capsys)
    assert "step_4.pt: is a" in line and "where the run writes its step 4 snapshot (train.keep_snapshots" in line
    assert _sha(run / "last.pt") == last  # no step was trained


def test_l4_a_folder_named_like_the_lock_or_last_pt_is_named(syn_h5, tmp_path, capsys, one_thread):
    """.lock made a folder: "[Errno 21] Is a directory"; last.pt a folder: "a folder with no last.pt or model.pt
    inside" (nothing to do)."""
    run = tmp_path / "r"
    assert _train(syn_h5, run, "--steps", "1") == 0
    os.makedirs(run / ".lock")
    capsys.readouterr()
    assert _train(syn_h5, run, "--steps", "2") == 2
    assert "r/.lock: is a folder where the run's lock file goes (made by hand?); remove it" in _one_error(capsys)
    os.rmdir(run / ".lock")
    os.remove(run / "last.pt")
    os.makedirs(run / "last.pt")
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "e.pt")]) == 2
    assert "last.pt: is a folder, not a checkpoint file (made where a checkpoint belongs?)" in _one_error(capsys)


def _lewm(args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "lewm", *args], env=env, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def tiny_ckpt(syn_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("r27") / "run"
    assert _train(syn_h5, out, "--steps", "1") == 0
    return str(out / "last.pt")


def test_c1_a_stdout_pipe_closed_by_its_reader_does_not_fail_finished_work(tiny_ckpt, tmp_path):
    """`python -m lewm export ... | head -1`: the file written, then "error: [Errno 32] Broken pipe", exit 2."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "lewm", "export", "--checkpoint", tiny_ckpt, "--out",
                          str(tmp_path / "e.pt")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    p.stdout.close()  # the reader went away before the first line
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0, err
    assert "note: standard output was closed by its reader (a pipe such as | head)" in err and "error" not in err
    assert os.path.getsize(tmp_path / "e.pt") > 0


def test_c2_a_full_stdout_is_not_called_a_full_disk(tiny_ckpt, tmp_path):
    """> /dev/full: "error: disk full ... (partial files were removed)" (none were), exit 2, after the work."""
    with open("/dev/full", "w") as full:
        p = _lewm(["export", "--checkpoint", tiny_ckpt, "--out", str(tmp_path / "e.pt")], stdout=full,
                  stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert "note: standard output could not be written (No space left on device)" in p.stderr
    assert os.path.getsize(tmp_path / "e.pt") > 0


def test_c3_a_closed_stderr_does_not_kill_a_training(syn_h5, tmp_path):
    """2>&-: tqdm's first bar raised an AttributeError nobody saw; exit 1, the run's files removed."""
    p = _lewm(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(tmp_path / "r"), "--steps", "1",
               "--batch-size", "4", "--threads", "1", "--set", "train.bn_recalibrate_batches=1"],
              stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2))
    assert p.returncode == 0 and "done: step 1" in p.stdout
    assert os.path.isfile(tmp_path / "r" / "last.pt")


def test_l5_a_run_folder_without_its_last_pt_is_not_called_an_official_release(syn_h5, tmp_path, capsys, one_thread):
    """eval / report / export of a run whose last.pt was deleted: "holds config.json but no weights.pt: an official
    LeWM release folder needs both (download the missing weights.pt)"."""
    run = tmp_path / "r"
    assert _train(syn_h5, run, "--steps", "2", "--set", "train.keep_snapshots=true", "--set", "train.ckpt_every=1",
                  "--set", "train.warmup_steps=1") == 0
    os.remove(run / "last.pt")
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "e.pt")]) == 2
    line = _one_error(capsys)
    assert "a lab run folder (its config.json) without its last.pt (deleted or moved?)" in line
    assert "step_1.pt" in line and "weights.pt" not in line
