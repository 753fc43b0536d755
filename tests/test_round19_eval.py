"""Round 19 (eval / planning / bench): C7, C8, C9, C10, C16, P1, P2, P3."""
import json
import os
import shutil
from fractions import Fraction

import numpy as np
import pytest
import torch

from lewm import checkpoint
from lewm.config import get_preset
from lewm.evaluate import evaluate, resolve_planner
from lewm.model import LeWM
from lewm.planning import PlannerConfig, run_episode

REACHER = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "reacher")
START, GOAL = np.array([60.0, 150.0]), np.array([170.0, 60.0])


def _run(folder, **over) -> str:
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0), **over)
    path = os.path.join(folder, "last.pt")
    checkpoint.save(path, LeWM(cfg.model).eval(), cfg, 1, {})
    return path


def _cli(*args):
    from lewm.cli import main
    try:
        return main(list(args))
    except SystemExit as e:  # argparse's errors
        return e.code


def test_c7_another_agents_eval_json_is_refused(tmp_path):
    run = tmp_path / "tr2"
    _run(str(run))
    doc = json.load(open(os.path.join(REACHER, "eval.json")))
    (run / "eval.json").write_text(json.dumps({**doc, "checkpoint": "rc1/model.pt"}))
    with pytest.raises(ValueError, match=r"tr2/eval.json: holds the settings of the reacher_no_target agent "
                                         r"rc1/model.pt, not of .*tr2 \(two_room\); move or remove it"):
        resolve_planner(str(run))
    resolve_planner(str(run), "paper")  # the way out it names
    (run / "eval.json").write_text(json.dumps({**doc, "env": "TwoRoom"}))  # its own env, any spelling: used
    assert resolve_planner(str(run))[0].cost_mean_weight == 0.1
    assert resolve_planner(os.path.join(REACHER, "model.pt"))[0].plan_from == "best"  # the shipped one still reads


def test_c7_out_beside_another_checkpoint_needs_force(tmp_path, capsys):
    run = tmp_path / "tr2"
    _run(str(run))
    rc1 = tmp_path / "rc1"
    shutil.copytree(REACHER, rc1, ignore=shutil.ignore_patterns("report*", "reference*"))
    code = _cli("eval", "--checkpoint", str(rc1 / "model.pt"), "--episodes", "1", "--samples", "8", "--topk", "2",
                "--iterations", "1", "--threads", "1", "--budget", "2", "--out", str(run / "eval.json"))
    assert code == 2 and not (run / "eval.json").exists()
    assert "that folder holds another checkpoint (last.pt) than --checkpoint" in capsys.readouterr().err


def test_c8_samples_blames_the_flag(tmp_path, capsys):
    assert _cli("eval", "--checkpoint", os.path.join(REACHER, "model.pt"), "--samples", "200000") == 2
    assert "--samples must be in [1, 100000], got 200000" in capsys.readouterr().err
    assert _cli("bench", "plan", "--preset", "cpu-tiny", "--samples", "200000") == 2
    assert "--samples must be in [2, 100000], got 200000" in capsys.readouterr().err  # CEM: 2 or more (round 30)
    with pytest.raises(ValueError, match=r"^--samples must be in \[1, 100000\], got 200000$"):
        resolve_planner(os.path.join(REACHER, "model.pt"), flags={"num_samples": 200000})


def test_c9_grad_says_no_best_candidate():
    pcfg, line = resolve_planner(os.path.join(REACHER, "model.pt"), flags={"solver": "grad"})
    assert "best candidate" not in line and "min + 0.1 x mean" in line
    assert "plan = best candidate" in resolve_planner(os.path.join(REACHER, "model.pt"))[1]


def test_c10_p2_result_records_what_ran_and_is_json(tmp_path, monkeypatch):
    ck = _run(str(tmp_path / "r"))
    pc = PlannerConfig(num_samples=8, topk=2, iterations=1, horizon=2, solver="grad", cost_mean_weight=Fraction(1, 10))
    assert type(pc.cost_mean_weight) is float and pc.cost_mean_weight == 0.1
    assert type(PlannerConfig(num_samples=np.int64(8), topk=2).num_samples) is int
    import lewm.precision as prec
    monkeypatch.setattr(prec, "cpu_has_bf16", lambda: True)
    res = evaluate(ck, episodes=1, pcfg=pc, budget=2, progress=False, precision="auto")
    assert (res["precision"], res["precision_asked"]) == ("bf16", "auto")
    assert res["planner_unused"] == ["num_samples", "plan_from", "stop_tol", "topk"]
    json.dumps(res)
    monkeypatch.setattr(prec, "cpu_has_bf16", lambda: False)
    res = evaluate(ck, episodes=1, pcfg=PlannerConfig(num_samples=8, topk=2, iterations=1, horizon=2), budget=2,
                   progress=False, precision="fp32")
    assert res["precision"] == "fp32" and "precision_asked" not in res and "planner_unused" not in res


def test_c16_no_amp_refused_off_cuda(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert _cli("bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--warmup", "0", "--threads", "1",
                "--no-amp") == 2
    assert "--no-amp turns off CUDA's bf16 autocast only" in capsys.readouterr().err


def test_p1_old_cost_factory_with_a_mean_weight():
    from lewm.envs import make
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    model, env = LeWM(cfg.model).eval(), make("two_room", image_size=32)
    from lewm.planning import LatentGoalCost

    def old(model, z_hist, z_goal, a_hist, steps):
        return LatentGoalCost(model, z_hist, z_goal, a_hist, steps=steps)

    pc = PlannerConfig(num_samples=8, topk=2, iterations=1, horizon=2, cost_steps="min", cost_mean_weight=0.1)
    with pytest.raises(TypeError, match=r"^run_episode\(cost_factory=\.\.\.\) takes no mean_weight but "
                                        r"pcfg.cost_mean_weight=0.1 passes it: add a mean_weight=0.0 parameter"):
        run_episode(env, model, cfg, pc, START, GOAL, budget=2, cost_factory=old)

    def new(model, z_hist, z_goal, a_hist, steps, **kw):
        return LatentGoalCost(model, z_hist, z_goal, a_hist, steps=steps, **kw)
    assert run_episode(env, model, cfg, pc, START, GOAL, budget=2, cost_factory=new, stop_on_success=False).steps == 2


def test_p3_resolve_planner_flags():
    ck = os.path.join(REACHER, "model.pt")
    with pytest.raises(ValueError, match=r"^resolve_planner\(flags=\.\.\.\): unknown planner field\(s\) 'nonsense'; known: "):
        resolve_planner(ck, flags={"nonsense": 1})
    with pytest.raises(ValueError, match=r"^--cost-mean-weight must be a number, got '0.1'$"):
        resolve_planner(ck, flags={"cost_mean_weight": "0.1"})
    with pytest.raises(ValueError, match=r"^resolve_planner\(flags=\.\.\.\)\['init_std'\] must be"):
        resolve_planner(ck, flags={"init_std": -1.0})
    pcfg, line = resolve_planner(ck, flags={"init_std": 0.5, "iterations": np.int64(3)})
    assert (pcfg.init_std, pcfg.iterations) == (0.5, 3) and "overridden by init_std, --iterations" in line
