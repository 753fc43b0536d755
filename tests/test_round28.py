"""Round 28, data-loader workers that die, files read while another command writes them, hand-edited JSON beside a
run, HDF5 storage that was never written (docs/reliability_round28.md): one test per root, each failing before its
fix."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal

import h5py
import numpy as np
import pytest

from lewm.cli import main

from _cli_errors import one_error, train_tiny


_train, _one_error = train_tiny, one_error  # tests/_cli_errors.py: shared with the other rounds


# -- S1: rows whose HDF5 storage was never written ------------------------------------------------------------------
def _with_unwritten_pixels(src, dst, how):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        px = f["pixels"][...]
        del f["pixels"]
        if how == "half of the chunks":
            d = f.create_dataset("pixels", shape=px.shape, dtype=px.dtype, chunks=(1, *px.shape[1:]))
            d[: len(px) // 2] = px[: len(px) // 2]
        elif how == "contiguous, never written":
            f.create_dataset("pixels", shape=px.shape, dtype=px.dtype)
        else:  # 10**9 rows declared in a file of kilobytes (was: scanned for hours)
            f.create_dataset("pixels", shape=(10**9, *px.shape[1:]), dtype=px.dtype, chunks=(64, *px.shape[1:]))
            for k in ("action", "state"):
                a = f[k][...]
                del f[k]
                f.create_dataset(k, shape=(10**9, *a.shape[1:]), dtype=a.dtype, chunks=(64, *a.shape[1:]))
            for k in ("ep_len", "ep_offset"):
                del f[k]
            f["ep_len"], f["ep_offset"] = np.array([10**9]), np.array([0])
    return dst


@pytest.mark.parametrize("how,words", [
    ("half of the chunks", "key 'pixels' declares 480 rows but only 240 of its 480 storage chunks were written"),
    ("contiguous, never written", "key 'pixels' declares 480 rows but its storage was never written"),
    ("declared 10**9 rows", "key 'pixels' declares 1000000000 rows but 257 of 257 storage chunks sampled along its rows"),
])
def test_s1_unwritten_hdf5_storage_is_refused(syn_h5, tmp_path, capsys, how, words, one_thread):
    """Trained on blank frames without a word (the unwritten rows read as the fill value), or hung for hours."""
    data = _with_unwritten_pixels(syn_h5, str(tmp_path / "d.h5"), how)
    assert _train(data, tmp_path / "r", "--steps", "1") == 2
    line = _one_error(capsys)
    assert words in line and "the unwritten rows would read as the fill value" in line, line
    assert not os.path.exists(tmp_path / "r")


def test_s1_a_fully_written_chunked_file_passes(syn_h5, tmp_path):
    from lewm.episode_file import validate_file
    dst = str(tmp_path / "c.h5")
    shutil.copy(syn_h5, dst)
    with h5py.File(dst, "a") as f:
        px = f["pixels"][...]
        del f["pixels"]
        f.create_dataset("pixels", data=px, chunks=(1, *px.shape[1:]), compression="gzip")
    assert validate_file(dst)["num_frames"] == 480


# -- W1: a data-loader worker killed mid-run -------------------------------------------------------------------------
def _children() -> list[int]:
    pid = os.getpid()
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            kids += [int(x) for x in f.read().split()]
    return kids


def test_w1_a_killed_loader_worker_saves_the_finished_steps(syn_h5, tmp_path, one_thread):
    """A SIGKILLed worker raised torch's "DataLoader worker (pid N) is killed by signal" wherever the main thread
    was (inside opt.step()): a traceback, the steps since the last checkpoint lost, then a hang on the way out."""
    from lewm._train_loop_faults import WorkerLost
    from lewm.config import get_preset
    from lewm.train import train
    cfg = get_preset("cpu-tiny").with_overrides(train={"num_workers": 2, "batch_size": 4, "ckpt_every": 1000,
                                                       "bn_recalibrate_batches": 1})
    before = set(_children())
    killed = []

    def on_step(info):
        if info.step == 3 and not killed:
            kid = sorted(set(_children()) - before)[-1]
            os.kill(kid, signal.SIGKILL)
            killed.append(kid)
    out = tmp_path / "r"
    with pytest.raises(WorkerLost) as e:
        train(cfg, syn_h5, str(out), steps=500, progress=False, on_step=on_step)
    msg = str(e.value)
    assert f"--workers 2: a data-loader worker (pid {killed[0]}) was killed by SIGKILL (the out-of-memory killer, a crash" in msg, msg
    from lewm.checkpoint import read_raw
    step = int(read_raw(str(out / "last.pt"))["step"])
    assert 3 <= step < 500, step
    assert f"the training stopped at step {step} and saved {out / 'last.pt'}: the same command resumes" in msg, msg


# -- J1: a run folder's config.json edited by hand, then the run resumed ---------------------------------------------
def test_j1_a_hand_edited_config_json_is_said_on_resume(syn_h5, tmp_path, capsys, one_thread):
    """The edit ("steps": 10**12) was dropped without a word: the run resumed from last.pt and wrote the file anew."""
    out = tmp_path / "r"
    assert _train(syn_h5, out, "--steps", "2") == 0
    cfg = json.loads((out / "config.json").read_text())
    cfg["train"]["steps"], cfg["train"]["lr"] = 10**12, -5
    (out / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert _train(syn_h5, out, "--steps", "3") == 0
    text = capsys.readouterr().out
    assert (f"note: {out}/config.json was edited since the run wrote it (train.lr 0.002 -> -5, train.steps 2 -> "
            f"1000000000000): a run's settings come from {out}/last.pt and the flags, not from config.json") in text
    assert json.loads((out / "config.json").read_text())["train"]["steps"] == 3
    assert _train(syn_h5, out, "--steps", "4") == 0  # as written: no note
    assert "was edited" not in capsys.readouterr().out


# -- W2: a loader worker ran the trainer's Ctrl-C handler it inherited -----------------------------------------------
def test_w2_loader_workers_leave_ctrl_c_to_the_trainer():
    """SIGINT to a worker (Ctrl-C reaches the whole group) printed "Ctrl-C: stopping after this step and saving
    last.pt" from the worker, while the run went on."""
    import subprocess
    import sys
    code = ("import signal; from lewm.faults import quiet_worker_hangups; quiet_worker_hangups(0); "
            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.split() == ["True", "True"], out.stderr


# -- W3: a streamed dataset file deleted, replaced or rewritten under a training ------------------------------------
def _streamed(path):
    from lewm.data import WindowDataset
    return WindowDataset(path, 1, 5, split="train", max_ram_bytes=0)


def test_w3_a_held_streamed_file_is_the_one_read(syn_h5, tmp_path):
    """Replaced (mv, collect --force) under a training: the validation loss was scored on the other file's windows."""
    import pickle
    from lewm.data import DataError
    data = str(tmp_path / "d.h5")
    shutil.copy(syn_h5, data)
    ds = _streamed(data).hold()
    first = ds[0]["pixels"].clone()
    other = str(tmp_path / "o.h5")
    shutil.copy(syn_h5, other)
    with h5py.File(other, "a") as f:
        f["pixels"][...] = 255 - f["pixels"][...]
    os.replace(other, data)
    assert (ds[0]["pixels"] == first).all()  # the held handle: the file the training started on
    worker = pickle.loads(pickle.dumps(ds))  # a loader worker opens the path again
    with pytest.raises(DataError, match="d.h5: was replaced by another file after the training started reading it"):
        worker[0]
    os.remove(data)
    with pytest.raises(DataError, match="d.h5: was deleted after the training started reading it"):
        pickle.loads(pickle.dumps(ds))[0]


def test_w3_a_streamed_file_rewritten_in_place_stops_the_training_with_its_steps_saved(syn_h5, tmp_path, one_thread):
    """Cut short or zeroed in place: h5py's "Can't synchronously read data (filter returned failure during read)",
    naming no file, with the steps since the checkpoint lost (or, uncompressed, zeros read as frames)."""
    from lewm.checkpoint import read_raw
    from lewm.config import get_preset
    from lewm.data import DataError
    from lewm.train import train
    data = str(tmp_path / "d.h5")
    shutil.copy(syn_h5, data)
    cfg = get_preset("cpu-tiny").with_overrides(train={"ram_limit_gb": 0.0, "batch_size": 4, "ckpt_every": 1000,
                                                       "bn_recalibrate_batches": 1})

    def on_step(info):
        if info.step == 3:
            with open(data, "r+b") as f:
                f.truncate(os.path.getsize(data) // 2)
    out = tmp_path / "r"
    with pytest.raises(DataError) as e:
        train(cfg, data, str(out), steps=50, progress=False, on_step=on_step)
    msg = str(e.value)
    assert f"{data}: changed while the training read it (its size went from" in msg, msg
    assert f"the training stopped at step 3 and saved {out / 'last.pt'}: the same command resumes" in msg, msg
    assert int(read_raw(str(out / "last.pt"))["step"]) == 3


# -- W4: a collect worker stopped (kill -STOP) -----------------------------------------------------------------------
def test_w4_a_stopped_collect_worker_is_given_up(tmp_path):
    """The collect waited for ever for a worker stopped by SIGSTOP."""
    import subprocess
    import time
    from lewm._collect_pool import WorkerDied, check_not_stopped
    p = subprocess.Popen(["sleep", "30"])
    try:
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(0.2)
        stopped = {}
        check_not_stopped([p], stopped, limit_s=5)  # first seen: counted from now
        assert p.pid in stopped
        with pytest.raises(WorkerDied, match=rf"a collect worker \(pid {p.pid}\) has been stopped for 0 s"):
            check_not_stopped([p], stopped, limit_s=0)
    finally:
        p.kill()
        p.wait()


# -- O1: a symbolic link loop called a missing file ------------------------------------------------------------------
def test_o1_a_link_loop_is_called_a_loop(tmp_path, capsys):
    """--out a -> b -> a: "is a symbolic link to b, which does not exist"; a run folder whose last.pt links to
    itself: "a lab run folder ... without its last.pt (deleted or moved?)"."""
    a, b = tmp_path / "a", tmp_path / "b"
    os.symlink(b, a)
    os.symlink(a, b)
    assert main(["report", "--checkpoint", str(tmp_path), "--data", str(tmp_path / "x.h5"), "--out", str(a)]) == 2
    line = _one_error(capsys)
    assert f"{a} is a symbolic link loop (it points back to itself through other links); remove the loop" in line
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": {}, "sigreg": {}, "train": {}}))
    os.symlink("last.pt", run / "last.pt")
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "e.pt")]) == 2
    line = _one_error(capsys)
    assert f"{run / 'last.pt'}: is a symbolic link loop" in line and "deleted or moved" not in line, line


def test_w4_a_stopped_loader_worker_ends_the_fetch(syn_h5, tmp_path):
    """A streamed loader had no timeout, and even with one a fetch hung inside the hand-over of a batch the stopped
    worker had sent (a hang for ever)."""
    import torch
    from lewm._train_loop_faults import WorkerLost, streaming_batches
    ds = _streamed(syn_h5)
    sampler = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=1 << 20)
    before = set(_children())
    batches = streaming_batches(ds, 4, sampler, 2, timeout_s=2.0)
    next(batches)
    kid = sorted(set(_children()) - before)[-1]
    os.kill(kid, signal.SIGSTOP)
    try:
        with pytest.raises(WorkerLost, match=rf"a data-loader worker \(pid {kid}\) stayed stopped \(kill -STOP\?\)|"
                                             rf"gave no batch in 2 s"):
            for _ in range(10_000):
                next(batches)
    finally:
        with contextlib.suppress(OSError):
            os.kill(kid, signal.SIGKILL)
        batches.close()
