"""python -m lewm eval: the command replays the planner settings an agent ships with and says so, counts pairs solved
at the start, and writes its results (how the settings are resolved: tests/test_eval_planner.py)."""
import json
from dataclasses import asdict
import os
import pathlib
import shutil

from lewm.planning import PlannerConfig

SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "checkpoints" / "two_room"


def _shipped_settings() -> dict:
    with open(SHIPPED / "eval.json") as f:
        return json.load(f)["planner"]


def test_eval_cli_replays_the_shipped_settings_and_says_so(tmp_path, capsys):
    from lewm.cli import main
    folder = tmp_path / "agent"
    folder.mkdir()
    shutil.copy(SHIPPED / "model.pt", folder / "model.pt")
    shutil.copy(SHIPPED / "eval.json", folder / "eval.json")
    fast = ["--episodes", "1", "--budget", "1", "--samples", "8", "--topk", "2", "--iterations", "1", "--threads", "1",
            "--device", "cpu"]
    out = str(tmp_path / "r.json")
    assert main(["eval", "--checkpoint", str(folder / "model.pt"), "--env", "TwoRoom", "--out", out, *fast]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (f"planner: cem 8 samples / top 2 / 1 iterations, horizon 5, re-plan every 1, cost on all "
                          f"— from {folder / 'eval.json'}, overridden by --samples, --topk, --iterations")
    with open(out) as f:
        res = json.load(f)
    assert res["env"] == "two_room" and res["planner_source"] == printed[0]
    assert res["planner"] == asdict(PlannerConfig(**{**_shipped_settings(), "num_samples": 8, "topk": 2, "iterations": 1}))
    out2 = str(tmp_path / "p.json")
    assert main(["eval", "--checkpoint", str(folder / "model.pt"), "--protocol", "paper", "--out", out2, *fast]) == 0
    with open(out2) as f:
        p = json.load(f)["planner"]
    assert (p["receding_horizon"], p["cost_steps"], p["iterations"], p["num_samples"]) == (5, "last", 1, 8)
    assert "from the paper's protocol (--protocol paper)" in capsys.readouterr().out
    assert os.path.exists(folder / "eval.json")  # never rewritten by a run without --out there


def test_a_pair_solved_at_the_start_is_counted_and_said(tmp_path, capsys, monkeypatch):
    """Round 12 (ev-s18): a pair drawn already within the success tolerance counts as a success (the
    paper's protocol does the same), and the result says how many there were."""
    from lewm import evaluate
    from lewm.cli import main
    real = evaluate.eval_pairs

    def first_pair_solved(*a, **k):
        pairs = real(*a, **k)
        return [(pairs[0][0], pairs[0][0])] + pairs[1:]  # episode 0: the goal is the start
    monkeypatch.setattr(evaluate, "eval_pairs", first_pair_solved)
    out = str(tmp_path / "r.json")
    assert main(["eval", "--checkpoint", str(SHIPPED / "model.pt"), "--episodes", "2", "--budget", "1", "--samples",
                 "8", "--topk", "2", "--iterations", "1", "--threads", "1", "--device", "cpu", "--out", out]) == 0
    res = json.load(open(out))
    assert res["per_episode"][0]["solved_at_start"] and res["per_episode"][0]["success"]
    assert res["solved_at_start"] == sum(p["solved_at_start"] for p in res["per_episode"]) >= 1
    assert "within tolerance at the start" in capsys.readouterr().out
