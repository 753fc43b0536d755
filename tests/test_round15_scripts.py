"""Round 15 (c1-c8): scripts/reproduce.sh, scripts/gpu_train.sh, scripts/gpu_check.sh and scripts/gpu_report.py.

The shell scripts run here with a stub python that only logs its arguments (and writes the files the next
line reads), so no test collects, trains or overwrites a shipped checkpoint; reproduce.sh runs from a copy
in a temporary tree (it writes under its own tree's runs/ and checkpoints/)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# logs "PY <args>" to $STUB_LOG; creates what --out names (a folder for train); train: metrics.jsonl and
# last.pt, then sleeps $STUB_SLEEP s and exits 3 for the variant $STUB_FAIL; eval: a result JSON
STUB = r'''#!/usr/bin/env bash
echo "PY $*" >> "$STUB_LOG"
case "$1" in -c|-) exec "$REAL_PY" "$@" ;; esac
out=""; for ((i=1;i<=$#;i++)); do [ "${!i}" = --out ] && { j=$((i+1)); out=${!j}; }; done
case "$3" in
  collect|export) mkdir -p "$(dirname "$out")"; : > "$out" ;;
  train) mkdir -p "$out"; echo '{"step": 7, "pred_loss": 0.5, "samples_per_s": 10, "elapsed_s": 2.5}' > "$out/metrics.jsonl"
         : > "$out/last.pt"; echo $$ > "$out/pid"; sleep "${STUB_SLEEP:-0}"
         [ "$(basename "$out")" = "run_${STUB_FAIL:-none}" ] && exit 3 ;;
  eval) mkdir -p "$(dirname "$out")"
        echo '{"successes": 1, "episodes": 2, "plan_seconds_median": 0.1, "success_rate": 0.5}' > "$out" ;;
esac
exit 0
'''


def _stub(tmp_path):
    path = tmp_path / "stub_python"
    path.write_text(STUB)
    path.chmod(0o755)
    return str(path)


def _env(tmp_path, **kw):
    return {**os.environ, "STUB_LOG": str(tmp_path / "py.log"), "REAL_PY": sys.executable, **kw}


def _log(tmp_path):
    p = tmp_path / "py.log"
    return p.read_text().splitlines() if p.exists() else []


# ---- reproduce.sh (c1, c2, c3) ----------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    """A copy of scripts/reproduce.sh in a tree whose .venv/bin/python is the stub."""
    t = tmp_path / "tree dir"
    (t / "scripts").mkdir(parents=True)
    (t / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "scripts", "reproduce.sh"), t / "scripts")
    shutil.copy(_stub(tmp_path), t / ".venv" / "bin" / "python")
    return t


def _reproduce(tree, tmp_path, *args):
    return subprocess.run(["bash", str(tree / "scripts" / "reproduce.sh"), *args], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [[], ["two_room", "extra"], ["two_room", "--smoke"], ["two_room", "--help"],
                                  ["pusht", "two_room"]])
def test_c1_reproduce_refuses_extra_arguments(tree, tmp_path, args):
    r = _reproduce(tree, tmp_path, *args)
    assert r.returncode == 2
    assert r.stderr.strip() == "usage: scripts/reproduce.sh two_room|pusht|reacher" and r.stdout == ""
    assert _log(tmp_path) == [] and not (tree / "runs").exists()  # nothing collected, trained or overwritten


@pytest.mark.parametrize("name,env,gen", [("TwoRoom", "two_room", "two_room"), ("two-room", "two_room", "two_room"),
                                          ("tworoom", "two_room", "two_room"), ("swm/TwoRoom-v1", "two_room", "two_room"),
                                          ("PushT", "pusht", "pusht"), ("push-t", "pusht", "pusht"),
                                          ("Reacher", "reacher", "reacher_no_target")])
def test_c2_reproduce_takes_the_field_spellings(tree, tmp_path, name, env, gen):
    r = _reproduce(tree, tmp_path, name)
    assert r.returncode == 0, r.stderr
    log = _log(tmp_path)
    assert log[0].startswith(f"PY -m lewm collect --env {gen} ")
    assert any(f"--out checkpoints/{env}/model.pt" in ln for ln in log)
    assert (tree / "checkpoints" / env / "eval.json").exists()


@pytest.mark.parametrize("name", ["bogus", "reacher_no_target", "gym_pusht/PushT-v0", "two_room_x"])
def test_c2_reproduce_unknown_env_lists_the_choices_on_stderr(tree, tmp_path, name):
    r = _reproduce(tree, tmp_path, name)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == f"scripts/reproduce.sh: unknown env '{name}' (two_room, pusht, reacher)"
    assert _log(tmp_path) == []


def test_c2_the_script_maps_names_as_env_key_does(tmp_path):
    """The shell's mapping and lewm.env_names.env_key agree on every spelling tried."""
    from lewm.env_names import env_key
    script = open(os.path.join(ROOT, "scripts", "reproduce.sh")).read()
    start = script.index('KEY=$(printf')
    mapping = script[start:script.index("\nesac", start)] + "\nesac"
    names = ["TwoRoom", "two-room", "two room", " Two_Room ", "swm/TwoRoom-v1", "PUSHT", "Push-T", "push_t",
             "swm/PushT-v1", "Reacher", "dmc_reacher", "reacher-hard", "gym_pusht/PushT-v0", "reacher_no_target",
             "ReacherNoTarget", "pusht-v", "bogus", "two.room"]
    for n in names:
        out = subprocess.run(["bash", "-c", f"set -euo pipefail; set -- \"$0\"\n{mapping}\necho \"$ENV\"", n],
                             capture_output=True, text=True)
        expected = env_key(n) if env_key(n) in ("two_room", "pusht", "reacher") else None
        assert (out.stdout.strip() if out.returncode == 0 else None) == expected, (n, out.stdout, out.stderr)


def test_c3_reproduce_never_trains_on_a_users_file(tree, tmp_path):
    (tree / "runs" / "data").mkdir(parents=True)
    mine = tree / "runs" / "data" / "two_room.h5"  # the README's collect line writes exactly this path
    mine.write_text("the user's data")
    r = _reproduce(tree, tmp_path, "two_room")
    assert r.returncode == 0, r.stderr
    log = _log(tmp_path)
    assert not any("runs/data/two_room.h5" in ln for ln in log) and mine.read_text() == "the user's data"
    # the recipe's settings, unchanged, with data under names of its own
    assert log[0] == ("PY -m lewm collect --env two_room --episodes 2000 --mix-random 0.3 --seed 1 --image-size 64 "
                      "--out runs/data/reproduce_two_room.h5")
    assert log[1].startswith("PY -m lewm train --data runs/data/reproduce_two_room.h5 --preset cpu-small --history 1 "
                             "--latent-dim 2 --lambda 1.0 --batch-size 128 --steps 2600 ")
    assert "--out runs/data/reproduce_two_room_stage2.h5" in log[2] and "--mix-random 0.85 --seed 5" in log[2]
    assert "--out runs/data/reproduce_two_room_stage3.h5" in log[4] and "--policy wall_slide --seed 13" in log[4]
    assert "--data runs/data/reproduce_two_room_stage3.h5" in log[-3]  # the export
    # a rerun reuses the recipe's own data (a stopped run continues) and still not the user's file
    (tmp_path / "py.log").unlink()
    assert _reproduce(tree, tmp_path, "two_room").returncode == 0
    assert not any(" collect " in ln for ln in _log(tmp_path))


def test_c3_reacher_stages_export_with_the_recipe_data(tree, tmp_path):
    r = _reproduce(tree, tmp_path, "reacher")
    assert r.returncode == 0, r.stderr
    exports = [ln for ln in _log(tmp_path) if " export " in ln]
    assert "--data runs/data/reproduce_reacher_no_target.h5 " in exports[0] + " "
    assert "--data runs/data/reproduce_reacher_no_target_stage2.h5 " in exports[1] + " "
    assert "--data runs/data/reproduce_reacher_no_target_stage3.h5 " in exports[2] + " "


# ---- gpu_train.sh (c4, c5, c6, c7) ------------------------------------------------------------------------

def _gpu_train(tmp_path, *args, **env):
    e = _env(tmp_path, PYTHON=_stub(tmp_path), OUT=str(tmp_path / "out dir"), TMPDIR=str(tmp_path), **env)
    return subprocess.run(["bash", "scripts/gpu_train.sh", *args], cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args", [[], ["pusht", "--smok"], ["pusht", "--smoke", "x"], ["pusht", "extra"]])
def test_gpu_train_refuses_a_bad_command_line(tmp_path, args):
    r = _gpu_train(tmp_path, *args)
    assert r.returncode == 2 and "usage: scripts/gpu_train.sh pusht|two_room|reacher [--smoke]" in r.stderr
    assert _log(tmp_path) == []


def test_c4_each_run_has_a_fresh_work_folder(tmp_path):
    for _ in range(2):
        r = _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="B")
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(1.1)  # a stamp per second (and the pid)
    collects = [ln for ln in _log(tmp_path) if " collect " in ln]
    assert len(collects) == 2  # the second run did not reuse the first one's data ...
    works = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("lewm-gpu-train-"))
    assert len(works) == 2  # ... nor its run_B (resumed before, training nothing)


def test_c4_a_given_work_with_another_runs_folders_is_refused(tmp_path):
    work = tmp_path / "work dir"
    (work / "run_B").mkdir(parents=True)
    r = _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="B", WORK=str(work))
    assert r.returncode == 2 and f"gpu_train: WORK={work} already holds run_B" in r.stderr
    assert _log(tmp_path) == []


def test_c4_data_is_reused_only_for_the_same_episodes(tmp_path):
    work = tmp_path / "work"
    assert _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="B", WORK=str(work)).returncode == 0
    shutil.rmtree(work / "run_B")
    assert _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="B", WORK=str(work), EPISODES="40").returncode == 0
    collects = [ln for ln in _log(tmp_path) if " collect " in ln]
    assert len(collects) == 2 and "--episodes 40 " in collects[1] and "pusht_40ep.h5" in collects[1]


def test_c4_a_failed_training_is_not_exported_or_evaluated(tmp_path):
    r = _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="A B", WORK=str(tmp_path / "w"), STUB_FAIL="B")
    assert r.returncode == 1
    assert "skip export + eval of B: its training exited 3" in r.stdout
    assert "gpu_train: training failed for variant(s) B:3" in r.stderr
    log = _log(tmp_path)
    assert not any("run_B/last.pt" in ln or "pusht_B.pt" in ln for ln in log)
    assert any("run_A/last.pt" in ln for ln in log) and (tmp_path / "out dir" / "pusht_A.pt").exists()
    assert "| B (train failed, exit 3) | 7 |" in r.stdout and "| A | 7 |" in r.stdout
    assert (tmp_path / "out dir" / "gpu_train.tar.gz").exists()  # the logs still come back


@pytest.mark.parametrize("variants,msg", [("B Z", "gpu_train: unknown variant 'Z' (A B C D E F G P)"),
                                          ("B B", "gpu_train: variant B given twice"),
                                          (" ", "names no variant")])
def test_c5_variants_are_checked_before_anything_starts(tmp_path, variants, msg):
    work = tmp_path / "w"
    r = _gpu_train(tmp_path, "two_room", "--smoke", VARIANTS=variants, WORK=str(work))
    assert r.returncode == 2 and msg in r.stderr
    assert _log(tmp_path) == [] and not work.exists()  # nothing collected, no training started


def test_c5_children_are_stopped_when_the_script_is_stopped(tmp_path):
    work = tmp_path / "w"
    e = _env(tmp_path, PYTHON=_stub(tmp_path), OUT=str(tmp_path / "out"), WORK=str(work), VARIANTS="A B",
             STUB_SLEEP="60")
    p = subprocess.Popen(["bash", "scripts/gpu_train.sh", "pusht", "--smoke"], cwd=ROOT, env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = []
    try:
        for _ in range(600):
            pids = [int(f.read_text()) for f in work.glob("run_*/pid") if f.read_text().strip()]
            if len(pids) == 2:
                break
            time.sleep(0.05)
        assert len(pids) == 2
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 143
        time.sleep(0.5)
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(")")[-1].split()[0] != "Z":
                        alive.append(pid)
            except FileNotFoundError:
                pass
        assert alive == []
    finally:
        if p.poll() is None:
            p.kill()
        for pid in pids:  # only the stub trainings this test started
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_c6_the_summary_reports_measured_training_time(tmp_path):
    r = _gpu_train(tmp_path, "pusht", "--smoke", VARIANTS="B", WORK=str(tmp_path / "w"), TRAIN_SECONDS="41")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "with a time budget of 41 s each" in r.stdout
    assert "| variant | steps | train s |" in r.stdout and "| B | 7 | 2 |" in r.stdout  # elapsed_s 2.5 of metrics
    assert "training budget 41 s per variant (measured: 'train s')" in r.stdout
    summary = json.load(open(tmp_path / "w" / "summary.json"))
    assert summary["train_budget_seconds"] == 41 and summary["rows"][0][2] == "2"


def test_c7_the_header_names_the_default_variants():
    script = open(os.path.join(ROOT, "scripts", "gpu_train.sh")).read()
    assert 'VARIANTS=${VARIANTS:-B E G}' in script and 'VARIANTS ("B E G")' in script
    assert 'VARIANTS ("A B C")' not in script


# ---- gpu_report.py / gpu_check.sh (c8) --------------------------------------------------------------------

def _gpu_report():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import gpu_report
    finally:
        sys.path.pop(0)
    return gpu_report


class BackendCompilerFailed(RuntimeError):
    pass


def test_c8_an_error_records_the_type_and_first_line(tmp_path):
    gr = _gpu_report()
    rep = gr.Report(str(tmp_path))
    try:
        raise BackendCompilerFailed("backend='inductor' raised:\nCppCompileError: C++ compile error\n\n"
                                    "Set TORCHDYNAMO_VERBOSE=1 for the internal stack trace (please do this ...)")
    except Exception:
        rep.error("train bf16+compile")
    try:
        raise ValueError("bad size 3\nmore")
    except Exception:
        rep.error("plan fp32")
    errs = json.load(open(tmp_path / "gpu_report.json"))["errors"]
    assert errs == [f"train bf16+compile: {__name__}.BackendCompilerFailed: backend='inductor' raised: "
                    "CppCompileError: C++ compile error",
                    "plan fp32: ValueError: bad size 3"]
    assert "TORCHDYNAMO_VERBOSE" not in open(tmp_path / "gpu_report.md").read()
    assert gr.exception_line(KeyError()) == "KeyError"


def test_c8_gpu_report_exits_1_when_a_section_failed(tmp_path, monkeypatch, capsys):
    gr = _gpu_report()
    import torch

    def boom(*a, **k):
        raise RuntimeError("compile went wrong\nSet TORCHDYNAMO_VERBOSE=1")
    monkeypatch.setattr(gr.bench, "bench_train", boom)
    monkeypatch.setattr(gr, "measure_peak", lambda dev, smoke: {"n": 1, "bf16_tflops": 1.0, "fp32_tflops": 1.0,
                                                                 "tf32": False})
    threads = torch.get_num_threads()
    try:
        assert gr.main(["--out", str(tmp_path), "--smoke", "--sections", "compile"]) == 1
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert "gpu_report: 1 section(s) failed: train bf16+compile: RuntimeError: compile went wrong" in err


GPU_CHECK_STUB = r'''#!/usr/bin/env bash
case "$1 $2" in
  "-m pytest") echo "1 passed"; exit 0 ;;
esac
if [ "$1" = scripts/gpu_report.py ]; then
  case "$*" in
    *compile*) "$REAL_PY" - "$OUT" <<'EOF'
import json, sys
p = sys.argv[1] + "/gpu_report.json"
d = json.load(open(p)); d["errors"].append("train bf16+compile: RuntimeError: compile went wrong")
json.dump(d, open(p, "w"))
EOF
      exit 1 ;;
    *) echo '{"sections": {}, "errors": []}' > "$OUT/gpu_report.json"; exit 0 ;;
  esac
fi
exec "$REAL_PY" "$@"
'''


def test_c8_gpu_check_does_not_say_ok_when_a_section_failed(tmp_path):
    stub = tmp_path / "py"
    stub.write_text(GPU_CHECK_STUB)
    stub.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    (out / "gpu_report.json").write_text('{"sections": {}, "errors": ["old: an earlier run"]}')
    r = subprocess.run(["bash", "scripts/gpu_check.sh", "--cpu-smoke"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHON": str(stub), "REAL_PY": sys.executable, "OUT": str(out)},
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "gpu_check: ok" not in r.stdout
    assert last == f"== gpu_check: FAILED (1 failed: section train bf16+compile; report in {out})"
