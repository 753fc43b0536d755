"""Round 24 (fixer FF): an export into a running training's files is refused (Q6); a tight ``ulimit -v``
at start-up is one line, exit 2 (Q10); the last line agrees with the exit code when a signal comes once the
output is complete, or after the trainer said what it saved (Q12)."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from lewm.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture(scope="module")
def run(syn_h5, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("r") / "run")
    assert main(["train", "--data", syn_h5, "--preset", "cpu-tiny", "--out", out, "--steps", "2",
                 "--threads", "1"]) == 0
    return out


def test_export_over_a_running_trainings_checkpoint_is_refused(run, tmp_path, capsys):
    live = subprocess.Popen(["sleep", "30"])
    try:
        folder = str(tmp_path / "T")
        os.makedirs(folder)
        target = os.path.join(folder, "last.pt")
        with open(target, "wb") as f, open(os.path.join(run, "last.pt"), "rb") as g:
            f.write(g.read())
        with open(os.path.join(folder, ".lock"), "w") as f:
            json.dump({"pid": live.pid, "host": __import__("socket").gethostname()}, f)
        before = _md5(target)
        assert main(["export", "--checkpoint", os.path.join(run, "last.pt"), "--out", target, "--force"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --out {target}: a training (pid {live.pid}) is writing")
        assert "nothing was written" in err[0]
        assert _md5(target) == before and sorted(os.listdir(folder)) == [".lock", "last.pt"]
        # another file of that folder (not the training's) is still allowed
        assert main(["export", "--checkpoint", os.path.join(run, "last.pt"), "--out",
                     os.path.join(folder, "ship.pt")]) == 0
    finally:
        live.kill()
        live.wait()
    # the lock of a dead pid: allowed (the training is gone)
    assert main(["export", "--checkpoint", os.path.join(run, "last.pt"), "--out", target, "--force"]) == 0


def test_tight_address_space_limit_at_start_up_is_one_line(syn_h5, tmp_path):
    out = str(tmp_path / "t")
    limit = 400 * 2**20
    p = subprocess.run([sys.executable, "-m", "lewm", "train", "--data", syn_h5, "--preset", "cpu-tiny", "--out", out,
                        "--steps", "2", "--threads", "1"], cwd=ROOT, env=_env(), capture_output=True, text=True,
                       timeout=60, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: not enough memory to start") and "400 MB" in lines[0]
    assert "nothing was written" in lines[0] and not os.path.exists(out)


@pytest.mark.parametrize("sig,rc,text", [(signal.SIGTERM, 143, "error: terminated (SIGTERM) after the command had "
                                          "finished: its output is complete"),
                                         (signal.SIGINT, 130, "interrupted (Ctrl-C) after the command had finished")])
def test_signal_once_the_export_is_written_says_so(run, tmp_path, capsys, monkeypatch, sig, rc, text):
    from lewm import _late_signals
    real = _late_signals.output_complete

    def published_then_signal(*a, **k):
        real(*a, **k)
        os.kill(os.getpid(), sig)  # once the file is published (was: exit 143 without a word, or a dropped Ctrl-C)
    monkeypatch.setattr(_late_signals, "output_complete", published_then_signal)
    out = str(tmp_path / "x.pt")
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert main(["export", "--checkpoint", os.path.join(run, "last.pt"), "--out", out]) == rc
    err = capsys.readouterr()
    assert "exported step 2" in err.out and err.err.strip().splitlines()[-1].startswith(text)
    assert "partial outputs were removed" not in err.err and os.path.getsize(out) > 0
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # an in-process caller's handlers are back


def test_export_process_ends_with_its_own_line(run, tmp_path):
    out = str(tmp_path / "x.pt")
    p = subprocess.run([sys.executable, "-m", "lewm", "export", "--checkpoint", os.path.join(run, "last.pt"),
                        "--out", out], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("exported step 2") and p.stderr == ""


def test_sigterm_during_training_is_one_final_line(syn_h5, tmp_path):
    out = str(tmp_path / "r")
    p = subprocess.Popen([sys.executable, "-m", "lewm", "train", "--data", syn_h5, "--preset", "cpu-tiny", "--out",
                          out, "--steps", "3000", "--threads", "1", "--set", "train.ckpt_every=2"], cwd=ROOT,
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists(os.path.join(out, "last.pt")) and time.time() - t0 < 60:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    final = [ln for ln in err.splitlines() if "SIGTERM" in ln and "stopping after this step" not in ln]
    assert len(final) == 1 and "saved" in final[0] and "resumes from it" in final[0], err
    assert "partial outputs were removed" not in err and err.rstrip().splitlines()[-1] == final[0]
