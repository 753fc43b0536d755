"""Reliability round 11 (issue 16): lewm.faults on hostile arguments (truncate_metrics emptied a dataset or a
checkpoint), two eval / bench runs into one new file, the mode of files written through a temporary file,
SIGHUP during train, --init ignored silently, a warning made an error, --gif given a file name, export to
an .h5 name, and data of an unknown environment."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import h5py
import pytest

from lewm import checkpoint, faults
from lewm.cli import main
from lewm.config import get_preset

from _cli_errors import one_error_line  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
CFG = get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 8})


@pytest.fixture
def ckpt(tmp_path):
    p = str(tmp_path / "model.pt")
    shutil.copy(SHIPPED, p)
    return p


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _bytes(p) -> bytes:
    with open(p, "rb") as f:
        return f.read()


# ----------------------------------------------------------------------------------- lewm.faults
def test_truncate_metrics_refuses_what_is_not_a_metrics_log(syn_h5, ckpt, tmp_path):
    data = str(tmp_path / "d.h5")
    shutil.copy(syn_h5, data)
    conf = tmp_path / "config.json"
    conf.write_text(json.dumps({"a": 1, "b": 2}, indent=2))
    text = tmp_path / "notes.txt"
    text.write_text("hello\nworld\n")
    for p in (data, ckpt, str(conf), str(text)):
        before = _bytes(p)
        with pytest.raises(ValueError, match=r"truncate_metrics\(path=\.\.\.\) .*not .*metrics"):
            faults.truncate_metrics(p, 3)
        assert _bytes(p) == before  # untouched (was: 0 bytes)
    with pytest.raises(TypeError, match=r"truncate_metrics\(last_step=\.\.\.\) must be a whole number"):
        faults.truncate_metrics(data, 1.5)
    with pytest.raises(TypeError, match=r"last_step"):
        faults.truncate_metrics(data, True)
    m = tmp_path / "metrics.jsonl"
    m.write_text('{"step": 1}\n{"step": 2}\n')
    with pytest.raises(ValueError, match=r"truncate_metrics\(last_step=\.\.\.\) must be >= 0"):
        faults.truncate_metrics(str(m), -1)
    assert m.read_text() == '{"step": 1}\n{"step": 2}\n'
    with pytest.raises(ValueError, match="is a folder"):
        faults.truncate_metrics(str(tmp_path), 1)
    # valid: lines after the step and a cut last line dropped; a log of only a cut line (the run's own) too
    m.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert faults.truncate_metrics(str(m), 1) == 2 and m.read_text() == '{"step": 1}\n'
    m.write_text('{"st')
    assert faults.truncate_metrics(str(m), 1) == 1 and m.read_text() == ""
    assert faults.truncate_metrics(str(tmp_path / "none.jsonl"), 0) == 0


def test_pid_alive_refuses_a_non_int_and_answers_false_for_a_huge_pid():
    assert faults.pid_alive(2**40) is False  # was an OverflowError
    assert faults.pid_alive(os.getpid()) is True
    for bad in ("1", 1.0, True, None):
        with pytest.raises(TypeError, match=r"pid_alive\(pid=\.\.\.\) must be a whole number"):
            faults.pid_alive(bad)


def test_write_atomic_and_publish_refuse_bad_targets(tmp_path, syn_h5):
    (tmp_path / "dir").mkdir()
    with pytest.raises(ValueError, match=r"write_atomic\(path=\.\.\.\) .*dir: is a folder"):
        faults.write_atomic(str(tmp_path / "dir"), "x")
    with pytest.raises(ValueError, match=r"write_atomic\(path=\.\.\.\) .*its folder .*nodir does not exist"):
        faults.write_atomic(str(tmp_path / "nodir" / "x.txt"), "x")
    with pytest.raises(TypeError, match=r"write_atomic\(text=\.\.\.\) must be a str, got bytes"):
        faults.write_atomic(str(tmp_path / "x.txt"), b"bytes")
    assert not os.path.exists(tmp_path / "x.txt") and not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]
    p = str(tmp_path / "same.txt")
    open(p, "w").write("keep")
    with pytest.raises(ValueError, match=r"publish\(tmp=\.\.\., path=\.\.\.\).* are the same file"):
        faults.publish(p, p, replace=False)
    assert open(p).read() == "keep" and not [n for n in os.listdir(tmp_path) if "-kept-" in n]
    assert faults.write_atomic(str(tmp_path / "ok.txt"), "hi") == str(tmp_path / "ok.txt")
    assert open(tmp_path / "ok.txt").read() == "hi"


def test_run_lock_on_a_file_is_a_value_error(syn_h5, tmp_path):
    for folder in (syn_h5, os.path.join(syn_h5, "run")):
        with pytest.raises(ValueError, match=r"RunLock\(folder=\.\.\.\) .*syn\.h5.*(is a file|a file, not a folder)"):
            faults.RunLock(folder).acquire()
    with faults.RunLock(str(tmp_path / "run")) as lock:
        assert lock.held


def test_outputs_through_a_temporary_file_get_the_ordinary_mode(tmp_path, umask022):
    """mkstemp made eval / bench JSON, report.json, last.pt and exports -rw------- (owner only)."""
    p = faults.write_atomic(str(tmp_path / "r.json"), "{}")
    assert os.stat(p).st_mode & 0o777 == 0o644
    from lewm.model import LeWM
    c = checkpoint.save(str(tmp_path / "m.pt"), LeWM(CFG.model), CFG, 1)
    assert os.stat(c).st_mode & 0o777 == 0o644


def test_sighup_and_sigterm_raise_terminated_with_their_exit_code():
    with faults.terminate_as_exception():
        with pytest.raises(faults.Terminated) as e:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(5)
    assert e.value.signum == signal.SIGHUP and e.value.exit_code == 129 and e.value.name == "SIGHUP"
    assert faults.Terminated().exit_code == 143  # SIGTERM, the default


# ------------------------------------------------------------------------------------------ eval
def _fake_result(*a, **k):
    return {"env": "two_room", "successes": 1, "episodes": 1, "success_rate": 1.0, "plan_seconds_median": 0.1,
            "plan_seconds_p90": 0.1, "solver": "cem", "device": "cpu", "planner": {}}


def test_two_evals_into_one_new_out_keep_both_results(ckpt, tmp_path, capsys, monkeypatch):
    import lewm.evaluate as ev
    out = tmp_path / "r.json"

    def race(*a, **k):  # the other eval finishes first, after this one's start check
        out.write_text('{"theirs": true}')
        return _fake_result()
    monkeypatch.setattr(ev, "evaluate", race)
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--out" in line and "was created by another command" in line and "r-kept-" in line
    assert out.read_text() == '{"theirs": true}'
    kept = [n for n in os.listdir(tmp_path) if n.startswith("r-kept-")]
    assert len(kept) == 1 and json.load(open(tmp_path / kept[0]))["env"] == "two_room"
    # valid: a new --out is written; an existing result is still replaced (as before), with its normal mode
    monkeypatch.setattr(ev, "evaluate", _fake_result)
    new = tmp_path / "new.json"
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", str(new)]) == 0
    assert json.load(open(new))["env"] == "two_room"
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", str(new)]) == 0
    assert os.stat(new).st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    m = os.umask(0o022)
    os.umask(m)
    return m


@pytest.mark.parametrize("name", ["ev1.gif", "ev2.mp4", "clip.GIF/"])
def test_eval_gif_refuses_a_file_name(name, ckpt, tmp_path, capsys, monkeypatch):
    import lewm.evaluate as ev
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("the evaluation ran"))
    gif = str(tmp_path / name)
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--gif", gif]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--gif {gif}" in line and "takes a folder" in line
    assert not os.path.exists(gif)
    monkeypatch.setattr(ev, "evaluate", _fake_result)
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--gif", str(tmp_path / "gifs")]) == 0


# ----------------------------------------------------------------------------------------- bench
def test_two_benches_into_one_new_json_keep_both(tmp_path, capsys, monkeypatch, one_thread):
    import lewm.bench as bench
    out = tmp_path / "b.json"
    real = bench.format_table

    def race(*a, **k):  # the other benchmark wrote its rows first
        out.write_text('{"theirs": true}')
        return real(*a, **k)
    monkeypatch.setattr(bench, "format_table", race)
    args = ["bench", "plan", "--preset", "cpu-tiny", "--iterations", "1", "--samples", "4", "--topk", "2",
            "--horizon", "2", "--repeats", "1", "--warmup", "0", "--threads", "1", "--json", str(out)]
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--json" in line and "was created by another command" in line
    assert out.read_text() == '{"theirs": true}'
    kept = [n for n in os.listdir(tmp_path) if n.startswith("b-kept-")]
    assert len(kept) == 1 and "rows" in json.load(open(tmp_path / kept[0]))
    monkeypatch.setattr(bench, "format_table", real)
    assert main(args[:-1] + [str(tmp_path / "c.json")]) == 0
    assert "rows" in json.load(open(tmp_path / "c.json"))


# ---------------------------------------------------------------------------------------- export
def test_export_refuses_an_h5_name(ckpt, tmp_path, capsys):
    for name in ("ex5.h5", "ex5.HDF5"):
        out = str(tmp_path / name)
        assert main(["export", "--checkpoint", ckpt, "--out", out]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"--out {out}" in line and "HDF5 episode file" in line and ".pt" in line
        assert not os.path.exists(out)
    assert main(["export", "--checkpoint", ckpt, "--out", str(tmp_path / "ex5.pt")]) == 0
    assert checkpoint.load(str(tmp_path / "ex5.pt"))[2]["step"] >= 0


# ----------------------------------------------------------------------------------------- train
def test_a_warning_made_an_error_is_one_line(ckpt, capsys, monkeypatch):
    """PYTHONWARNINGS=error: the 'zeroed NaN action rows' UserWarning was a traceback (exit 1)."""
    import lewm.evaluate as ev

    def warn(*a, **k):
        warnings.warn("d.h5: zeroed 4 NaN action rows at episode ends (key 'action')")
    monkeypatch.setattr(ev, "evaluate", warn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "zeroed 4 NaN action rows" in line and "PYTHONWARNINGS=error" in line


def test_sighup_outside_training_is_one_line_and_exit_129(ckpt, capsys, monkeypatch):
    import lewm.evaluate as ev

    def hangup(*a, **k):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(5)
    monkeypatch.setattr(ev, "evaluate", hangup)
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1"]) == 129
    line = one_error_line(capsys.readouterr().err)
    assert "terminated (SIGHUP" in line


def test_unknown_environment_of_the_data_warns_at_train_time(syn_h5, tmp_path, one_thread):
    data = str(tmp_path / "mars.h5")
    shutil.copy(syn_h5, data)
    with h5py.File(data, "a") as f:
        f.attrs["env"] = "mars_rover"
    from lewm.train import train
    with pytest.warns(UserWarning, match=r"mars\.h5: attribute 'env' is 'mars_rover', not an environment this "
                                         r"library knows .*cannot run its checkpoint"):
        res = train(CFG, data, str(tmp_path / "run"), steps=1, progress=False)
    assert checkpoint.load(res.checkpoint)[1].env == "mars_rover"
    with warnings.catch_warnings():  # synthetic data (no environment on purpose): no warning
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*zeroed .* NaN action rows")
        train(CFG, syn_h5, str(tmp_path / "syn"), steps=1, progress=False)


def test_init_into_an_out_with_last_pt_says_it_resumes(syn_h5, tmp_path, capsys, one_thread):
    base = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--batch-size", "4", "--threads", "1"]
    assert main(base + ["--out", str(tmp_path / "a"), "--steps", "1"]) == 0
    assert main(base + ["--out", str(tmp_path / "b"), "--steps", "1"]) == 0
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "b"), "--steps", "2", "--init", str(tmp_path / "a" / "last.pt")]) == 0
    out, err = capsys.readouterr()
    assert f"--init {tmp_path / 'a' / 'last.pt'} ignored" in err and "--no-resume" in err
    assert "resuming from" in out
    # --no-resume: starts from --init, no note
    assert main(base + ["--out", str(tmp_path / "b"), "--steps", "3", "--init", str(tmp_path / "a" / "last.pt"),
                        "--no-resume"]) == 0
    out, err = capsys.readouterr()
    assert "ignored" not in err and "continuing from" in out


def _steps(out: str) -> list[int]:
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f]


def test_sighup_stops_training_after_the_step_and_saves_it(syn_h5, tmp_path):
    """SIGHUP (terminal closed, ssh dropped) killed the run with no line and no save; now as Ctrl-C: the
    step boundary, last.pt saved, one line, exit 129, the lock released."""
    out = str(tmp_path / "hup")
    args = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "100000", "--threads", "1",
            "--set", "train.ckpt_every=100000", "--set", "train.log_every=1"]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    with open(tmp_path / "log.txt", "w") as log:
        p = subprocess.Popen([sys.executable, "-m", "lewm", *args], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.time() + 120
            while not (os.path.exists(os.path.join(out, "metrics.jsonl")) and len(_steps(out)) >= 3):
                assert p.poll() is None and time.time() < deadline, open(tmp_path / "log.txt").read()[-2000:]
                time.sleep(0.2)
            p.send_signal(signal.SIGHUP)
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = open(tmp_path / "log.txt").read()
    assert rc == 129 and "Traceback" not in text and "hangup (SIGHUP" in text, text[-2000:]
    step = checkpoint.load(os.path.join(out, "last.pt"))[2]["step"]
    assert step >= 3 and step >= max(_steps(out)) and f"at step {step}: saved" in text
    assert not os.path.exists(os.path.join(out, ".lock"))
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]
