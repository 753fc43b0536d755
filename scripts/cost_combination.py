"""Why a goal cost averaged over the horizon stalls on far goals, and the closest block does not.

At the start of each evaluation pair (the paper's protocol: goal = the state 25 steps later on an expert
trajectory), CEM plans once with each goal cost of ``PlannerConfig.cost_steps`` asked for (default: 'all', the mean
of ‖ẑ_p − z_goal‖² over the P imagined blocks, and 'min', the closest block). Each plan is then

- scored as the predictor imagines it, under every one of those objectives, and
- played open loop in the environment: the true distance to the goal after the plan, and the closest it came.

If a plan that truly reaches the goal costs more under 'all' than 'all''s own plan, the objective — not the
search nor the predictor — holds the agent back (docs/reacher_findings.md §13: Reacher's far goals).

    python scripts/cost_combination.py --checkpoint checkpoints/reacher/model.pt --seed 1 --episodes 50 [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from lewm import checkpoint  # noqa: E402
from lewm.data import action_stats_of  # noqa: E402
from lewm.envs import make  # noqa: E402
from lewm.evaluate import eval_pairs  # noqa: E402
from lewm.planning import LatentGoalCost, PlannerConfig  # noqa: E402
from lewm.planning.config import COST_STEPS  # noqa: E402
from lewm.planning.env_space import action_bounds, to_pixels_tensor  # noqa: E402
from lewm.planning.solvers import plan  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, every number in its range and ``--json`` checked, before any work."""
    from lewm.cli import Parser
    from lewm.validate import arg_int
    p = Parser(prog="python scripts/cost_combination.py", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=50)
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=1, help="evaluation seed (the pairs drawn)")
    p.add_argument("--horizon", type=arg_int(1, 1000), default=8, help="planning horizon in blocks")
    p.add_argument("--iterations", type=arg_int(1, 10_000), default=10)
    p.add_argument("--costs", nargs="+", default=["all", "min"], choices=list(COST_STEPS))
    p.add_argument("--json", default=None, help="also write the per-pair results to this JSON file (a new file "
                                                "unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --json file of the same kind")
    a = p.parse_args(argv)
    if len(set(a.costs)) != len(a.costs):
        raise ValueError(f"--costs {' '.join(a.costs)}: each cost once")
    if a.json:  # before the work: a plain open() would replace a dataset given as --json
        from lewm.runs import EVAL_RESULT
        from lewm.validate import check_out_file
        check_out_file(a.json, "--json", force=a.force, writes=EVAL_RESULT)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(1)
    from lewm.runs import DATASET, file_kind
    if os.path.isfile(a.checkpoint) and file_kind(a.checkpoint) == DATASET:
        raise ValueError(f"--checkpoint {a.checkpoint}: is an HDF5 episode file; expected a checkpoint "
                         f"(e.g. checkpoints/reacher/model.pt)")
    model, cfg, _ = checkpoint.load(a.checkpoint, device="cpu")
    mc = cfg.model
    stats = action_stats_of(cfg)
    bounds = action_bounds(stats, mc.frameskip)
    env = make(cfg.env, image_size=mc.image_size)
    pairs = eval_pairs(cfg.env, a.episodes, a.seed, 25, None)
    gen = torch.Generator().manual_seed(a.seed)
    rows = []
    for i, (s, g) in enumerate(pairs):
        obs, _ = env.reset(state=s, goal=g)
        with torch.no_grad():
            z0 = model.encode(to_pixels_tensor(obs[None], "cpu"))[0, 0]  # (D,)
            zg = model.encode(to_pixels_tensor(env.render_state(g)[None], "cpu"))[0, 0]  # (D,)
        row = {"episode": i, "start_distance": float(env.success_distance(s, g))}
        for steps in a.costs:
            pcfg = PlannerConfig(solver="cem", horizon=a.horizon, iterations=a.iterations, cost_steps=steps,
                                 plan_from="best")
            cost = LatentGoalCost(model, z0[None, None], zg, None, steps=steps)
            acts = plan(cost, a.horizon, mc.action_block_dim, pcfg, bounds=bounds, generator=gen).actions  # (P, K)
            with torch.no_grad():
                z = model.rollout(z0[None, None], acts[None])[0]  # (P, D)
            d = ((z - zg) ** 2).sum(-1)  # (P,)
            for other in a.costs:  # the plan scored under every objective, as the predictor imagines it
                row[f"{steps}_plan_imagined_{other}"] = float({"last": d[-1], "all": d.mean(), "min": d.min()}[other])
            env.reset(state=s, goal=g)
            dist = []
            for blk in acts:  # played open loop in the environment
                for raw in stats.denormalize(blk.numpy().reshape(mc.frameskip, mc.action_dim)).clip(-1, 1):
                    _, _, _, _, info = env.step(raw)
                    dist.append(float(env.success_distance(info["state"], g)))
            row[f"{steps}_plan_true_final"], row[f"{steps}_plan_true_closest"] = dist[-1], min(dist)
        rows.append(row)
    far = np.array([r["start_distance"] for r in rows]) > np.median([r["start_distance"] for r in rows])
    print(f"{len(rows)} pairs of eval seed {a.seed}; medians over the farther half ({int(far.sum())}) / the nearer half")
    for steps in a.costs:
        for part, m in (("far", far), ("near", ~far)):
            sel = [r for r, f in zip(rows, m) if f]
            if not sel:
                continue
            obj = "  ".join(f"{o}-objective {np.median([r[f'{steps}_plan_imagined_{o}'] for r in sel]):.2f}"
                            for o in a.costs)
            print(f"plan of '{steps}' ({part}): {obj}  true closest {np.median([r[f'{steps}_plan_true_closest'] for r in sel]):.3f}"
                  f"  true final {np.median([r[f'{steps}_plan_true_final'] for r in sel]):.3f}")
    if a.json:
        from lewm.faults import write_atomic
        write_atomic(a.json, json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, "planner": "cem 300 / top 30, "
                                         f"{a.iterations} iterations, horizon {a.horizon}, best candidate",
                                         "pairs": rows}, indent=1))
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
