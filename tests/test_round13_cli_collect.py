"""Round 13 (CLI, hostile user), collect and its scripts: Ctrl-C always stops a collect (cli1), only collect's own
temporary files are removed (cli20), --force replaces only the file that was there at the start (cli27), an output
name of another kind is refused (cli5, cli28), collect_agent checks --copy / --mix before the agent runs (cli10,
cli11), record_collapse writes the umask's mode and replaces a recording only with --force (cli21, cli22)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import h5py
import pytest

import lewm.collect as C
from lewm.cli import main

from _cli_errors import one_error_line
from test_scripts_round10 import _run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_ROOM = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
SMALL = dict(image_size=16, episode_len=3, progress=False)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------------------------------ cli1
@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="needs Python's own Ctrl-C handler")
def test_cli1_a_ctrl_c_swallowed_inside_a_callback_still_stops_the_collect(tmp_path, monkeypatch, capsys):
    out = tmp_path / "i.h5"
    real, calls = C.run_episode, []

    class SwallowsIt:  # h5py's WeakValueDictionary callback: an exception raised in it is only printed
        def __del__(self):
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # Ctrl-C arrives right here

    def episode(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            obj = SwallowsIt()
            del obj  # the KeyboardInterrupt of __del__ is swallowed ("Exception ignored in ...")
        return real(*a, **k)
    monkeypatch.setattr(C, "run_episode", episode)
    argv = ["collect", "--env", "two_room", "--episodes", "6", "--episode-len", "3", "--image-size", "16",
            "--workers", "1", "--out", str(out), "--no-progress"]
    assert main(argv) == 130  # was: the collect ran on to the end, wrote i.h5 and exited 0
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Exception ignored" not in err
    assert len(calls) == 2 and not os.listdir(tmp_path)  # stopped at the next episode; nothing left
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


def test_cli1_without_ctrl_c_the_collect_is_unchanged(tmp_path):
    out = C.collect("two_room", 2, str(tmp_path / "a.h5"), workers=1, **SMALL)
    with h5py.File(out) as f:
        assert f["pixels"].shape == (6, 16, 16, 3)
    assert os.listdir(tmp_path) == ["a.h5"]


# ------------------------------------------------------------------------------------------ cli20
def test_cli20_collect_removes_only_its_own_temporary_files(tmp_path):
    out, dead = str(tmp_path / "z.h5"), _dead_pid()
    users = {"z.h5.tmp": "my notes", f"z.h5.{dead}.tmp": "a checkpoint", "z.h5.1.tmp": "x",
             f".tmp-z.h5.{dead}": "text: not a temporary HDF5 file", f".tmp-z.h5.{os.getppid()}": ""}
    for name, text in users.items():
        (tmp_path / name).write_text(text)
    stale, stale_empty = (tmp_path / f".tmp-z.h5.{_dead_pid()}" for _ in range(2))
    h5py.File(stale, "w").close()  # what a killed collect leaves
    stale_empty.write_bytes(b"")  # killed before h5py wrote anything
    C.collect("two_room", 1, out, workers=1, **SMALL)
    left = set(os.listdir(tmp_path))
    assert left == set(users) | {"z.h5"}  # users' files (and a live collect's) stay; the stale ones are gone
    assert (tmp_path / "z.h5.tmp").read_text() == "my notes"
    assert (tmp_path / f".tmp-z.h5.{dead}").read_text().startswith("text")


def test_cli20_a_dataset_named_like_an_old_temporary_file_survives(tmp_path):
    first = C.collect("two_room", 1, str(tmp_path / "sf4.h5.tmp"), workers=1, **SMALL)
    C.collect("two_room", 1, str(tmp_path / "sf4.h5"), workers=1, **SMALL)
    assert sorted(os.listdir(tmp_path)) == ["sf4.h5", "sf4.h5.tmp"] and h5py.is_hdf5(first)


def test_cli20_the_temporary_file_is_pid_stamped_and_hidden(tmp_path):
    assert C.temp_name(str(tmp_path / "d.h5")) == str(tmp_path / f".tmp-d.h5.{os.getpid()}")


def test_cli20_unique_file_sees_a_collect_under_way(tmp_path):
    from lewm.runs import unique_file
    (tmp_path / f".tmp-d.h5.{os.getpid()}").write_bytes(b"")
    assert unique_file(str(tmp_path / "d.h5")) == str(tmp_path / "d-1.h5")


# ------------------------------------------------------------------------------------------ cli27
def test_cli27_force_replaces_only_the_file_there_at_the_start(tmp_path, monkeypatch):
    out = tmp_path / "cc.h5"
    C.collect("two_room", 1, str(out), workers=1, seed=9, **SMALL)
    real, done = C._write_episode, []

    def race(f, ep, length):  # another forced collect publishes its file meanwhile
        if not done:
            done.append(1)
            shutil.copy(out, tmp_path / "theirs.h5")
            os.replace(tmp_path / "theirs.h5", out)
        return real(f, ep, length)
    monkeypatch.setattr(C, "_write_episode", race)
    theirs = os.stat(out).st_ino
    with pytest.raises(FileExistsError, match=r"--out .*cc\.h5: was replaced by another command while this one "
                                              r"ran \(--force replaces only the file that was there at the start\); "
                                              r"not overwritten: this result is in .*cc-kept-\d+\.h5"):
        C.collect("two_room", 2, str(out), workers=1, force=True, **SMALL)
    theirs = os.stat(out).st_ino
    kept = [p for p in os.listdir(tmp_path) if p.startswith("cc-kept-")]
    assert len(kept) == 1 and sorted(os.listdir(tmp_path)) == sorted(["cc.h5", kept[0]])
    with h5py.File(tmp_path / kept[0]) as f:
        assert len(f["ep_len"]) == 2  # this result, whole
    monkeypatch.setattr(C, "_write_episode", real)
    C.collect("two_room", 3, str(out), workers=1, force=True, **SMALL)  # no race: --force replaces it
    assert os.stat(out).st_ino != theirs
    with h5py.File(out) as f:
        assert len(f["ep_len"]) == 3


def test_cli27_force_on_a_new_name_keeps_a_file_that_appeared_meanwhile(tmp_path, monkeypatch):
    out = tmp_path / "n.h5"

    def race(path, need):
        out.write_text("theirs")
    monkeypatch.setattr(C, "_check_space", race)
    with pytest.raises(FileExistsError, match="was created by another command"):
        C.collect("two_room", 1, str(out), workers=1, force=True, **SMALL)
    assert out.read_text() == "theirs" and [p for p in os.listdir(tmp_path) if p.startswith("n-kept-")]


# --------------------------------------------------------------------------------------- cli28, cli5
@pytest.mark.parametrize("name", ["sf3.json", "sf3.jsonl", "sf3.txt", "sf3.npz", "sf3.pt"])
def test_cli28_collect_refuses_a_name_of_another_kind(name, tmp_path, capsys):
    argv = ["collect", "--env", "two_room", "--episodes", "1", "--episode-len", "3", "--image-size", "16",
            "--out", str(tmp_path / name), "--no-progress"]
    assert main(argv) == 2
    ext = os.path.splitext(name)[1]
    line = one_error_line(capsys.readouterr().err)
    assert f"--out {tmp_path / name}: a {ext} name is" in line and f"name it {tmp_path / 'sf3'}.h5" in line
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match=rf"collect\(out=\.\.\.\) .*sf3{ext}: a \{ext} name is"):
        C.collect("two_room", 1, str(tmp_path / name), workers=1, **SMALL)


@pytest.mark.parametrize("name", ["d.hdf5", "d", "d.H5", "d.dat"])
def test_cli28_collect_accepts_dataset_and_unknown_names(name, tmp_path):
    assert os.path.isfile(C.collect("two_room", 1, str(tmp_path / name), workers=1, **SMALL))


@pytest.mark.parametrize("name", ["o8.h5", "o11.pt", "o.npz"])
def test_cli5_eval_refuses_json_under_another_kinds_name(name, tmp_path, capsys):
    argv = ["eval", "--checkpoint", TWO_ROOM, "--episodes", "1", "--iterations", "1", "--samples", "8",
            "--topk", "2", "--threads", "1", "--out", str(tmp_path / name)]
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    stem = os.path.splitext(name)[0]
    assert f"--out {tmp_path / name}: a {os.path.splitext(name)[1]} name is" in line
    assert "this writes an evaluation result" in line and f"name it {tmp_path / stem}.json" in line
    assert not os.listdir(tmp_path)


def test_cli5_bench_refuses_json_under_a_datasets_name(tmp_path, capsys):
    argv = ["bench", "train", "--presets", "cpu-tiny", "--batch", "2", "--steps", "1", "--warmup", "0",
            "--threads", "1", "--json", str(tmp_path / "b5.h5")]
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--json {tmp_path / 'b5.h5'}: a .h5 name is" in line and "a benchmark result" in line
    assert not os.listdir(tmp_path)


def test_cli5_json_outputs_accept_json_and_text_names():
    from lewm.runs import BENCH_RESULT, EVAL_RESULT, check_out_suffix
    for name in ("e.json", "e", "e.txt", "e.out"):
        check_out_suffix(name, "--out", EVAL_RESULT)
        check_out_suffix(name, "--json", BENCH_RESULT)


# ---------------------------------------------------------------------------------------- cli10, cli11
@pytest.fixture(scope="module")
def mix_h5(tmp_path_factory):
    return C.collect("two_room", 2, str(tmp_path_factory.mktemp("mix") / "mix.h5"), episode_len=20, workers=1,
                     progress=False)


def test_cli10_copy_is_checked_against_mix_before_the_agent_runs(mix_h5, tmp_path, capsys, monkeypatch):
    import lewm.planning.episode as E

    def no_agent(*a, **k):
        raise AssertionError("the agent ran before --copy was checked")
    monkeypatch.setattr(E, "run_episode", no_agent)
    rc, out, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", str(tmp_path / "s3.h5"),
                                                   "--episodes", "2", "--budget", "5", "--horizon", "1",
                                                   "--mix", mix_h5, "--copy", "100"])
    assert rc == 2 and f"--copy 100: --mix {mix_h5} holds 2 episodes; copy at most 2" in one_error_line(err)
    assert not os.listdir(tmp_path)


def test_cli11_out_equal_to_mix_is_refused_even_with_force(mix_h5, tmp_path, capsys):
    keep = str(tmp_path / "keep.h5")
    shutil.copy(mix_h5, keep)
    before = open(keep, "rb").read()
    rc, out, err = _run(capsys, "collect_agent", ["--checkpoint", TWO_ROOM, "--out", keep, "--episodes", "2",
                                                   "--budget", "5", "--horizon", "1", "--mix", keep, "--copy", "1",
                                                   "--force"])
    assert rc == 2 and f"--out {keep}: is the --mix file" in one_error_line(err)
    assert open(keep, "rb").read() == before and os.listdir(tmp_path) == ["keep.h5"]


# ---------------------------------------------------------------------------------------- cli21, cli22
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli21_cli22_record_collapse_mode_and_force(tmp_path, capsys):
    out = tmp_path / "rc.npz"
    args = ["--out", str(out), "--episodes", "1", "--steps", "2", "--batch", "4", "--threads", "1"]
    old = os.umask(0o022)
    try:
        rc, _, err = _run(capsys, "record_collapse", args)
    finally:
        os.umask(old)
    assert rc == 0, err
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o644)  # was -rw------- (mkstemp's)
    before = out.read_bytes()
    rc, _, err = _run(capsys, "record_collapse", args[:3] + ["3"] + args[4:])
    assert rc == 2 and f"--out {out}: exists (an earlier recording); pass --force" in one_error_line(err)
    assert out.read_bytes() == before
    rc, _, err = _run(capsys, "record_collapse", args + ["--force"])
    assert rc == 0, err
    assert sorted(os.listdir(tmp_path)) == ["rc.npz"]
