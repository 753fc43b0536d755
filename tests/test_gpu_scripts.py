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
