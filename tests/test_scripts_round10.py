"""Issue 16, round 10: the scripts' own arguments (docs/reliability_round10.md, "Scripts"). Every case is one
line ``error: ...`` naming the argument or file, exit code 2 (``lewm.cli.run_script``), before any long work;
none is a traceback or a silently wrong result. The scripts' ``main(argv)`` is called in this process; a
subprocess checks only that the scripts given a ``main()`` this round end their command line in one line."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from lewm.cli import run_script

from _cli_errors import one_error_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_PUSHT = os.path.join(ROOT, "checkpoints", "pusht", "model.pt")


def _script(name: str):
    """scripts/<name>.py as a module (its import-time settings of threads and environment undone)."""
    env, threads = dict(os.environ), torch.get_num_threads()
    spec = importlib.util.spec_from_file_location(f"_r10_{name}", os.path.join(ROOT, "scripts", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    finally:
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(threads)
    return mod


def _run(capsys, name: str, argv: list[str]) -> tuple[int, str, str]:
    """``run_script(main)`` of scripts/<name>.py with ``argv`` -> (exit code, stdout, stderr)."""
    mod = _script(name)
    threads = torch.get_num_threads()
    capsys.readouterr()
    try:
        rc = run_script(lambda: mod.main(argv))
    finally:
        torch.set_num_threads(threads)
    out, err = capsys.readouterr()
    return rc, out, err


def _refused(capsys, name: str, argv: list[str], *words: str) -> str:
    rc, out, err = _run(capsys, name, argv)
    line = one_error_line(err)
    assert rc == 2, (rc, err)
    for w in words:
        assert w in line, (w, line)
    return line


@pytest.fixture(scope="module")
def two_room(tmp_path_factory):
    """``D``, a 32-px Two-Room file (4 episodes of 40 frames), and ``run1/last.pt``, a cpu-tiny run of 2 steps."""
    from lewm.cli import main
    from lewm.collect import collect
    tmp = tmp_path_factory.mktemp("r10s")
    data = str(tmp / "d.h5")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        collect("two_room", 4, data, image_size=32, workers=1, seed=0, episode_len=40, progress=False)
        assert main(["train", "--preset", "cpu-tiny", "--data", data, "--out", str(tmp / "run1"), "--steps", "2",
                     "--batch-size", "4", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    return {"data": data, "ckpt": str(tmp / "run1" / "last.pt"), "dir": tmp}


# ---------------------------------------------------------------------------------------------
# pusht_angle_stats.py
# ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pusht_angle_stats_refuses_bad_inputs_before_any_part(capsys, two_room, tmp_path):
    d, ck = two_room["data"], two_room["ckpt"]
    _refused(capsys, "pusht_angle_stats", ["--data", str(tmp_path / "missing.h5"), "--parts", "data"],
             "--data", "missing.h5", "no such dataset file")
    _refused(capsys, "pusht_angle_stats", ["--checkpoint", str(tmp_path / "missing.pt"), "--parts", "probes"],
             "missing.pt", "not found")
    # a Two-Room file (2 state numbers: was an IndexError on the angle column)
    _refused(capsys, "pusht_angle_stats", ["--data", d, "--parts", "data"], d, "'two_room'", "pusht")
    _refused(capsys, "pusht_angle_stats", ["--data", ck, "--parts", "data"], "--data", "is a checkpoint")
    _refused(capsys, "pusht_angle_stats", ["--checkpoint", ck, "--parts", "probes"], "--checkpoint", "'two_room'")
    _refused(capsys, "pusht_angle_stats", ["--checkpoint", d, "--parts", "probes"], "--checkpoint", "HDF5")
    for bad in ("0", "-8"):
        _refused(capsys, "pusht_angle_stats", ["--sizes", bad, "--parts", "pixels"], "--sizes", f"got {bad}")
    _refused(capsys, "pusht_angle_stats", ["--probe-episodes", "1"], "--probe-episodes")
    # the probes' checkpoint is checked before the pixel part runs; a given --eval-json must exist
    _refused(capsys, "pusht_angle_stats", ["--parts", "pixels", "probes", "--checkpoint", ck], "--checkpoint")
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    if os.path.exists("/work/data/pusht.h5"):
        _refused(capsys, "pusht_angle_stats", ["--parts", "data", "--data", "/work/data/pusht.h5", "--eval-json",
                                               str(other)], "--eval-json", "not an evaluation result")
    _refused(capsys, "pusht_angle_stats", ["--parts", "pixels", "--json", d], "--json", "HDF5")
    assert os.path.getsize(d) > 0


def test_pusht_angle_stats_pixel_part_writes_its_json(capsys, tmp_path):
    out = tmp_path / "sub" / "px.json"
    rc, stdout, err = _run(capsys, "pusht_angle_stats", ["--parts", "pixels", "--sizes", "8", "--json", str(out)])
    assert rc == 0, err
    assert f"wrote {out}" in stdout and out.exists()


# ---------------------------------------------------------------------------------------------
# oracle_split.py
# ---------------------------------------------------------------------------------------------
def test_oracle_split_refuses_bad_arguments_before_the_evaluation(capsys, two_room, tmp_path):
    d, ck = two_room["data"], two_room["ckpt"]
    _refused(capsys, "oracle_split", ["--checkpoint", str(tmp_path / "missing.pt")], "missing.pt", "not found")
    _refused(capsys, "oracle_split", ["--checkpoint", d], "--checkpoint", "HDF5 episode file")
    _refused(capsys, "oracle_split", ["--checkpoint", ck, "--topk", "10", "--samples", "4"],
             "--topk 10", "--samples 4")
    for bad in ("0", "6"):
        _refused(capsys, "oracle_split", ["--checkpoint", ck, "--receding-horizon", bad], "--receding-horizon")
    # was "success 0/0", exit 0
    _refused(capsys, "oracle_split", ["--checkpoint", ck, "--episodes", "0"], "--episodes", "got 0")
    # was: refused after the whole evaluation; now before it (nothing printed on stdout)
    rc, out, err = _run(capsys, "oracle_split", ["--checkpoint", ck, "--json", str(tmp_path / "nodir" / "x.json")])
    assert rc == 2 and "--json" in one_error_line(err) and "does not exist" in err and out == ""
    _refused(capsys, "oracle_split", ["--checkpoint", ck, "--json", d, "--force"], "--json", "HDF5")


def test_oracle_split_writes_its_json_and_replaces_it_only_with_force(capsys, two_room, tmp_path):
    ck, out = two_room["ckpt"], str(tmp_path / "split.json")
    args = ["--checkpoint", ck, "--episodes", "1", "--samples", "4", "--topk", "2", "--iterations", "1",
            "--modes", "learned", "--json", out]
    rc, stdout, err = _run(capsys, "oracle_split", args)
    assert rc == 0, err
    assert "learned" in stdout and f"wrote {out}" in stdout and os.path.exists(out)
    _refused(capsys, "oracle_split", args, "--json", "--force")
    rc, _, err = _run(capsys, "oracle_split", args + ["--force"])
    assert rc == 0, err


# ---------------------------------------------------------------------------------------------
# oracle_two_room.py, baseline_two_room.py (given a main() this round; positional command lines kept)
# ---------------------------------------------------------------------------------------------
def test_oracle_two_room_refuses_bad_arguments(capsys, two_room, tmp_path):
    d, ck = two_room["data"], two_room["ckpt"]
    _refused(capsys, "oracle_two_room", [str(tmp_path / "missing.pt")], "CKPT", "missing.pt")
    _refused(capsys, "oracle_two_room", [ck, "abc"], "EPISODES", "'abc'")
    _refused(capsys, "oracle_two_room", [d, "1", "4", "1"], "CKPT", "HDF5")
    _refused(capsys, "oracle_two_room", [ck, "0", "4", "1"], "EPISODES", "got 0")  # was: "success 0 / 0"
    _refused(capsys, "oracle_two_room", [ck, "1", "1", "1"], "SAMPLES")
    _refused(capsys, "oracle_two_room", [ck, "1", "4", "0"], "ITERATIONS")
    _refused(capsys, "oracle_two_room", [], "CKPT")
    if os.path.exists(SHIPPED_PUSHT):
        _refused(capsys, "oracle_two_room", [SHIPPED_PUSHT], "CKPT", "'pusht'")


def test_oracle_two_room_runs_from_a_run_folder(capsys, two_room):
    rc, out, err = _run(capsys, "oracle_two_room", [os.path.dirname(two_room["ckpt"]), "1", "2", "1"])
    assert rc == 0, err
    assert "oracle-dynamics success" in out and "/ 1" in out


def test_baseline_two_room_refuses_bad_counts_and_keeps_its_command_line(capsys):
    _refused(capsys, "baseline_two_room", ["abc"], "EPISODES", "'abc'")
    for bad in ("0", "-5"):  # was: ZeroDivisionError / "0/-5 = -0%"
        _refused(capsys, "baseline_two_room", [bad], "EPISODES", f"got {bad}")
    _refused(capsys, "baseline_two_room", ["2", "-1"], "SEED")
    rc, out, err = _run(capsys, "baseline_two_room", ["3", "0"])
    assert rc == 0, err
    assert "straight-line greedy:" in out and "/3 = " in out


@pytest.mark.parametrize("script,args,words", [
    ("baseline_two_room.py", ["0"], "EPISODES must be"),
    ("oracle_two_room.py", ["/nonexistent.pt"], "CKPT /nonexistent.pt"),
])
def test_scripts_given_a_main_end_in_one_line(script, args, words):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and words in one_error_line(r.stderr) and r.stdout == ""


# ---------------------------------------------------------------------------------------------
# bench_envs.py, record_collapse.py, make_reference_sets.py
# ---------------------------------------------------------------------------------------------
def test_bench_envs_refuses_unknown_envs_and_empty_measurements(capsys):
    _refused(capsys, "bench_envs", ["--envs", "nope"], "--envs", "'nope'")
    _refused(capsys, "bench_envs", ["--sizes", "0"], "--sizes", "got 0")
    for bad in ("-5", "0"):  # 0 was a table of zeros
        _refused(capsys, "bench_envs", ["--steps", bad], "--steps", f"got {bad}")
    rc, out, err = _run(capsys, "bench_envs", ["--steps", "1", "--sizes", "16", "--envs", "two_room"])
    assert rc == 0, err
    assert out.splitlines()[-1].startswith("two_room")


@pytest.mark.parametrize("args,words", [
    (["--steps", "0"], "--steps"), (["--batch", "-1"], "--batch"), (["--episodes", "0"], "--episodes"),
    (["--lam", "nan"], "--lam"), (["--lam", "-1"], "--lam"), (["--view-every", "0"], "--view-every"),
    (["--out", "x.h5"], "--out x.h5: expected a .npz"),
])
def test_record_collapse_refuses_bad_arguments_before_collecting(capsys, args, words):
    _refused(capsys, "record_collapse", args, words)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_record_collapse_writes_the_file_it_names(capsys, two_room, tmp_path):
    d = str(tmp_path / "d.npz")
    shutil.copy(two_room["data"], d)  # an existing file that is not a recording: kept
    _refused(capsys, "record_collapse", ["--out", d], "--out", "not a collapse recording")
    out = tmp_path / "new" / "rec.npz"
    args = ["--out", str(out), "--episodes", "1", "--steps", "2", "--batch", "4", "--threads", "1"]
    _refused(capsys, "record_collapse", args[:-4] + ["--batch", "4000"], "--batch 4000", "--episodes 1")
    rc, stdout, err = _run(capsys, "record_collapse", args)
    assert rc == 0, err
    assert f"wrote {out} " in stdout and out.exists() and not os.path.exists(str(out) + ".npz")
    with np.load(out) as z:
        assert "meta" in z.files and "on_step" in z.files
    rc, _, err = _run(capsys, "record_collapse", args)  # without --force, an earlier recording is kept
    assert rc == 2 and "pass --force" in err
    rc, _, err = _run(capsys, "record_collapse", args + ["--force"])  # a recording replaces a recording
    assert rc == 0, err


def test_make_reference_sets_refuses_names_it_would_skip(capsys):
    _refused(capsys, "make_reference_sets", ["nonexistent_name"], "nonexistent_name", "two_room")
    _refused(capsys, "make_reference_sets", ["--no-umap", "--umap-only"], "--no-umap", "--umap-only")
    _refused(capsys, "make_reference_sets", ["--episodes", "0", "two_room"], "--episodes")
    _refused(capsys, "make_reference_sets", ["--episode-len", "1", "two_room"], "--episode-len")


# ---------------------------------------------------------------------------------------------
# gpu_report.py, doc_figures.py
# ---------------------------------------------------------------------------------------------
def test_gpu_report_refuses_a_file_as_out_and_unknown_sections(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _refused(capsys, "gpu_report", ["--out", str(afile), "--smoke"], "--out", "is a file")
    out = tmp_path / "rep"
    for bad in ("bogus", "train,nope", ","):  # was: measured nothing, said "wrote"
        _refused(capsys, "gpu_report", ["--out", str(out), "--smoke", "--sections", bad], "--sections")
    assert not out.exists()
    out.mkdir()
    (out / "gpu_report.json").write_text("garbage")
    _refused(capsys, "gpu_report", ["--out", str(out), "--smoke", "--append", "--sections", "plan"],
             "--append", "gpu_report.json")


def test_doc_figures_refuses_a_file_as_out_and_bad_widths(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _refused(capsys, "doc_figures", ["--out", str(afile)], "--out", "is a file")
    for bad in ("0", "-5"):
        _refused(capsys, "doc_figures", ["--out", str(tmp_path), "--width", bad], "--width", f"got {bad}")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_record_collapse_force_replaces_a_broken_recording(capsys, tmp_path):
    """Round 14 (a7): a corrupt recording at its own path was refused even with --force (the lab's hint, 'make it
    with scripts/record_collapse.py', was a dead end)."""
    rec = tmp_path / "rec.npz"
    rec.write_text("junk")
    _refused(capsys, "record_collapse", ["--out", str(rec)], "--out", "not a readable .npz")
    rc, _, err = _run(capsys, "record_collapse", ["--out", str(rec), "--episodes", "1", "--steps", "2", "--batch", "4",
                                                  "--threads", "1", "--force"])
    assert rc == 0, err
    with np.load(rec) as z:
        assert "meta" in z.files
