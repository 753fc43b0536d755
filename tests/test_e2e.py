"""Tiny end to end: collect -> train a few steps -> eval 2 episodes, through the CLI (< 1 min)."""
import json
import subprocess
import sys

import pytest


def run(*args, timeout=120):
    r = subprocess.run([sys.executable, "-m", "lewm", *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_collect_train_eval_smoke(tmp_path):
    data, out = str(tmp_path / "tr.h5"), str(tmp_path / "run")
    run("collect", "--env", "two_room", "--episodes", "6", "--image-size", "32", "--out", data, "--workers", "1",
        "--no-progress")
    run("train", "--data", data, "--preset", "cpu-tiny", "--history", "1", "--out", out, "--steps", "20",
        "--set", "model.patch_size=16", "--set", "sigreg.num_proj=32")
    saved = json.load(open(out + "/config.json"))
    assert saved["model"]["patch_size"] == 16 and saved["sigreg"]["num_proj"] == 32
    txt = run("eval", "--checkpoint", out + "/last.pt", "--episodes", "2", "--samples", "30", "--topk", "5",
              "--iterations", "2", "--json", "--gif", str(tmp_path / "gifs"))
    res = json.loads(txt.strip().splitlines()[-1])
    for key, typ in [("success_rate", float), ("episodes", int), ("solver", str), ("plan_seconds_median", float),
                     ("plan_seconds_p90", float), ("per_episode", list)]:
        assert isinstance(res[key], typ), key
    assert res["episodes"] == 2 and res["solver"] == "cem" and 0.0 <= res["success_rate"] <= 1.0
    assert len(res["per_episode"]) == 2 and res["plan_seconds_p90"] >= res["plan_seconds_median"] > 0
    assert len(list((tmp_path / "gifs").glob("*.gif"))) == 2


def test_cli_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lewm", "eval", "--checkpoint", str(tmp_path / "nope.pt")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "checkpoint file not found" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lewm", "train", "--data", str(tmp_path / "x.h5"), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such dataset file" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lewm", "train", "--data", str(tmp_path / "x.h5"), "--out",
                        str(tmp_path / "o"), "--set", "model.patch=8"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "model has no field 'patch'" in r.stderr and "Traceback" not in r.stderr
