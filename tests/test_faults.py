"""Issue 16: every fault survived. Divergence, kills of real processes (a training run, collect
with 2 workers), killed checkpoint writes, resumes, two trainings into one folder, a full disk:
after each, the invariants hold (no non-finite checkpoint, no orphaned worker, no stray temporary
file, strictly increasing metrics steps, one line of error)."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import lewm.train as T
from lewm import checkpoint
from lewm.cli import main
from lewm.config import get_preset
from lewm.faults import RunLock, RunLocked, pid_alive, truncate_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _finite(path: str) -> bool:
    model, _, _ = checkpoint.load(path)
    return all(bool(torch.isfinite(v).all()) for v in model.state_dict().values() if v.is_floating_point())


def _steps(out: str) -> list[int]:
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f]


def _tmp_files(folder: str) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".tmp") or n.endswith(".tmp")]


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _spawn(args: list[str], log) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "lewm", *args], cwd=ROOT, env=env, stdout=log, stderr=log)


def _wait_for(cond, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    t0 = time.time()
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (rc {proc.returncode}) before {what}")
        if time.time() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# (a) divergence never leaves a non-finite checkpoint; the message names one that exists
# ---------------------------------------------------------------------------------------------
class _NanGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return torch.full_like(g, float("nan"))


def _poison(monkeypatch, at: int, kind: str):
    """Make training step ``at`` (1-based) give a NaN loss, or a finite loss with NaN gradients."""
    calls = {"n": 0}
    real = T.lewm_loss

    def loss(model, batch, cfg, *a, **kw):
        calls["n"] += 1
        total, pred, sig, z = real(model, batch, cfg, *a, **kw)
        if calls["n"] == at:
            if kind == "loss":
                total = total * float("nan")
            else:
                total = _NanGrad.apply(total)
        return total, pred, sig, z

    monkeypatch.setattr(T, "lewm_loss", loss)


@pytest.mark.parametrize("kind", ["loss", "grad"])
def test_divergence_keeps_the_last_finite_checkpoint(kind, tmp_path, syn_h5, monkeypatch, capsys):
    out = str(tmp_path / "div")
    _poison(monkeypatch, 10, kind)  # step 10 is a checkpoint step: the NaN weights must not be saved
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "30",
               "--set", "train.ckpt_every=5", "--set", "train.bn_recalibrate_batches=1"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(err) == 1, err
    ckpt = os.path.join(out, "last.pt")
    assert f"The last good checkpoint is {ckpt} (step 5)" in err[0]
    assert ("loss became nan" if kind == "loss" else "weights became non-finite") in err[0]
    assert checkpoint.load(ckpt)[2]["step"] == 5 and _finite(ckpt)
    assert not _tmp_files(out) and not os.path.exists(os.path.join(out, ".lock"))


def test_divergence_before_any_checkpoint_names_none(tmp_path, syn_h5, monkeypatch, capsys):
    out = str(tmp_path / "div0")
    _poison(monkeypatch, 3, "loss")
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "30"])
    err = capsys.readouterr().err
    assert rc == 2 and "last good checkpoint is none" in err
    assert not os.path.exists(os.path.join(out, "last.pt"))


# ---------------------------------------------------------------------------------------------
# (c) stale temporary files, (d) metrics after a resume, (e) the lock
# ---------------------------------------------------------------------------------------------
def test_resume_after_interrupt_keeps_metrics_steps_increasing(tmp_path, syn_h5):
    out = str(tmp_path / "res")
    cfg = get_preset("cpu-tiny").with_overrides(train={"ckpt_every": 5, "log_every": 1, "bn_recalibrate_batches": 1})

    def stop_at_8(info):
        if info.step == 8:
            raise KeyboardInterrupt  # a kill between two checkpoints (last.pt is at step 5)

    with pytest.raises(KeyboardInterrupt):
        T.train(cfg, syn_h5, out, steps=12, progress=False, on_step=stop_at_8, val_batches=0)
    assert _steps(out) == list(range(1, 9)) and not os.path.exists(os.path.join(out, ".lock"))
    open(os.path.join(out, ".tmp-k1lled__.pt"), "wb").write(b"half a checkpoint")  # a killed write
    open(os.path.join(out, ".tmp-notours"), "wb").write(b"someone else's")
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write('{"step": 9, "lo')  # a line cut by the kill
    res = T.train(cfg, syn_h5, out, steps=12, progress=False, val_batches=0)
    steps = _steps(out)
    assert res.step == 12 and steps == sorted(set(steps)) and steps[-1] == 12, steps
    assert _tmp_files(out) == [".tmp-notours"]  # only the files of our own killed writes go
    os.remove(os.path.join(out, ".tmp-notours"))
    with open(os.path.join(out, "metrics.jsonl")) as f:
        elapsed = [json.loads(line)["elapsed_s"] for line in f]
    assert elapsed == sorted(elapsed), elapsed  # the clock continues across the resume
    assert not _tmp_files(out)


def test_rerunning_a_finished_training_keeps_it(tmp_path, syn_h5, capsys):
    """The same command again on a finished run: nothing trained, nothing lost (its metrics stay)."""
    out = str(tmp_path / "done")
    args = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "4",
            "--set", "train.bn_recalibrate_batches=1"]
    assert main(args) == 0
    before = checkpoint.load(os.path.join(out, "last.pt"))[2]["metrics"]
    assert main(args) == 0
    after = checkpoint.load(os.path.join(out, "last.pt"))[2]["metrics"]
    assert after["loss"] == before["loss"] and _steps(out) == [1, 2, 3, 4]
    assert "loss nan" not in capsys.readouterr().out


def test_truncate_metrics(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"step": 1}\n{"step": 2}\nnot json\n{"step": 3}\n{"step": 4}')
    assert truncate_metrics(str(p), 2) == 3
    assert p.read_text() == '{"step": 1}\n{"step": 2}\n'
    assert truncate_metrics(str(tmp_path / "none.jsonl"), 5) == 0


def test_run_lock(tmp_path):
    d = str(tmp_path / "run")
    with RunLock(d):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock(d).acquire()
    assert not os.path.exists(os.path.join(d, ".lock"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid)
    with open(os.path.join(d, ".lock"), "w") as f:
        json.dump({"pid": dead.pid, "host": ""}, f)
    with RunLock(d) as lock:  # the lock of a dead pid is taken over
        assert lock.held
    open(os.path.join(d, ".lock"), "w").write("garbage")
    RunLock(d).acquire().release()


def test_killed_training_then_second_training_refused_then_stale_lock_taken_over(tmp_path, syn_h5, capsys):
    """A real training process: a second one into its folder is refused while it runs; killed
    with -9 (mid-run, between checkpoints) it leaves a stale lock that the resume takes over, no
    .tmp file survives the resume, and metrics.jsonl keeps strictly increasing steps."""
    out = str(tmp_path / "killed")
    args = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "100000", "--threads", "1",
            "--set", "train.ckpt_every=15", "--set", "train.log_every=1", "--set", "train.bn_recalibrate_batches=1"]
    with open(tmp_path / "log.txt", "w") as log:
        p = _spawn(args, log)
        try:
            _wait_for(lambda: os.path.exists(os.path.join(out, "metrics.jsonl")) and
                      len(_steps(out)) >= 20, 120, "20 logged steps", p)
            rc = main(["50" if a == "100000" else a for a in args[:-6]])  # --steps 50 (a flag given once)
            err = capsys.readouterr().err
            assert rc == 2 and f"another training (pid {p.pid})" in err, err
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert os.path.exists(os.path.join(out, ".lock"))  # stale: its pid is dead
    last = checkpoint.load(os.path.join(out, "last.pt"))[2]["step"]
    open(os.path.join(out, ".tmp-abcd1234.pt"), "wb").write(b"x")  # what a kill inside torch.save leaves
    target = max(_steps(out)) + 5
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", str(target), "--threads", "1",
               "--set", "train.ckpt_every=15", "--set", "train.log_every=1", "--set", "train.bn_recalibrate_batches=1"])
    assert rc == 0, capsys.readouterr().err
    steps = _steps(out)
    assert steps == list(range(1, target + 1)), (last, steps[-30:])
    assert not _tmp_files(out) and not os.path.exists(os.path.join(out, ".lock"))
    assert _finite(os.path.join(out, "last.pt"))


def test_sigterm_training_releases_lock(tmp_path, syn_h5):
    out = str(tmp_path / "term")
    with open(tmp_path / "log.txt", "w") as log:
        p = _spawn(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "100000",
                    "--threads", "1"], log)
        _wait_for(lambda: os.path.exists(os.path.join(out, "metrics.jsonl")), 120, "training to start", p)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=60)
    text = open(tmp_path / "log.txt").read()
    assert rc == 143 and "Traceback" not in text and "SIGTERM at step" in text and "saved" in text, text[-2000:]
    assert not os.path.exists(os.path.join(out, ".lock")) and not _tmp_files(out)


def test_ctrl_c_stops_training_after_the_step_and_saves_it(tmp_path, syn_h5):
    """Ctrl-C lost every step since the last checkpoint (up to ckpt_every - 1): now the first one stops
    at the next step boundary and saves last.pt at that step; the same command resumes from it."""
    out = str(tmp_path / "int")
    args = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "100000", "--threads", "1",
            "--set", "train.ckpt_every=100000", "--set", "train.log_every=1"]
    with open(tmp_path / "log.txt", "w") as log:
        p = _spawn(args, log)
        _wait_for(lambda: os.path.exists(os.path.join(out, "metrics.jsonl")) and len(_steps(out)) >= 3, 120,
                  "three logged steps", p)
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=60)
    text = open(tmp_path / "log.txt").read()
    assert rc == 130 and "Traceback" not in text and "interrupted at step" in text, text[-2000:]
    step = checkpoint.load(os.path.join(out, "last.pt"))[2]["step"]
    assert step >= 3 and step >= max(_steps(out)) and f"interrupted at step {step}" in text
    assert not os.path.exists(os.path.join(out, ".lock")) and not _tmp_files(out)


# ---------------------------------------------------------------------------------------------
# (b) collect with 2 workers: SIGTERM and kill -9
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_collect_leaves_no_orphan_and_no_partial_file(sig, tmp_path):
    out = str(tmp_path / "c.h5")
    with open(tmp_path / "log.txt", "w") as log:
        p = _spawn(["collect", "--env", "two_room", "--episodes", "3000", "--workers", "2", "--image-size", "16",
                    "--no-progress", "--out", out], log)
        try:
            _wait_for(lambda: os.path.exists(str(tmp_path / f".tmp-c.h5.{p.pid}")) and len(_children(p.pid)) >= 2, 120,
                      "2 workers and the temporary file", p)
            time.sleep(0.5)  # the workers are producing episodes
            kids = _children(p.pid)  # the 2 workers (and multiprocessing's resource tracker)
            p.send_signal(sig)
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        _wait_for(lambda: not any(pid_alive(k) for k in kids), 20, "the workers to end")
    assert not os.path.exists(out)
    if sig == signal.SIGTERM:
        text = open(tmp_path / "log.txt").read()
        assert rc == 143 and "Traceback" not in text, text[-2000:]
        assert not _tmp_files(str(tmp_path))
    else:  # nothing can run at kill -9: the next collect into the same file removes the partial one
        from lewm.collect import collect
        collect("two_room", 1, out, image_size=16, workers=1, episode_len=5, progress=False)
        assert os.path.exists(out) and not _tmp_files(str(tmp_path))


# ---------------------------------------------------------------------------------------------
# (f) disk full
# ---------------------------------------------------------------------------------------------
def _enospc(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere")


def test_disk_full_during_checkpoint_is_one_line(tmp_path, syn_h5, monkeypatch, capsys):
    out = str(tmp_path / "full")
    monkeypatch.setattr(checkpoint.torch, "save", _enospc)
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "3"])
    err = capsys.readouterr().err  # the progress bar, then one line of error
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: disk full"), err
    assert "Traceback" not in err
    assert not _tmp_files(out) and not os.path.exists(os.path.join(out, ".lock"))


def test_disk_full_during_collect_is_one_line(tmp_path, monkeypatch, capsys):
    import lewm.collect as C
    out = str(tmp_path / "full.h5")
    monkeypatch.setattr(C, "_write_episode", _enospc)
    rc = main(["collect", "--env", "two_room", "--episodes", "2", "--workers", "1", "--image-size", "16",
               "--episode-len", "5", "--no-progress", "--out", out])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and "disk full" in lines[0], lines
    assert not os.path.exists(out) and not _tmp_files(str(tmp_path))
