"""Round 13 (CLI, hostile user), training / checkpoint / report side: a user's heldout.h5 deleted by
``report --force`` (cli2), an export's missing optimizer state and fp16 weights not mentioned (cli3, cli4),
an earlier run's snapshots kept beside a restarted run (cli9), a full disk while saving a checkpoint
(cli12), ``--set`` of one field twice (cli14), SIGTERM losing the steps since the last checkpoint (cli18),
the lock of a training on another host taken as stale (cli19), and a finished report failing on an ASCII
terminal (cli25)."""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import sys
import time
import warnings

import h5py
import pytest
import torch

from lewm import checkpoint, faults
from lewm.cli import main
from lewm.config import apply_set_overrides, get_preset
from lewm.model import LeWM

from _cli_errors import one_error_line  # noqa: E402

CFG = get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 4})
BASE = ["train", "--preset", "cpu-tiny", "--batch-size", "4", "--threads", "1"]


def _train_cli(syn_h5, out, *extra):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*zeroed .* NaN action rows")
        return main(BASE + ["--data", syn_h5, "--out", str(out), *extra])


# ------------------------------------------------------------------------------------- cli2 (report)
def test_report_never_replaces_a_users_heldout_h5_even_with_force(syn_h5, tmp_path):
    from lewm.report.build import check_report_folder
    from lewm.report.data_source import is_report_heldout
    out = tmp_path / "mydata"
    out.mkdir()
    shutil.copy(syn_h5, out / "heldout.h5")
    ckpt = str(tmp_path / "run" / "last.pt")  # no reference.h5 beside it: the report would collect
    for force in (False, True):
        with pytest.raises(ValueError, match=r"heldout\.h5 is an HDF5 episode file not written by a report.*"
                                             r"never replaced, even with --force: pass --data"):
            check_report_folder(str(out), ckpt, None, force, "--out", "--force")
    assert not is_report_heldout(str(out / "heldout.h5"))
    check_report_folder(str(out), ckpt, str(out / "heldout.h5"), True)  # given as --data: fine
    (out / "notes.txt").write_text("x")
    os.replace(out / "notes.txt", out / "heldout.h5")  # any other file of that name too
    with pytest.raises(ValueError, match="not written by a report"):
        check_report_folder(str(out), ckpt, None, True)


def test_a_reports_own_heldout_is_recognised(syn_h5, tmp_path):
    from lewm.report.build import check_report_folder
    from lewm.report.data_source import HELDOUT_MARK, is_report_heldout
    out = tmp_path / "rep"
    out.mkdir()
    p = out / "heldout.h5"
    shutil.copy(syn_h5, p)
    with h5py.File(p, "a") as f:
        f.attrs[HELDOUT_MARK] = 1
    assert is_report_heldout(str(p))
    ckpt = str(tmp_path / "run" / "last.pt")
    # only the report's own marked held-out file (an interrupted report): collected again, no --force (round 19, C4)
    check_report_folder(str(out), ckpt, None, False, "--out", "--force")
    (out / "report.json").write_text("{}")  # a finished report beside it: refused without --force
    with pytest.raises(ValueError, match=r"holds an earlier report"):
        check_report_folder(str(out), ckpt, None, False, "--out", "--force")
    check_report_folder(str(out), ckpt, None, True)  # --force replaces the report's own
    (out / "report.json").unlink()
    # a report from before the mark: the collection's attributes and its report.json beside it
    q = tmp_path / "old" / "heldout.h5"
    q.parent.mkdir()
    shutil.copy(syn_h5, q)
    with h5py.File(q, "a") as f:
        f.attrs.update({"created_by": "lewm.collect", "policy": "expert", "seed": 123, "episode_len": 100})
    assert not is_report_heldout(str(q))
    (q.parent / "report.json").write_text("{}")
    assert is_report_heldout(str(q))


# ---------------------------------------------------------------------------------- cli25 (report)
def test_report_summary_on_an_ascii_terminal_does_not_fail(monkeypatch):
    from lewm.report import cli as report_cli
    buf = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buf, encoding="ascii"))
    report_cli._print_safe("R\u00b2 0.9 \u2014 fine")
    sys.stdout.flush()
    assert buf.getvalue().decode("ascii") == "R? 0.9 ? fine\n"


# -------------------------------------------------------------------------------- cli3 / cli4 (export)
def test_init_and_resume_from_an_export_say_the_optimizer_starts_fresh(syn_h5, tmp_path, capsys, one_thread):
    assert _train_cli(syn_h5, tmp_path / "a", "--steps", "2") == 0
    x = str(tmp_path / "x.pt")
    assert main(["export", "--checkpoint", str(tmp_path / "a"), "--out", x]) == 0
    capsys.readouterr()
    assert _train_cli(syn_h5, tmp_path / "b", "--steps", "3", "--init", x) == 0
    out = capsys.readouterr().out
    assert f"note: {x} is an exported checkpoint (no optimizer state): the optimizer starts fresh at step 2" in out
    assert _train_cli(syn_h5, tmp_path / "c", "--steps", "3", "--init", str(tmp_path / "a" / "last.pt")) == 0
    assert "optimizer starts fresh" not in capsys.readouterr().out  # a training checkpoint: no note
    shutil.copy(x, tmp_path / "a" / "last.pt")  # an export put in place of last.pt: resumed
    assert _train_cli(syn_h5, tmp_path / "a", "--steps", "3") == 0
    assert "is an exported checkpoint (no optimizer state): the optimizer starts fresh at step 2" in \
        capsys.readouterr().out


def test_export_of_an_export_as_fp32_warns(tmp_path):
    m = LeWM(CFG.model)
    train_ck = checkpoint.save(str(tmp_path / "t.pt"), m, CFG, 2)
    half = checkpoint.save(str(tmp_path / "h.pt"), m, CFG, 2, half=True)
    with pytest.warns(UserWarning, match=r"h\.pt holds fp16 weights \(an export\): saving them as fp32 .*cannot "
                                         r"restore the precision lost"):
        assert main(["export", "--checkpoint", half, "--out", str(tmp_path / "h32.pt"), "--fp32"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a training checkpoint, or an fp16 export of an export: no warning
        assert main(["export", "--checkpoint", train_ck, "--out", str(tmp_path / "t32.pt"), "--fp32"]) == 0
        assert main(["export", "--checkpoint", half, "--out", str(tmp_path / "h16.pt")]) == 0
        loaded = checkpoint.load(half)[0]
        with torch.no_grad():
            next(loaded.parameters()).add_(1e-4)  # trained further: its weights are no longer fp16 values
        checkpoint.save(str(tmp_path / "f.pt"), loaded, CFG, 3)


# ------------------------------------------------------------------------------------ cli9 (snapshots)
def test_no_resume_removes_the_earlier_runs_snapshots(syn_h5, tmp_path, capsys, one_thread):
    out = tmp_path / "run4"
    snap = ["--set", "train.keep_snapshots=true", "--set", "train.ckpt_every=2"]
    assert _train_cli(syn_h5, out, "--steps", "6", *snap) == 0
    assert {"step_2.pt", "step_4.pt"} <= set(os.listdir(out))
    (out / "step_9.pt").write_text("my notes")  # not a checkpoint: kept
    capsys.readouterr()
    assert _train_cli(syn_h5, out, "--steps", "2", "--no-resume", "--lr", "1e-4", *snap) == 0
    assert f"note: starting over in {out}: removed 2 snapshot(s) of the earlier run (step_2.pt, step_4.pt)" in \
        capsys.readouterr().out
    assert sorted(n for n in os.listdir(out) if n.startswith("step_")) == ["step_9.pt"]


# ----------------------------------------------------------------------------------- cli12 (disk full)
def test_disk_full_while_saving_a_checkpoint_is_one_line_and_keeps_the_previous(tmp_path, monkeypatch, capsys):
    m = LeWM(CFG.model)
    path = str(tmp_path / "last.pt")
    checkpoint.save(path, m, CFG, 2)
    before = open(path, "rb").read()
    real = torch.save

    def full(obj, f, *a, **k):  # what torch.save does when the disk fills: its zip writer's RuntimeError
        try:
            f.write(b"x" * 10)
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 108672 vs 108560")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(faults.DiskFull, match=rf"^disk full while saving {path}; the previous checkpoint there "
                                              rf"\(step 2\) is intact; free some space"):
        checkpoint.save(path, m, CFG, 4)
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["last.pt"]
    with pytest.raises(faults.DiskFull, match="nothing was written there"):
        checkpoint.save(str(tmp_path / "new.pt"), m, CFG, 4)
    assert faults.report_error(faults.DiskFull(errno.ENOSPC, "disk full while saving x.pt; ...", "x.pt")) == 2
    assert capsys.readouterr().err == "error: disk full while saving x.pt; ...\n"
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("other")))
    with pytest.raises(RuntimeError, match="other"):  # any other failure is not called a full disk
        checkpoint.save(path, m, CFG, 4)
    monkeypatch.setattr(torch, "save", real)


# ----------------------------------------------------------------------------------------- cli14 (--set)
def test_set_of_one_field_twice_with_two_values_is_refused(syn_h5, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--set train\.lr=0\.001 and --set train\.lr=0\.005 give train\.lr two "
                                         r"values; give it once"):
        apply_set_overrides(CFG, ["train.lr=1e-3", "train.lr=5e-3"])
    assert apply_set_overrides(CFG, ["train.lr=1e-3", "train.lr=0.001"]).train.lr == 1e-3  # the same value
    assert _train_cli(syn_h5, tmp_path / "st", "--steps", "1", "--set", "train.lr=1e-3", "--set", "train.lr=5e-3") == 2
    assert "give train.lr two values" in one_error_line(capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "st")


# --------------------------------------------------------------------------------------- cli18 (SIGTERM)
def test_sigterm_stops_training_at_the_step_boundary_and_saves(syn_h5, tmp_path, one_thread):
    from lewm.train import train
    out = str(tmp_path / "run7")
    cfg = CFG.with_overrides(train={"ckpt_every": 1000, "log_every": 1})

    def on_step(info):
        if info.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)

    with faults.terminate_as_exception(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*zeroed .* NaN action rows")
        with pytest.raises(faults.Terminated) as e:
            train(cfg, syn_h5, out, steps=1000, progress=False, on_step=on_step)
    assert e.value.signum == signal.SIGTERM and e.value.exit_code == 143
    assert checkpoint.load(os.path.join(out, "last.pt"))[2]["step"] == 3  # was: the last ckpt_every step (0)
    assert not os.path.exists(os.path.join(out, ".lock")) and not faults.TERMINATE.is_set()


def test_a_second_sigterm_during_the_deferral_stops_at_once():
    with faults.terminate_as_exception():
        with faults.deferred_termination():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert faults.termination_pending() == signal.SIGTERM  # the first: only remembered
            with pytest.raises(faults.Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
        with faults.deferred_termination(False):  # a data-parallel run: at once
            faults.TERMINATE.clear()
            with pytest.raises(faults.Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
    assert faults.termination_pending() is None


# ------------------------------------------------------------------------------------------ cli19 (lock)
def test_a_lock_of_another_host_is_refused_not_taken_over(tmp_path):
    run = tmp_path / "run9"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": 999999, "host": "othernode"}))
    with pytest.raises(faults.RunLocked, match=rf"run9: locked by pid 999999 on othernode .*if no training runs "
                                               rf"there into this folder, delete {run / '.lock'}"):
        faults.RunLock(str(run)).acquire()
    assert json.loads((run / ".lock").read_text())["host"] == "othernode"
    import socket
    (run / ".lock").write_text(json.dumps({"pid": 999999, "host": socket.gethostname()}))  # this host, dead
    lock = faults.RunLock(str(run)).acquire()
    lock.release()


def test_train_into_a_folder_locked_on_another_host_is_one_line(syn_h5, tmp_path, capsys):
    run = tmp_path / "run9"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": 999999, "host": "othernode"}))
    assert _train_cli(syn_h5, run, "--steps", "1") == 2
    assert "locked by pid 999999 on othernode" in one_error_line(capsys.readouterr().err)
