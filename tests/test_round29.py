"""Round 29, the process environment and a checkpoint's recorded training time (docs/reliability_round29.md): one
test per root, each failing before its fix."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import torch

from _cli_errors import one_error, train_tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- E1: a stream whose encoding lacks a character, with surrogateescape (LC_ALL=C, PYTHONUTF8=0) --------------------
def test_e1_an_ascii_surrogateescape_stream_never_fails_a_command(monkeypatch):
    """Every eval printed "error: 'ascii' codec can't encode character '\\u2014'" (its planner line), exit 2:
    tolerant_output left surrogateescape streams as they were."""
    from lewm.cli import tolerant_output
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="surrogateescape")
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="surrogateescape")
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    tolerant_output()
    print("planner: cem \u2014 from runs/d\udcc3\udca4t\udcc3\udca4/eval.json")
    print("error: runs/\u65e5/x.pt: no such file", file=sys.stderr)
    out.flush()
    err.flush()
    assert out.buffer.getvalue() == "planner: cem ? from runs/dätä/eval.json\n".encode("utf-8")  # the name's bytes
    assert err.buffer.getvalue() == b"error: runs/?/x.pt: no such file\n"


# -- E2: the current folder deleted ----------------------------------------------------------------------------------
def test_e2_a_deleted_working_folder_is_one_line(tmp_path):
    """Was "Intel oneMKL FATAL ERROR: Cannot load .../libtorch_cpu.so." from inside import torch."""
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (f"import os, runpy, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
            f"sys.argv = ['lewm', 'eval', '--checkpoint', 'x.pt']; runpy.run_module('lewm', run_name='__main__')")
    env = dict(os.environ, PYTHONPATH=ROOT, PWD=str(gone), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: the current folder ({gone}) no longer exists"), p.stderr
    assert "cd to an existing folder" in lines[0]


# -- T1: a checkpoint's recorded training time (elapsed_s) edited or damaged -----------------------------------------
def _set_elapsed(pt, value):
    blob = torch.load(pt, weights_only=False)
    metrics = json.loads(blob["metrics"])
    metrics["elapsed_s"] = value
    blob["metrics"] = json.dumps(metrics)
    torch.save(blob, pt)


@pytest.mark.parametrize("value,shown", [(None, "None"), ("abc", "'abc'"), (-1e6, "-1000000.0"), (1e300, "1e+300")])
def test_t1_a_damaged_recorded_training_time_is_refused_on_resume(syn_h5, tmp_path, capsys, one_thread, value, shown):
    """None or a list: a TypeError traceback; "abc": "could not convert string to float"; -1e6 or 1e300 resumed
    silently (negative samples/s; a train.time_budget_s run stopped at once, "ran out")."""
    out = tmp_path / "r"
    assert train_tiny(syn_h5, out, "--steps", "1") == 0
    _set_elapsed(str(out / "last.pt"), value)
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()
    assert train_tiny(syn_h5, out, "--steps", "2") == 2
    line = one_error(capsys)
    assert line.startswith(f"error: {out}/last.pt: its recorded training time in seconds (metrics elapsed_s) must be "), line
    assert shown in line and f"--init {out}/last.pt and another --out" in line and "--no-resume" in line, line
    assert (out / "last.pt").read_bytes() == before


def test_t1_a_run_continued_with_init_starts_its_own_clock(syn_h5, tmp_path, one_thread):
    """The way out the error names: --init into another folder trains (its clock starts at 0)."""
    out = tmp_path / "r"
    assert train_tiny(syn_h5, out, "--steps", "1") == 0
    _set_elapsed(str(out / "last.pt"), None)
    assert train_tiny(syn_h5, tmp_path / "r2", "--steps", "2", "--init", str(out / "last.pt")) == 0
    last = json.loads((tmp_path / "r2" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2 and 0 <= last["elapsed_s"] < 600


# -- S1: scripts/pusht_angle_stats.py --eval-json given a binary file ------------------------------------------------
def test_s1_an_eval_json_that_is_a_dataset_is_named(syn_h5):
    """Was "not a JSON file ('utf-8' codec can't decode byte 0x89 in position 0: invalid start byte)"."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_r29_angle", os.path.join(ROOT, "scripts", "pusht_angle_stats.py"))
    mod = importlib.util.module_from_spec(spec)
    env, threads = dict(os.environ), torch.get_num_threads()
    try:
        spec.loader.exec_module(mod)
    finally:  # its import-time settings of threads and environment undone
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(threads)
    with pytest.raises(ValueError) as e:
        mod.read_eval_json(syn_h5)
    assert str(e.value) == (f"--eval-json {syn_h5}: not a JSON file (it is an HDF5 episode file); give the JSON "
                            f"python -m lewm eval --out writes")


# -- S2: scripts/gpu_train.sh's number knobs -------------------------------------------------------------------------
@pytest.mark.parametrize("knob,words", [
    ("DEADLINE_S=abc", "gpu_train: DEADLINE_S='abc' must be a whole number >= 1"),
    ("EPISODES=0", "gpu_train: EPISODES='0' must be a whole number >= 1"),
    ("TRAIN_SECONDS=5", "gpu_train: TRAIN_SECONDS=5 is below the 10 s a training needs to start"),
])
def test_s2_gpu_train_refuses_a_garbled_knob_before_it_starts(tmp_path, knob, words):
    """DEADLINE_S=abc counted as 0 and TRAIN_SECONDS=5 (or abc) became 10 s without a word; EPISODES=0 failed in
    collect, after the start, as "--episodes". (A WORK holding run_A stops it right after the checks, either way.)"""
    (tmp_path / "work" / "run_A").mkdir(parents=True)
    k, v = knob.split("=")
    env = dict(os.environ, VARIANTS="A", WORK=str(tmp_path / "work"), OUT=str(tmp_path / "out"), **{k: v})
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu_train.sh"), "two_room", "--smoke"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [p.stderr.strip()], p.stderr
    assert p.stderr.startswith(words), p.stderr


# -- E3: an output name that is not UTF-8 (an undecodable byte; any non-ASCII name under LC_ALL=C PYTHONUTF8=0) -------
def test_e3_an_output_name_that_is_not_utf8_is_written(syn_h5, tmp_path, one_thread):
    """`export --out $'bad\\xff.pt'` was "error: 'utf-8' codec can't encode character '\\udcff' ...: surrogates not
    allowed" (the temporary file's name was built with str.encode()); so were collect, eval --out, record_collapse."""
    from lewm.atomic import temp_path
    from lewm.cli import main
    out = str(tmp_path / "bad\udcff.pt")  # how Python decodes the argument $'bad\xff.pt'
    assert os.fsencode(temp_path(out)).startswith(os.fsencode(str(tmp_path / ".tmp-bad\udcff.pt.")))
    assert train_tiny(syn_h5, tmp_path / "r", "--steps", "1") == 0
    assert main(["export", "--checkpoint", str(tmp_path / "r"), "--out", out]) == 0
    assert os.path.isfile(os.fsencode(out)) and b"bad\xff.pt" in os.listdir(os.fsencode(str(tmp_path)))


# -- J2: an eval.json whose 'env' is not a name, or whose 'planner' is null ------------------------------------------
@pytest.mark.parametrize("env", [5, ["pusht"]])
def test_j2_eval_refuses_an_eval_json_whose_env_is_not_a_name(tmp_path, env):
    """Taken as "no env recorded" (older files): its planner settings used for any agent without a word."""
    from lewm.eval_planner import resolve_planner
    (tmp_path / "eval.json").write_text(json.dumps({"env": env, "planner": {"horizon": 5}}))
    with pytest.raises(ValueError) as e:
        resolve_planner(str(tmp_path / "model.pt"))
    assert str(e.value) == (f"{tmp_path}/eval.json: 'env' is {json.dumps(env)}, not the name of the environment whose "
                            f"agent it evaluated (e.g. \"two_room\"); fix it, remove it, or pass --protocol paper")


@pytest.mark.parametrize("doc,words", [
    ({"env": 5, "planner": {"horizon": 8}}, "'env' is 5, not the name of the environment"),
    ({"env": "two_room", "planner": None}, "has no 'planner' object"),
    ({"env": "two_room"}, "has no 'planner' object"),
])
def test_j2_the_planner_page_says_why_it_does_not_use_an_eval_json(tmp_path, doc, words):
    """The lab's Planner page used the eval.json of env 5, or the page's defaults for a null planner (eval refuses
    that file), without a note."""
    sys.path.insert(0, os.path.join(ROOT, "app"))
    try:
        import discovery
    finally:
        sys.path.remove(os.path.join(ROOT, "app"))
    (tmp_path / "eval.json").write_text(json.dumps(doc))
    planner, notes = discovery.evaluated_planner(str(tmp_path / "last.pt"), "two_room")
    assert planner == {} and len(notes) == 1 and words in notes[0], notes
