"""The GPU scripts run end to end on the CPU at toy sizes (their `--cpu-smoke` / `--smoke` modes), so
that the one run on a GPU machine cannot fail on a typo: scripts/gpu_check.sh and scripts/gpu_train.sh."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(cmd, tmp_path, **env):
    e = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "out"), **env}
    return subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True, text=True, timeout=300)


def test_gpu_check_cpu_smoke_writes_the_report(tmp_path):
    r = _run(["bash", "scripts/gpu_check.sh", "--cpu-smoke"], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "gpu_check: ok" in r.stdout
    rep = json.load(open(tmp_path / "out" / "gpu_report.json"))
    sec = rep["sections"]
    assert rep["errors"] == []
    assert {"device", "peak", "train", "plan", "profile"} <= set(sec)
    settings = [row["setting"] for row in sec["train"]]
    assert any("fp32" in s for s in settings) and any("bf16" in s and "compile" not in s for s in settings)
    assert any("compile" in s for s in settings)
    assert all(row["rate"] > 0 and row["bf16_frac"] > 0 for row in sec["train"] + sec["plan"])
    md = open(tmp_path / "out" / "gpu_report.md").read()
    assert "## Training steps" in md and "## Plans" in md and "passed" in open(tmp_path / "out" / "pytest_gpu.txt").read()


def test_gpu_train_smoke_trains_exports_and_evaluates(tmp_path):
    r = _run(["bash", "scripts/gpu_train.sh", "pusht", "--smoke"], tmp_path, WORK=str(tmp_path / "work"),
             VARIANTS="A B")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "pusht_A.pt").exists() and (out / "pusht_B.pt").exists()
    names = tarfile.open(out / "gpu_train.tar.gz").getnames()
    assert "./summary.json" in names and "./eval_A_seed0.json" in names and "./eval_B_seed1.json" in names
    assert not any(n.endswith(".h5") or n.endswith("last.pt") for n in names)
    assert "| A |" in r.stdout and "| B |" in r.stdout


def test_every_gpu_train_variant_is_a_command_the_parser_takes():
    """Round 14 (a1): variant F gave --batch-size twice, refused since flags are taken once; the GPU run would
    have lost a third of its variants with only a '-' in its table."""
    from lewm.cli import Parser, UsageError, add_train_args
    script = open(os.path.join(ROOT, "scripts", "gpu_train.sh")).read()
    start = script.index("variant_args() {")
    funcs = script[start:script.index("\n", script.index("variant_batch() {"))]  # the two functions
    out = subprocess.run(["bash", "-c", f"BATCH=8\n{funcs}\nfor V in A B C D E F G P; do "
                          "echo \"$V|$(variant_batch $V)|$(variant_args $V)\"; done"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == 8, out
    for line in out:
        v, batch, args = line.split("|")
        p = Parser(prog="train")
        add_train_args(p)
        try:
            a = p.parse_args(["--data", "d.h5", "--out", "o", "--preset", "cpu-tiny", "--batch-size", batch,
                              *args.split(), "--set", "train.time_budget_s=10", "--device", "cpu"])
        except (UsageError, SystemExit) as e:
            raise AssertionError(f"variant {v}: {e}") from None
        assert a.batch_size == (16 if v in "FG" else 8)
