"""Round 24 (fault cases of the writing commands), fixer FD: collect under a file-size limit (Q1), train's
loader workers under a small open-file limit (Q4), the run folder removed or renamed under a training (Q7), a
signal just after collect published its file (Q8)."""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest

import lewm.train as T
from lewm.cli import main
from lewm.config import get_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECT = ["collect", "--env", "two_room", "--episode-len", "40", "--image-size", "32", "--no-progress"]


def _run(args: list[str], limit=None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    pre = (lambda: resource.setrlimit(*limit)) if limit else None
    return subprocess.run([sys.executable, "-m", "lewm", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=pre)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def _tmp_files(folder: str) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".tmp")]


# --------------------------------------------------------------------------------- Q1
@pytest.mark.parametrize("workers", ["1", "2"])
def test_q1_collect_under_a_file_size_limit_is_one_line(tmp_path, workers):
    old = tmp_path / "old.h5"
    old.write_bytes(b"\x89HDF\r\n\x1a\n an earlier dataset")
    before = old.read_bytes()
    fsize = (resource.RLIMIT_FSIZE, (20 << 10, 20 << 10))  # 20 KiB: the dataset does not fit
    for out, extra in ((tmp_path / "new.h5", []), (old, ["--force"])):
        r = _run([*COLLECT, "--episodes", "4", "--workers", workers, "--out", str(out), *extra], limit=fsize)
        lines = _lines(r.stderr)
        assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr[-2000:])  # was 134 lines, rc 139
        assert lines[0].startswith("error: file too large (a file-size limit") and f"--out {out}" in lines[0]
        assert "nothing was written" in lines[0]
    assert old.read_bytes() == before and not (tmp_path / "new.h5").exists() and not _tmp_files(str(tmp_path))


def test_q1_h5_temp_closes_hdf5_and_names_the_output(tmp_path):
    """The helper of collect and scripts/collect_agent.py, in a process of its own (a segfault at exit was the bug)."""
    code = ("import os, resource, numpy as np\n"
            "from lewm._collect_faults import h5_temp\n"
            "from lewm.faults import one_line\n"
            f"tmp, out = {str(tmp_path / '.tmp-x.h5.1')!r}, {str(tmp_path / 'x.h5')!r}\n"
            "try:\n"
            "    with h5_temp(tmp, out, flag=None) as f:\n"
            "        d = f.create_dataset('p', (4000, 32, 32, 3), np.uint8, chunks=(8, 32, 32, 3))\n"
            "        for i in range(0, 4000, 8):\n"
            "            d[i:i + 8] = np.random.randint(0, 255, (8, 32, 32, 3), dtype=np.uint8)\n"
            "except OSError as e:\n"
            "    os.remove(tmp)\n"
            "    print('error:', one_line(e))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20 << 10, 20 << 10)))
    assert r.returncode == 0 and not r.stderr.strip(), (r.returncode, r.stderr[-2000:])
    assert r.stdout.startswith(f"error: file too large (a file-size limit, `ulimit -f`?) while writing {tmp_path}/x.h5")
    assert not os.listdir(tmp_path)


# --------------------------------------------------------------------------------- Q8
@pytest.mark.parametrize("sig, rc", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_q8_signal_just_after_collect_published_says_the_file_is_complete(tmp_path, monkeypatch, capsys, sig, rc):
    import lewm.collect as C
    publish = C.publish_dataset

    def publish_then_signal(*a, **kw):  # the signal lands right after the rename (was: "nothing was written")
        path = publish(*a, **kw)
        os.kill(os.getpid(), sig)
        return path

    monkeypatch.setattr(C, "publish_dataset", publish_then_signal)
    out = tmp_path / "c.h5"
    got = main([*COLLECT, "--episodes", "2", "--workers", "1", "--out", str(out)])
    lines = _lines(capsys.readouterr().err)
    assert got == rc and len(lines) == 1, (got, lines)
    assert f"arrived after {out} was written: it is complete (2 episodes) and kept" in lines[0]
    assert "nothing was written" not in lines[0]
    import h5py
    with h5py.File(out, "r") as f:
        assert len(f["ep_len"]) == 2 and "success_rate" in f.attrs
    assert not _tmp_files(str(tmp_path))


def test_q8_signal_before_the_publish_still_removes_everything(tmp_path, monkeypatch, capsys):
    import lewm.collect as C

    def signal_instead(*a, **kw):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached")

    monkeypatch.setattr(C, "publish_dataset", signal_instead)
    out = tmp_path / "c.h5"
    assert main([*COLLECT, "--episodes", "2", "--workers", "1", "--out", str(out)]) == 143
    assert "nothing was written" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


# --------------------------------------------------------------------------------- Q4
def test_q4_train_workers_under_a_small_open_file_limit_is_one_line(tmp_path, syn_h5):
    out = tmp_path / "run"
    nofile = (resource.RLIMIT_NOFILE, (16, 16))
    r = _run(["train", "--data", syn_h5, "--preset", "cpu-tiny", "--out", str(out), "--steps", "2", "--threads", "1",
              "--workers", "2"], limit=nofile, timeout=90)  # was: a hang for ever, SIGTERM ignored
    lines = _lines(r.stderr)
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr[-2000:])
    assert lines[0].startswith("error: --workers 2: too many open files") and "ulimit -n, is 16" in lines[0]
    assert "lower --workers" in lines[0]
    assert not out.exists() or not os.listdir(out)  # no lock, no config.json (the empty folder stays, as after a
    # failed checkpoint save: tests/test_faults.py)


def test_q4_a_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path, syn_h5):
    out = tmp_path / "run"
    nofile = (resource.RLIMIT_NOFILE, (16, min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
    r = _run(["train", "--data", syn_h5, "--preset", "cpu-tiny", "--out", str(out), "--steps", "2", "--threads", "1",
              "--workers", "2"], limit=nofile, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "last.pt").exists() and not (out / ".lock").exists()


# --------------------------------------------------------------------------------- Q7
@pytest.mark.parametrize("how", ["removed", "renamed"])
def test_q7_run_folder_gone_during_train_stops_in_one_line(tmp_path, syn_h5, one_thread, how):
    out = str(tmp_path / "run")
    cfg = get_preset("cpu-tiny").with_overrides(train={"ckpt_every": 2, "log_every": 1, "bn_recalibrate_batches": 1})

    def move_at_3(info):
        if info.step == 3:
            shutil.rmtree(out) if how == "removed" else os.rename(out, str(tmp_path / "moved"))

    with pytest.raises(FileNotFoundError) as e:
        T.train(cfg, syn_h5, out, steps=8, progress=False, on_step=move_at_3, val_batches=0)
    msg = str(e.value)
    assert f"the run folder {out} disappeared at step 4 (removed or renamed" in msg and "\n" not in msg
    assert not os.path.exists(out)  # never re-created as a half run folder
    if how == "renamed":
        moved = tmp_path / "moved"
        assert (moved / "last.pt").exists() and (moved / "config.json").exists()
