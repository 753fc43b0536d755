"""The paper's evaluation protocol (DESIGN §2) and ``python -m lewm eval``.

start = a state from the environment's data; goal = the state ``offset`` (25) steps later in the
same trajectory; budget 50 env steps; success = the environment's test at any step.

The planner settings of ``eval --checkpoint CKPT`` (the flags, ``--protocol``, the agent's own settings, the
library's defaults) are resolved in :mod:`lewm.eval_planner`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import warnings
from dataclasses import asdict

import numpy as np
import torch

from . import checkpoint
from ._eval_checks import check_evaluate_args, check_gif_args, check_pairs_args
from ._eval_files import is_gif
from .env_names import env_key
from .eval_planner import (FLAG_OF, FLAGS, PROTOCOLS, SOLVER_USES, resolve_planner,  # noqa: F401 (lewm.evaluate's
                           shipped_planner)  # names since session 1: the CLI, the app, scripts and tests import them here)
from .planning import EpisodeResult, PlannerConfig, run_episode


def eval_pairs(env_name: str, episodes: int, seed: int = 0, offset: int = 25, data: str | None = None,
               traj_len: int = 100) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start, goal) state pairs. From ``data`` (an HDF5 file with a ``state`` key) when given,
    else from fresh expert trajectories of the environment (no rendering; seeds disjoint from
    the collection seeds used for training data)."""
    check_pairs_args(episodes, seed, offset, data, traj_len)  # one line naming the argument (round 23)
    rng = np.random.default_rng(seed)
    pairs = []
    if data is not None:
        import h5py
        with h5py.File(data, "r") as f:
            if "state" not in f:
                raise ValueError(f"{data}: no 'state' key; the protocol needs true states to set start and goal")
            lens, offs = f["ep_len"][:], f["ep_offset"][:]
            ok = np.flatnonzero(lens > offset)
            if len(ok) == 0:  # was: "no episode longer than 25 steps", the 25 unexplained
                raise ValueError(f"{data}: the protocol's goal is the state {offset} steps after the start, so it needs "
                                 f"episodes of at least {offset + 1} steps; its longest has {int(lens.max(initial=0))} "
                                 f"(key 'ep_len'); collect longer ones, e.g. python -m lewm collect --episode-len 100")
            if episodes > len(ok):  # allowed, but the result is not `episodes` independent trajectories
                warnings.warn(f"{data}: {episodes} evaluation pairs drawn from only {len(ok)} usable episodes "
                              f"(longer than {offset} steps): several pairs share an episode")
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


def check_world_states(path: str, env) -> None:
    """States (and goal states) of a file this lab collected (attribute ``lewm_format_version``) must
    be states ``env`` can be in: a file whose states were scaled x100 evaluated at 0% without a word
    (every start and goal was off the map). Other tools' files are not checked (their states may use
    other units). Raises DataError naming the file, key and row."""
    from .data import DataError, h5_dataset, open_h5
    env_name = env.name
    with open_h5(path) as f:
        if f.attrs.get("lewm_format_version") is None:
            return
        state = h5_dataset(path, f, "state") if "state" in f else None
        goal = h5_dataset(path, f, "goal_state") if "goal_state" in f else None
        for key, ds in (("state", state), ("goal_state", goal)):
            if ds is None or ds.ndim != 2 or ds.shape[1] != env.state_dim:
                continue
            for lo in range(0, ds.shape[0], 1 << 18):
                block = np.asarray(ds[lo:lo + (1 << 18)], np.float64)
                if key == "goal_state":  # goals may leave parts "don't care" (PushT's NaN agent): the env decides
                    for i in np.flatnonzero(~np.asarray(env.valid_states(block), bool)):  # usually none
                        try:
                            env.set_goal(block[i])
                        except ValueError as e:
                            raise DataError(f"{path}: key 'goal_state' row {lo + i} is not a {env_name} goal state "
                                            f"({str(e).split(': ', 1)[-1]}); re-collect the file") from None
                    continue
                bad = ~np.asarray(env.valid_states(block), bool) & np.isfinite(block).all(1)  # NaN: check_dataset's words
                if bad.any():
                    row = lo + int(np.flatnonzero(bad)[0])
                    raise DataError(f"{path}: key 'state' row {row} = {block[row - lo].tolist()} is outside the {env_name} "
                                    f"world ({int(bad.sum())} row(s) in this block): {env.world}; re-collect the file")


def save_gif(ep: EpisodeResult, path: str, scale: int = 4, fps: int = 10) -> str:
    """Episode frames (left) next to the goal frame (right), nearest-neighbour upscaled."""
    import imageio.v2 as imageio
    check_gif_args(ep, path)
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
    ``compile_rollout``: plan with the compiled rollout (``lewm.planning.compiled_cost``; not with CUDA graphs)."""
    from .envs import make
    from .devices import resolve_device
    from .planning.env_space import check_planner
    from .validate import Range, check_value
    for where, v in (("episodes", episodes), ("budget", budget), ("offset", offset)):  # before the work: 0
        check_value(where, v, Range(lo=1), int)  # episodes was a 0 % result, offset 0 a 100 % one
    check_planner(pcfg)
    seed = check_evaluate_args(seed, gif_dir, gifs, progress, cuda_graphs, compile_rollout)  # before the model loads
    from .precision import resolve_precision
    dev = resolve_device(device)
    bf16 = resolve_precision(precision, dev, "plan")  # what runs is recorded (was: "auto", fp32 or bf16 unknown)
    model, cfg, meta = checkpoint.load(ckpt, device=dev)
    note = checkpoint.batchnorm_note(meta)
    if note:
        warnings.warn(f"{ckpt}: {note}")
    name = env_key(env_name) if env_name else cfg.env  # 'TwoRoom', 'two-room' -> 'two_room'
    if env_name and cfg.env and name != cfg.env:
        raise ValueError(f"--env {env_name}: {ckpt} was trained on {cfg.env!r}; a model scores only in the "
                         f"environment it was trained on (drop --env)")
    if not name:
        raise ValueError(f"{ckpt}: the checkpoint does not record its environment; pass --env")
    try:
        env = make(name, image_size=cfg.model.image_size)
    except ValueError as e:  # an env with no simulator here (an official 'cube' checkpoint): say whose env it is
        raise ValueError(f"{ckpt}: {e} ({'--env' if env_name else 'the environment its config records'}); eval "
                         f"plans in a simulator of the env the model was trained on") from None
    if env.action_dim != cfg.model.action_dim:
        raise ValueError(f"{ckpt}: the model takes {cfg.model.action_dim}-dim actions but {name!r} has "
                         f"{env.action_dim}: evaluate it in the environment it was trained on")
    if data is not None:  # the same checks as every command that reads a dataset, before the work
        from ._eval_files import check_eval_data  # a dataset, or a file of states only
        check_eval_data(data, name, env.state_dim, f"the evaluation ({'--env' if env_name else 'checkpoint ' + str(ckpt)})")
        check_world_states(data, env)
    pairs = eval_pairs(name, episodes, seed, offset, data)
    gen = torch.Generator(device=dev).manual_seed(seed)
    compiled = compile_rollout and not (dev.type == "cuda" and cuda_graphs)
    if compile_rollout and not compiled:
        warnings.warn("--compile: the rollout replays CUDA graphs on this GPU and is not compiled "
                      "(pass --no-cuda-graphs to plan with the compiled rollout)")
    from .planning.compiled_cost import MIN_CANDIDATES
    n_cand, what = ((pcfg.grad_restarts, "restarts") if pcfg.solver == "grad" else
                    (pcfg.num_samples, "candidates per iteration"))
    if compiled and n_cand < MIN_CANDIDATES:  # was: recorded as compiled, every rollout ran eagerly
        warnings.warn(f"--compile: {n_cand} {what} are fewer than the {MIN_CANDIDATES} the compiled rollout is used "
                      f"for (a compilation would cost more than it saves): every rollout runs eagerly and nothing "
                      f"is compiled")
        compiled = False
    factory = None
    if compiled:
        from .planning.compiled_cost import compiled_cost_factory
        factory = compiled_cost_factory(bf16=bf16)
    per, secs, iters = [], [], []
    it = range(episodes)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"eval {name} ({pcfg.solver})", unit="ep", dynamic_ncols=True)
    from .faults import Terminated
    n_ok, interrupted, stopped_by = 0, False, None
    try:  # Ctrl-C, SIGTERM and SIGHUP keep the finished episodes: a partial result, marked so
        for i in it:
            s, g = pairs[i]
            ep = run_episode(env, model, cfg, pcfg, s, g, budget=budget, generator=gen, precision=precision,
                             cuda_graphs=cuda_graphs, cost_factory=factory)
            n_ok += ep.success
            secs += ep.plan_seconds
            iters += ep.plan_iterations
            per.append({"episode": i, "success": bool(ep.success), "steps": ep.steps,
                        "first_success_step": ep.first_success_step,
                        "solved_at_start": ep.first_success_step == 0,  # the pair drawn already within tolerance
                        "final_distance": float(env.success_distance(ep.states[-1], g)),
                        "start_distance": float(env.success_distance(s, g)),
                        "plans": len(ep.plan_seconds)})
            if hasattr(env, "fingertip_distance"):  # arms: how far the tip ends from the goal's tip, and its best
                per[-1]["final_fingertip_distance"] = env.fingertip_distance(ep.states[-1], g)
                per[-1]["best_fingertip_distance"] = min(env.fingertip_distance(x, g) for x in ep.states)
            if gif_dir and i < gifs:
                os.makedirs(gif_dir, exist_ok=True)
                gif = os.path.join(gif_dir, f"{name}_ep{i:02d}_{'ok' if ep.success else 'fail'}.gif")
                if os.path.lexists(gif) and not is_gif(gif):  # never over a file that is not a GIF
                    warnings.warn(f"{gif}: exists and is not a GIF; left as it is (episode {i}'s GIF not written)")
                else:
                    save_gif(ep, gif)
            if progress:
                it.set_postfix(success=f"{n_ok}/{i + 1}")
    except (KeyboardInterrupt, Terminated) as e:  # SIGTERM / SIGHUP threw the finished episodes away
        if not per:
            raise
        interrupted = True
        stopped_by = e.name if isinstance(e, Terminated) else None
    secs = np.asarray(secs) if secs else np.zeros(1)
    tips = {}
    if per and "final_fingertip_distance" in per[0]:
        fd = np.array([p["final_fingertip_distance"] for p in per])  # (E,)
        bd = np.array([p["best_fingertip_distance"] for p in per])  # (E,)
        tips = {"fingertip_distance_median": float(np.median(fd)), "fingertip_within_0.02": float(np.mean(fd < 0.02)),
                "best_fingertip_distance_median": float(np.median(bd)), "best_fingertip_within_0.02": float(np.mean(bd < 0.02))}
    partial = {"interrupted": True, "episodes_requested": episodes} if interrupted else {}
    if stopped_by:
        partial["signal"] = stopped_by
    episodes = len(per)
    return {**tips, **partial, "checkpoint": ckpt, "env": name, "episodes": episodes, "solver": pcfg.solver,
            "success_rate": n_ok / max(episodes, 1), "successes": n_ok,
            "solved_at_start": sum(p["solved_at_start"] for p in per),  # counted as successes, as the paper does
            "plan_seconds_median": float(np.median(secs)), "plan_seconds_p90": float(np.percentile(secs, 90)),
            "plans": int(len(secs)), "plan_iterations_mean": float(np.mean(iters)) if iters else 0.0,
            "budget": budget, "goal_offset": offset, "seed": seed,
            "device": str(dev), "device_name": _device_name(dev), "precision": "bf16" if bf16 else "fp32",
            **({"precision_asked": precision} if precision != ("bf16" if bf16 else "fp32") else {}),
            "cuda_graphs": bool(cuda_graphs and dev.type == "cuda"), "compiled_rollout": compiled,
            "planner": asdict(pcfg), **_unused(pcfg), "per_episode": per}


def _unused(pcfg: PlannerConfig) -> dict:
    """The planner settings this solver does not read (grad: num_samples, topk, stop_tol, plan_from), said in
    the result (was: a grad result read "plan = best candidate", which grad never applies)."""
    unused = sorted(set(FLAGS.values()) - SOLVER_USES[pcfg.solver])
    return {"planner_unused": unused} if unused else {}


def _device_name(dev) -> str:
    from .devices import device_name
    return device_name(dev)


def add_eval_args(p: argparse.ArgumentParser) -> None:
    from .validate import arg_field, arg_float, arg_int
    p.add_argument("--checkpoint", required=True, help="checkpoint file (or a run folder with last.pt)")
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=50)
    p.add_argument("--protocol", default="shipped", choices=PROTOCOLS,
                   help="planner settings: 'shipped' (default) = the agent's own (the eval.json beside the "
                        "checkpoint, or settings stored in it; else the library defaults), 'paper' = the paper's "
                        "solver (CEM 300 samples / top 30 / 30 iterations, horizon 5, re-plan every 5 blocks). "
                        "The flags below override either, one by one")
    p.add_argument("--solver", default=None, choices=["cem", "mppi", "grad"])
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=0)
    p.add_argument("--samples", type=arg_field(PlannerConfig, "num_samples"), default=None, help="candidates per iteration (default 300)")
    p.add_argument("--topk", type=arg_field(PlannerConfig, "topk"), default=None, help="CEM elites (at most --samples; default 30)")
    p.add_argument("--iterations", type=arg_int(1, 10_000), default=None, help="solver iterations per plan (default 10)")
    p.add_argument("--horizon", type=arg_int(1, 1000), default=None, help="planning horizon in blocks (default 5)")
    p.add_argument("--receding-horizon", type=arg_int(1, 1000), default=None,
                   help="blocks executed per plan (at most --horizon; default 1)")
    p.add_argument("--cost-steps", default=None, choices=["last", "all", "min"],
                   help="goal cost on the last imagined block (the paper; default), averaged over all blocks, or "
                        "the smallest over all blocks (the goal reached at any block counts)")
    p.add_argument("--cost-mean-weight", type=arg_float(0, 100), default=None,
                   help="add this weight x the mean goal cost over all blocks (default 0; with --cost-steps min, "
                        "a tie-break toward arriving sooner: the shipped Reacher agent uses 0.1)")
    p.add_argument("--plan-from", default=None, choices=["mean", "best"],
                   help="CEM/MPPI: execute the final sampling mean (the paper; default) or the lowest-cost "
                        "candidate scored in any iteration (commits to one way when the elites split)")
    p.add_argument("--stop-tol", type=arg_float(0, 10), default=None,
                   help="CEM/MPPI early stop: end a plan once an iteration moves the sampling mean by less than "
                        "this (normalised action units; default 0 = off, as the paper); e.g. 0.05")
    p.add_argument("--budget", type=arg_int(1, 100_000), default=50, help="env steps per episode")
    p.add_argument("--data", default=None, help="HDF5 to draw start/goal pairs from: a dataset from collect, or "
                   "any file with 'state', 'ep_len', 'ep_offset' and episodes of more than 25 steps "
                   "(default: fresh expert trajectories of the checkpoint's environment)")
    p.add_argument("--env", default=None, help="the checkpoint's environment, in any spelling (tworoom, TwoRoom, "
                   "two-room, PushT, ...); must be the one it was trained on")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"],
                   help="model rollouts in fp32 (default: the reference) or bf16 autocast; auto = bf16 on CUDA "
                        "and on CPUs with native bf16 (lewm/precision.py)")
    p.add_argument("--no-cuda-graphs", action="store_true",
                   help="on CUDA, launch the rollout's kernels eagerly instead of replaying CUDA graphs")
    p.add_argument("--compile", action="store_true",
                   help="plan with the rollout compiled by torch.compile (lewm/planning/compiled_cost.py): tens of seconds of "
                        "compilation per context length first, then faster CEM iterations (x1.3-1.7 on this CPU)")
    p.add_argument("--threads", type=arg_int(1, 1024), default=None,
                   help="torch CPU threads (1 is fastest for the planner's small matmuls when the cores are shared)")
    p.add_argument("--gif", default=None, help="folder: save the first episodes as GIFs (one holding an earlier "
                   "eval's GIFs only with --force, which replaces them)")
    p.add_argument("--json", action="store_true", help="print one JSON object (and nothing else on stdout)")
    p.add_argument("--out", default=None, help="also write the JSON to this file (never over a file of another "
                   "kind; over a run's or checkpoint's own file, e.g. the eval.json beside it, only with --force)")
    p.add_argument("--force", action="store_true",
                   help="let --out replace the eval.json beside a checkpoint (its shipped planner settings and results), "
                        "and --gif the GIFs of an earlier eval")


def _print_result(res: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({k: v for k, v in res.items()}), flush=True)
    else:
        at_start = res.get("solved_at_start", 0)  # counted, as the paper's protocol does: said, not hidden
        print(f"{res['env']}: success {res['successes']}/{res['episodes']} = {100 * res['success_rate']:.0f}%"
              + (f" ({at_start} of them within tolerance at the start)" if at_start else "") + "  "
              f"plan time median {res['plan_seconds_median']:.3f} s, p90 {res['plan_seconds_p90']:.3f} s "
              f"({res['solver']}, {res['device']})", flush=True)


def run_eval(a: argparse.Namespace) -> int:
    from . import validate
    from .devices import resolve_device, set_threads
    pcfg, line = resolve_planner(a.checkpoint, a.protocol, {f: getattr(a, dest) for dest, f in FLAGS.items()})
    # outputs and inputs are checked before the (long) evaluation, not after it
    # an empty --out / --gif (a script's unset variable) is an error, not "no output"
    if a.force and a.out is None and a.gif is None:
        raise ValueError("--force lets --out replace a checkpoint's eval.json and --gif an earlier eval's GIFs; without "
                         "--out it does nothing (and there is no --gif): drop it")
    if a.out is not None:
        from .runs import EVAL_RESULT, check_out_suffix
        validate.check_out_file(a.out, force=a.force or None, inputs={"--checkpoint": a.checkpoint, "--data": a.data},
                                writes=EVAL_RESULT)
        check_out_suffix(a.out, "--out", EVAL_RESULT)  # JSON under an .h5 / .pt name looked like a dataset
        from ._eval_files import check_out_beside
        check_out_beside(a.out, a.checkpoint, a.force)  # another checkpoint's eval.json: its planner settings
    # an --out that did not exist when the check passed is created only if it still does not exist
    # (two evals at once into one new file: the later one silently replaced the other's result)
    replace = bool(a.force) or (a.out is not None and os.path.lexists(a.out))
    if a.gif is not None:
        validate.check_out_dir(a.gif, "--gif")
        if a.gif.rstrip("/").lower().endswith((".gif", ".mp4")) and not os.path.isdir(a.gif):
            raise ValueError(f"--gif {a.gif}: takes a folder (one GIF per episode is written into it), not a file "
                             f"name; give a folder, e.g. --gif {os.path.splitext(a.gif.rstrip('/'))[0]}-gifs")
        o, g = os.path.realpath(a.out or ""), os.path.realpath(a.gif)
        if a.out and (o == g or g.startswith(o + os.sep)):  # was: the write of --out failed after the whole eval
            raise ValueError(f"--out {a.out} and --gif {a.gif}: --out is a file and --gif a folder at the same "
                             f"place; give them different paths (e.g. --gif {a.gif.rstrip('/')}-gifs)")
    from ._eval_files import earlier_gifs
    old_gifs = earlier_gifs(a.gif, a.force) if a.gif is not None else []  # with --force: replaced, never mixed
    resolve_device(a.device)
    set_threads(a.threads)
    print(line, file=sys.stderr if a.json else sys.stdout)
    for p in old_gifs:
        os.remove(p)
    if old_gifs:
        print(f"note: --force: removed the {len(old_gifs)} GIF(s) of an earlier eval from {a.gif}", file=sys.stderr)
    res = evaluate(a.checkpoint, a.episodes, pcfg, a.seed, a.data, a.budget, device=a.device,
                   gif_dir=a.gif, progress=not a.json or sys.stderr.isatty(), env_name=a.env,
                   precision=a.precision, cuda_graphs=not a.no_cuda_graphs, compile_rollout=a.compile)
    res["planner_source"] = line
    unprinted = None
    try:  # printed first: a failed write of --out (disk full) lost the whole evaluation's result
        _print_result(res, a.json)
    except OSError as e:  # a hangup closed the terminal: the result is in --out, the line below goes to /dev/null
        unprinted = None if res.get("signal") else e
    if a.out:
        from .faults import write_atomic
        write_atomic(a.out, json.dumps(res, indent=2), replace=replace, flag="--out")
    if unprinted is not None:
        raise unprinted
    if res.get("interrupted"):
        from .faults import say
        sig = res.get("signal")
        why = f"terminated ({sig}{': the terminal closed' if sig == 'SIGHUP' else ''})" if sig else "interrupted"
        say(f"{why} after {res['episodes']} of {res['episodes_requested']} episodes: the result above "
            f"(and --out) covers those only (\"interrupted\": true)")
        return 128 + int(getattr(signal.Signals, sig)) if sig else 130
    return 0
