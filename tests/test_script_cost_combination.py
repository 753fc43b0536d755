"""scripts/cost_combination.py: the goal costs' plans scored under every objective and played in the env
(docs/reacher_findings.md §13)."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest

from lewm.cli import run_script

ROOT = os.path.join(os.path.dirname(__file__), "..")
REACHER = os.path.join(ROOT, "checkpoints", "reacher", "model.pt")


def _script():
    spec = importlib.util.spec_from_file_location("_cost_combination", os.path.join(ROOT, "scripts", "cost_combination.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("argv, words", [
    (["--checkpoint", REACHER, "--episodes", "0"], "--episodes must be in [1, 100000]"),
    (["--checkpoint", REACHER, "--costs", "all", "all"], "--costs all all: each cost once"),
    (["--checkpoint", REACHER, "--costs", "mean"], "invalid choice"),
])
def test_refuses_bad_arguments_in_one_line(capsys, argv, words):
    assert run_script(lambda: _script().main(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_one_pair_scored_under_every_objective(tmp_path, capsys):
    out = tmp_path / "cc.json"
    assert _script().main(["--checkpoint", REACHER, "--episodes", "1", "--horizon", "3", "--iterations", "1",
                           "--costs", "last", "all", "min", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["pairs"]
    for steps in ("last", "all", "min"):  # one plan's per-block costs: min <= mean, min <= last
        assert row[f"{steps}_plan_imagined_min"] <= row[f"{steps}_plan_imagined_all"] + 1e-6
        assert row[f"{steps}_plan_imagined_min"] <= row[f"{steps}_plan_imagined_last"] + 1e-6
        assert 0 <= row[f"{steps}_plan_true_closest"] <= row[f"{steps}_plan_true_final"] + 1e-9
    assert "plan of 'min'" in capsys.readouterr().out
