"""The paper's evaluation protocol (DESIGN §2) and ``python -m lewm eval``.

start = a state from the environment's data; goal = the state ``offset`` (25) steps later in the
same trajectory; budget 50 env steps; success = the environment's test at any step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import asdict

import numpy as np
import torch

from . import checkpoint
from .validate import env_key
from .planning import EpisodeResult, PlannerConfig, run_episode


def eval_pairs(env_name: str, episodes: int, seed: int = 0, offset: int = 25, data: str | None = None,
               traj_len: int = 100) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start, goal) state pairs. From ``data`` (an HDF5 file with a ``state`` key) when given,
    else from fresh expert trajectories of the environment (no rendering; seeds disjoint from
    the collection seeds used for training data)."""
    rng = np.random.default_rng(seed)
    pairs = []
    if data is not None:
        import h5py
        with h5py.File(data, "r") as f:
            if "state" not in f:
                raise ValueError(f"{data}: no 'state' key; the protocol needs true states to set start and goal")
            lens, offs = f["ep_len"][:], f["ep_offset"][:]
            ok = np.flatnonzero(lens > offset)
            if len(ok) == 0:
                raise ValueError(f"{data}: no episode longer than {offset} steps (key 'ep_len')")
            for _ in range(episodes):
                e = int(rng.choice(ok))
                t = int(rng.integers(0, lens[e] - offset))
                pairs.append((f["state"][offs[e] + t], f["state"][offs[e] + t + offset]))
        return pairs
    from .envs import make
    from .envs.policies import make_policy
    env = make(env_name, image_size=16)
    env.render_on_step = False
    for i in range(episodes):
        ep_seed = 1_000_000 + seed * 10_000 + i
        env.reset(seed=ep_seed)
        pol = make_policy(env, "expert", np.random.default_rng(ep_seed))
        if hasattr(pol, "reset"):
            pol.reset(env)
        states = [env.get_state()]
        for _ in range(traj_len):
            env.step(pol(env))
            states.append(env.get_state())
        t = int(rng.integers(0, len(states) - offset))
        pairs.append((states[t], states[t + offset]))
    return pairs


def save_gif(ep: EpisodeResult, path: str, scale: int = 4, fps: int = 10) -> str:
    """Episode frames (left) next to the goal frame (right), nearest-neighbour upscaled."""
    import imageio.v2 as imageio
    g = ep.goal_frame
    frames = [np.concatenate([f, np.full((f.shape[0], 2, 3), 128, np.uint8), g], axis=1) for f in ep.frames]
    frames = [f.repeat(scale, 0).repeat(scale, 1) for f in frames]
    imageio.mimsave(path, frames, duration=1.0 / fps, loop=0)
    return path


def evaluate(ckpt: str, episodes: int = 50, pcfg: PlannerConfig = PlannerConfig(), seed: int = 0,
             data: str | None = None, budget: int = 50, offset: int = 25, device: str | None = None,
             gif_dir: str | None = None, gifs: int = 3, progress: bool = True, env_name: str | None = None,
             precision: str = "fp32", cuda_graphs: bool = True, compile_rollout: bool = False) -> dict:
    """Run the protocol; returns the JSON-ready summary (success rate, planning-time stats, per episode).
    ``compile_rollout``: plan with the compiled rollout (``lewm.compiled_cost``; not with CUDA graphs)."""
    from .envs import make
    from .train import resolve_device
    dev = resolve_device(device)
    model, cfg, meta = checkpoint.load(ckpt, device=dev)
    note = checkpoint.batchnorm_note(meta)
    if note:
        warnings.warn(f"{ckpt}: {note}")
    name = env_name or cfg.env
    if env_name and cfg.env and env_key(env_name) != env_key(cfg.env):
        raise ValueError(f"--env {env_name}: {ckpt} was trained on {cfg.env!r}; a model scores only in the "
                         f"environment it was trained on (drop --env)")
    if not name:
        raise ValueError(f"{ckpt}: the checkpoint does not record its environment; pass --env")
    env = make(name, image_size=cfg.model.image_size)
    if env.action_dim != cfg.model.action_dim:
        raise ValueError(f"{ckpt}: the model takes {cfg.model.action_dim}-dim actions but {name!r} has "
                         f"{env.action_dim}: evaluate it in the environment it was trained on")
    if data is not None:  # the same checks as every command that reads a dataset, before the work
        from .validate import check_dataset
        check_dataset(data, env=name, need_state=True, state_dim=env.state_dim,
                      who=f"the evaluation ({'--env' if env_name else 'checkpoint ' + str(ckpt)})")
    pairs = eval_pairs(name, episodes, seed, offset, data)
    gen = torch.Generator(device=dev).manual_seed(seed)
    compiled = compile_rollout and not (dev.type == "cuda" and cuda_graphs)
    factory = None
    if compiled:
        from .compiled_cost import compiled_cost_factory
        from .precision import resolve_precision
        factory = compiled_cost_factory(bf16=resolve_precision(precision, dev, "plan"))
    per, secs = [], []
    it = range(episodes)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"eval {name} ({pcfg.solver})", unit="ep", dynamic_ncols=True)
    n_ok = 0
    for i in it:
        s, g = pairs[i]
        ep = run_episode(env, model, cfg, pcfg, s, g, budget=budget, generator=gen, precision=precision,
                         cuda_graphs=cuda_graphs, cost_factory=factory)
        n_ok += ep.success
        secs += ep.plan_seconds
        per.append({"episode": i, "success": bool(ep.success), "steps": ep.steps,
                    "first_success_step": ep.first_success_step,
                    "final_distance": float(env.success_distance(ep.states[-1], g)),
                    "start_distance": float(env.success_distance(s, g)),
                    "plans": len(ep.plan_seconds)})
        if hasattr(env, "fingertip_distance"):  # arms: how far the tip ends from the goal's tip, and its best
            per[-1]["final_fingertip_distance"] = env.fingertip_distance(ep.states[-1], g)
            per[-1]["best_fingertip_distance"] = min(env.fingertip_distance(x, g) for x in ep.states)
        if gif_dir and i < gifs:
            os.makedirs(gif_dir, exist_ok=True)
            save_gif(ep, os.path.join(gif_dir, f"{name}_ep{i:02d}_{'ok' if ep.success else 'fail'}.gif"))
        if progress:
            it.set_postfix(success=f"{n_ok}/{i + 1}")
    secs = np.asarray(secs) if secs else np.zeros(1)
    tips = {}
    if per and "final_fingertip_distance" in per[0]:
        fd = np.array([p["final_fingertip_distance"] for p in per])  # (E,)
        bd = np.array([p["best_fingertip_distance"] for p in per])  # (E,)
        tips = {"fingertip_distance_median": float(np.median(fd)), "fingertip_within_0.02": float(np.mean(fd < 0.02)),
                "best_fingertip_distance_median": float(np.median(bd)), "best_fingertip_within_0.02": float(np.mean(bd < 0.02))}
    return {**tips, "checkpoint": ckpt, "env": name, "episodes": episodes, "solver": pcfg.solver,
            "success_rate": n_ok / max(episodes, 1), "successes": n_ok,
            "plan_seconds_median": float(np.median(secs)), "plan_seconds_p90": float(np.percentile(secs, 90)),
            "plans": int(len(secs)), "budget": budget, "goal_offset": offset, "seed": seed,
            "device": str(dev), "device_name": _device_name(dev), "precision": precision,
            "cuda_graphs": bool(cuda_graphs and dev.type == "cuda"), "compiled_rollout": compiled,
            "planner": asdict(pcfg), "per_episode": per}


def _device_name(dev) -> str:
    from .bench import device_name
    return device_name(dev)


def add_eval_args(p: argparse.ArgumentParser) -> None:
    from .validate import arg_int
    p.add_argument("--checkpoint", required=True, help="checkpoint file (or a run folder with last.pt)")
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=50)
    p.add_argument("--solver", default="cem", choices=["cem", "mppi", "grad"])
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=0)
    p.add_argument("--samples", type=arg_int(1, 1_000_000), default=300)
    p.add_argument("--topk", type=arg_int(1, 1_000_000), default=30, help="CEM elites (at most --samples)")
    p.add_argument("--iterations", type=arg_int(1, 10_000), default=10)
    p.add_argument("--horizon", type=arg_int(1, 1000), default=5)
    p.add_argument("--receding-horizon", type=arg_int(1, 1000), default=1, help="blocks executed per plan (at most --horizon)")
    p.add_argument("--cost-steps", default="last", choices=["last", "all"],
                   help="goal cost on the last imagined block (the paper) or averaged over all blocks")
    p.add_argument("--budget", type=arg_int(1, 100_000), default=50, help="env steps per episode")
    p.add_argument("--data", default=None, help="HDF5 with 'state' to draw start/goal pairs from "
                   "(default: fresh expert trajectories of the checkpoint's environment)")
    p.add_argument("--env", default=None, help="override the checkpoint's environment name")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"],
                   help="model rollouts in fp32 (default) or bf16 autocast; auto = bf16 on CUDA")
    p.add_argument("--no-cuda-graphs", action="store_true",
                   help="on CUDA, launch the rollout's kernels eagerly instead of replaying CUDA graphs")
    p.add_argument("--compile", action="store_true",
                   help="plan with the rollout compiled by torch.compile (lewm/compiled_cost.py): tens of seconds of "
                        "compilation per context length first, then faster CEM iterations (x1.3-1.7 on this CPU)")
    p.add_argument("--threads", type=arg_int(1, 1024), default=None,
                   help="torch CPU threads (1 is fastest for the planner's small matmuls when the cores are shared)")
    p.add_argument("--gif", default=None, help="folder: save the first episodes as GIFs")
    p.add_argument("--json", action="store_true", help="print one JSON object (and nothing else on stdout)")
    p.add_argument("--out", default=None, help="also write the JSON to this file")


def run_eval(a: argparse.Namespace) -> int:
    from . import validate
    from .train import resolve_device
    if a.topk > a.samples:
        raise ValueError(f"--topk must be <= --samples ({a.samples}), got {a.topk}")
    if a.receding_horizon > a.horizon:
        raise ValueError(f"--receding-horizon must be <= --horizon ({a.horizon}), got {a.receding_horizon}")
    # outputs and inputs are checked before the (long) evaluation, not after it
    if a.out:
        validate.check_out_file(a.out, inputs={"--checkpoint": a.checkpoint, "--data": a.data})
    if a.gif:
        validate.check_out_dir(a.gif, "--gif")
    resolve_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    pcfg = PlannerConfig(solver=a.solver, num_samples=a.samples, topk=a.topk, iterations=a.iterations,
                         horizon=a.horizon, receding_horizon=a.receding_horizon,
                         cost_steps=a.cost_steps)
    res = evaluate(a.checkpoint, a.episodes, pcfg, a.seed, a.data, a.budget, device=a.device,
                   gif_dir=a.gif, progress=not a.json or sys.stderr.isatty(), env_name=a.env,
                   precision=a.precision, cuda_graphs=not a.no_cuda_graphs, compile_rollout=a.compile)
    if a.out:
        from .faults import write_atomic
        write_atomic(a.out, json.dumps(res, indent=2))
    if a.json:
        print(json.dumps({k: v for k, v in res.items()}))
    else:
        print(f"{res['env']}: success {res['successes']}/{res['episodes']} = {100 * res['success_rate']:.0f}%  "
              f"plan time median {res['plan_seconds_median']:.3f} s, p90 {res['plan_seconds_p90']:.3f} s "
              f"({res['solver']}, {res['device']})")
    return 0
