"""Which half of a world-model agent loses its episodes: the dynamics or the goal cost?

The same MPC loop (``lewm.planning.run_episode``: CEM, receding horizon, the paper's protocol and
pairs) with three costs, on the same start/goal pairs:

- ``learned``: the agent as shipped — the predictor imagines, ‖ẑ_P − z_goal‖² scores;
- ``true-dynamics``: each candidate is played in a copy of the environment from the current true
  state, its last frame rendered and encoded, and scored with the agent's own latent cost
  ‖z(frame_P) − z_goal‖²: a perfect predictor, the learned cost;
- ``oracle``: true dynamics and the true cost (the env's distance to the goal state): what the
  planner itself reaches with a perfect model — the ceiling of this CEM/MPC setting;
- ``true-cost``: the predictor imagines as usual, an MLP probe (fitted here on held-out episodes)
  reads the state from the imagined last latent, and the env's own distance to the goal state scores
  it (for Reacher the sum of squared wrapped joint errors): the learned predictor, a perfect cost
  (up to the probe's error, printed).

If ``true-dynamics`` succeeds where ``learned`` fails, the predictor loses the episodes; if it fails
too, the latent cost does (its basins are not the goal's). ``true-cost`` checks the other way round.

    python scripts/oracle_split.py --checkpoint checkpoints/reacher/model.pt --episodes 20 [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from lewm import checkpoint  # noqa: E402
from lewm.collect import run_episode as collect_episode  # noqa: E402
from lewm.data import action_stats_of  # noqa: E402
from lewm.diagnostics import encode_frames  # noqa: E402
from lewm.envs import make  # noqa: E402
from lewm.envs.base import wrap_angle  # noqa: E402
from lewm.evaluate import eval_pairs  # noqa: E402
from lewm.planning import PlannerConfig, run_episode  # noqa: E402


def angle_targets(env, states: np.ndarray) -> np.ndarray:
    """Smooth probe targets from which the state's positions/angles are read back: cos/sin for angles."""
    s = np.asarray(states, np.float64)
    cols = []
    for j, name in enumerate(env.state_names):
        if name.startswith("q") or "angle" in name:
            cols += [np.cos(s[:, j]), np.sin(s[:, j])]
        elif not name.startswith(("dq", "agent_v")):
            cols.append(s[:, j])
    return np.stack(cols, 1)  # (N, F)


def targets_to_state(env, t: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Inverse of ``angle_targets`` (velocities taken from ``like``)."""
    out = np.array(like, np.float64, copy=True)
    k = 0
    for j, name in enumerate(env.state_names):
        if name.startswith("q") or "angle" in name:
            out[..., j] = np.arctan2(t[..., k + 1], t[..., k])
            k += 2
        elif not name.startswith(("dq", "agent_v")):
            out[..., j] = t[..., k]
            k += 1
    return out


def true_cost_distance(env, states: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(N,) a smooth version of the env's success distance: squared wrapped angle errors (Reacher),
    squared position distance + (50 · angle error)² (PushT-like), squared distance otherwise."""
    s, g = np.asarray(states, np.float64), np.asarray(goal, np.float64)
    if env.name.startswith("reacher"):
        return (wrap_angle(s[:, :2] - g[:2]) ** 2).sum(1)
    if "pusht" in env.name:
        pos = ((s[:, :4] - g[:4]) ** 2).sum(1)
        return pos + (50.0 * wrap_angle(s[:, 4] - g[4])) ** 2
    return ((s[:, :2] - g[:2]) ** 2).sum(1)


HORIZON = 5  # planning horizon in blocks (the paper's)


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, every number in its range and ``--json`` checked, before any work."""
    from lewm.cli import Parser
    from lewm.validate import arg_int
    p = Parser(prog="python scripts/oracle_split.py", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=20)
    p.add_argument("--samples", type=arg_int(2, 100_000), default=300)  # 1: CEM scores only its mean
    p.add_argument("--topk", type=arg_int(1, 100_000), default=30, help="CEM elites (at most --samples)")
    p.add_argument("--iterations", type=arg_int(1, 10_000), default=10)
    p.add_argument("--receding-horizon", type=arg_int(1, HORIZON), default=5,
                   help=f"blocks played per plan (at most the horizon, {HORIZON})")
    p.add_argument("--modes", nargs="+", default=["learned", "true-dynamics", "true-cost"],
                   choices=["learned", "true-dynamics", "true-cost", "oracle"])
    p.add_argument("--probe-episodes", type=arg_int(1, 100_000), default=120,
                   help="expert episodes to fit the true-cost probe on")
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=0)
    p.add_argument("--json", default=None, help="also write the results to this JSON file (a new file unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --json file of the same kind")
    a = p.parse_args(argv)
    if a.topk > a.samples:  # was: PlannerConfig's "topk must be in [1, num_samples=4]", after loading
        raise ValueError(f"--topk {a.topk} must be <= --samples {a.samples} (the elites are drawn from the samples)")
    if a.json:  # checked before the evaluation: a plain open() replaced a dataset given as --json, and a
        # missing folder failed after the whole run
        from lewm.runs import EVAL_RESULT
        from lewm.validate import check_out_file
        # its results hold "planner", so an earlier output reads as an evaluation result: that kind, so that
        # --force can replace one (a dataset, a checkpoint or a run's file stays refused)
        check_out_file(a.json, "--json", force=a.force, writes=EVAL_RESULT)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(1)
    from lewm.runs import DATASET, file_kind
    if os.path.isfile(a.checkpoint) and file_kind(a.checkpoint) == DATASET:  # load's advice names a --data flag
        raise ValueError(f"--checkpoint {a.checkpoint}: is an HDF5 episode file; expected a checkpoint "
                         f"(e.g. checkpoints/reacher/model.pt)")
    model, cfg, _ = checkpoint.load(a.checkpoint, device="cpu")
    mc = cfg.model
    env = make(cfg.env, image_size=mc.image_size)
    sim = make(cfg.env, image_size=mc.image_size)  # the copy in which true-dynamics candidates are played
    sim.render_on_step = False
    stats = action_stats_of(cfg)
    k, A = mc.frameskip, mc.action_dim
    pcfg = PlannerConfig(num_samples=a.samples, topk=a.topk, iterations=a.iterations, horizon=HORIZON,
                         receding_horizon=a.receding_horizon)
    pairs = eval_pairs(cfg.env, a.episodes, seed=a.seed)
    report = {"checkpoint": a.checkpoint, "env": cfg.env, "episodes": a.episodes, "planner": vars(a), "modes": {}}

    probe = None
    if "true-cost" in a.modes:  # latent -> state, fitted on fresh expert episodes (held out: 20%)
        from sklearn.neural_network import MLPRegressor
        t0 = time.perf_counter()
        frames, states = [], []
        for i in range(a.probe_episodes):
            ep = collect_episode(env, 10_000 + i, 123, 100, "expert", mix_random=0.3)
            frames.append(ep["pixels"][::2])
            states.append(ep["state"][::2])
        z = encode_frames(model, np.concatenate(frames)).numpy()  # (F, D)
        y = angle_targets(env, np.concatenate(states))  # (F, T)
        n_tr = int(0.8 * len(z))
        probe = MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=300, early_stopping=True, random_state=0).fit(z[:n_tr], y[:n_tr])
        r = [float(np.corrcoef(probe.predict(z[n_tr:])[:, j], y[n_tr:, j])[0, 1]) for j in range(y.shape[1])]
        report["probe_r"] = r
        print(f"true-cost probe (latent -> state), held-out r per target: {np.round(r, 3).tolist()} "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)

    def factory(mode, goal_state):
        def make_cost(model_, z_hist, z_goal, a_hist, steps):
            from lewm.planning import LatentGoalCost
            learned = LatentGoalCost(model_, z_hist, z_goal, a_hist, steps=steps)
            if mode == "learned":
                return learned
            if mode == "true-cost":
                def cost(actions):  # (N, P, K)
                    zf = learned.imagine(actions)[:, -1].detach().numpy()  # (N, D)
                    st = targets_to_state(env, probe.predict(zf), np.zeros((len(zf), env.state_dim)))
                    return torch.as_tensor(true_cost_distance(env, st, goal_state), dtype=torch.float32)
                return cost
            start = env.get_state()  # true-dynamics: play each candidate from the current state

            def cost(actions):  # (N, P, K) normalised blocks
                raw = stats.denormalize(actions.detach().numpy().reshape(len(actions), -1, A)).clip(-1, 1)  # (N, P*k, A)
                last = []
                for seq in raw:
                    sim.set_state(start)
                    for u in seq:
                        sim.step(u)
                    last.append(sim.get_state() if mode == "oracle" else sim.render())
                if mode == "oracle":  # true dynamics, true cost
                    return torch.as_tensor(true_cost_distance(env, np.stack(last), goal_state), dtype=torch.float32)
                zf = encode_frames(model_, np.stack(last))  # (N, D)
                return ((zf - z_goal.reshape(1, -1)) ** 2).sum(-1), zf
            return cost
        return make_cost

    for mode in a.modes:
        t0, ok, rows = time.perf_counter(), 0, []
        gen = torch.Generator().manual_seed(a.seed)
        for i, (s, g) in enumerate(pairs):
            ep = run_episode(env, model, cfg, pcfg, s, g, generator=gen, cost_factory=factory(mode, g))
            ok += ep.success
            final = ep.states[-1]
            rows.append({"episode": i, "success": bool(ep.success), "start_distance": env.success_distance(s, g),
                         "final_distance": env.success_distance(final, g),
                         "best_distance": float(min(env.success_distance(x, g) for x in ep.states))})
        mins = (time.perf_counter() - t0) / 60
        fd = np.array([r["final_distance"] for r in rows])
        report["modes"][mode] = {"successes": ok, "episodes": len(pairs), "median_final_distance": float(np.median(fd)),
                                 "cpu_minutes": mins, "per_episode": rows}
        print(f"{mode:14s} success {ok}/{len(pairs)}  median final distance {np.median(fd):.3f}  "
              f"(start {np.median([r['start_distance'] for r in rows]):.3f})  [{mins:.1f} min]", flush=True)
    if a.json:
        from lewm.faults import write_atomic
        write_atomic(a.json, json.dumps(report, indent=2))  # a kill or a full disk leaves no half file
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
