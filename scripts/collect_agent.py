"""Collect episodes driven by a checkpoint's own planner: data for the predictor on the actions the agent takes.

    python scripts/collect_agent.py --checkpoint checkpoints/reacher/model.pt --out agent.h5 \\
        [--episodes 300] [--seed 100] [--horizon 3] [--receding-horizon 1] [--noise 0.2] [--noisy 0.5] \\
        [--mix OTHER.h5 --copy 150]

A DAgger-style stage (docs/reacher_findings.md §10): each episode starts on an expert trajectory with the goal
15, 25 or 35 steps later (pairs drawn as the evaluation draws them, from seeds disjoint from eval seeds 0-99),
and the checkpoint's planner (its eval.json settings with ``--horizon`` blocks, re-planning after every block,
cost on all blocks) acts for the whole budget without stopping at success. ``--receding-horizon R`` plays R blocks
of each plan before re-planning; with R = ``--horizon`` every plan is played whole, open loop, so the data holds the
very action sequences the planner chose on the predictor's word — where an optimistic predictor is wrong
(docs/reacher_findings.md §12). In a fraction ``--noisy`` of the
episodes, Gaussian noise of std ``--noise`` is added to every executed raw action (clipped to [-1, 1]). The
executed actions are recorded. ``--mix F --copy N`` appends N episodes drawn from F (e.g. the previous stage's
data), so a stage keeps seeing what it was trained on. The output has lewm.collect's layout (variable episode
lengths); train on it with ``python -m lewm train --init CKPT --data OUT``.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lewm.cli import Parser, run_script  # noqa: E402
from lewm.validate import arg_float, arg_int  # noqa: E402


def parse_args(argv=None):
    p = Parser(prog="python scripts/collect_agent.py", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="the agent: a checkpoint (its eval.json gives the planner)")
    p.add_argument("--out", required=True, help="output .h5 file (a new file unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out dataset")
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=300, help="agent episodes (default 300)")
    p.add_argument("--seed", type=arg_int(100, 10_000), default=100,
                   help="pair seed (default 100; 100 and up never meet eval seeds 0-99)")
    p.add_argument("--horizon", type=arg_int(1, 50), default=3, help="planning horizon in blocks (default 3)")
    p.add_argument("--receding-horizon", type=arg_int(1, 50), default=1,
                   help="blocks of each plan played before re-planning (default 1; at most --horizon)")
    p.add_argument("--budget", type=arg_int(1, 1000), default=50, help="steps per episode (default 50)")
    p.add_argument("--noise", type=arg_float(0.0, 2.0), default=0.2, help="std of the action noise (default 0.2)")
    p.add_argument("--noisy", type=arg_float(0.0, 1.0), default=0.5,
                   help="fraction of episodes with noise (default 0.5)")
    p.add_argument("--mix", default=None, help="a dataset of the same environment to copy episodes from")
    p.add_argument("--copy", type=arg_int(0, 1_000_000), default=0, help="episodes to copy from --mix")
    p.add_argument("--threads", type=arg_int(1, 1024), default=1, help="torch CPU threads (default 1)")
    a = p.parse_args(argv)
    if a.receding_horizon > a.horizon:
        raise ValueError(f"--receding-horizon {a.receding_horizon}: a plan has --horizon {a.horizon} blocks; "
                         f"play at most {a.horizon}")
    if a.mix and a.copy == 0:  # was "--mix and --copy go together" although both were given
        raise ValueError(f"--copy 0 with --mix {a.mix} copies nothing: give --copy N >= 1, or drop --mix")
    if bool(a.mix) != bool(a.copy):
        raise ValueError("--mix and --copy go together: --mix F --copy N appends N episodes of F")
    return a


class _RecordedNoise:
    """The environment, with Gaussian noise added to each executed action, which it records."""

    def __init__(self, env, std: float, rng: np.random.Generator):
        self.env, self.std, self.rng, self.executed = env, std, rng, []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kw):
        self.executed = []
        return self.env.reset(**kw)

    def step(self, action):
        if self.std > 0:
            action = np.clip(action + self.rng.normal(0.0, self.std, np.shape(action)), -1, 1)
        action = np.asarray(action, np.float32)
        self.executed.append(action)
        return self.env.step(action)


def _check_copy(path: str, n: int) -> None:
    """``--copy N`` at most the episodes of ``--mix``, before the agent runs (was: refused after all of them)."""
    from lewm.data import open_h5
    with open_h5(path) as f:
        held = len(f["ep_len"])
    if n > held:
        raise ValueError(f"--copy {n}: --mix {path} holds {held} episodes; copy at most {held}")


def _copied(path: str, n: int, rng: np.random.Generator) -> list[dict]:
    from lewm.data import open_h5
    with open_h5(path) as f:
        lens, offs = f["ep_len"][:], f["ep_offset"][:]
        if n > len(lens):
            raise ValueError(f"--copy {n}: --mix {path} holds {len(lens)} episodes; copy at most {len(lens)}")
        eps = []
        for e in np.sort(rng.choice(len(lens), n, replace=False)):
            rows = slice(int(offs[e]), int(offs[e] + lens[e]))
            eps.append({"pixels": f["pixels"][rows], "state": f["state"][rows], "action": f["action"][rows],
                        "goal": f["goal_state"][e], "success": bool(f["ep_success"][e]),
                        "random": bool(f["ep_random"][e])})
    return eps


def _write(out: str, eps: list[dict], env, seed: int, agent_success: float, force: bool, start=None) -> None:
    """``start``: the identity of the --out file at the start (``lewm.collect.file_identity``): --force replaces
    only that file; one another command published meanwhile keeps this result beside it (``-kept-PID``)."""
    from lewm._collect_faults import h5_temp
    from lewm.collect import publish_dataset, temp_name
    from lewm.data import FORMAT_VERSION
    lens = np.array([len(e["pixels"]) for e in eps])
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
    N, S = int(lens.sum()), env.image_size
    tmp, made = temp_name(out), False  # .tmp-<name>.<pid>: never a user's out.tmp
    try:
        with h5_temp(tmp, out) as f:  # a refused write (ulimit -f, disk full): one line (was a segfault)
            made = True
            px = f.create_dataset("pixels", (N, S, S, 3), np.uint8, chunks=(min(8, N), S, S, 3), compression="gzip",
                                  compression_opts=1)
            ac = f.create_dataset("action", (N, env.action_dim), np.float32)
            st = f.create_dataset("state", (N, env.state_dim), np.float32)
            for e, o in zip(eps, offs):  # through the held datasets (see h5_temp)
                rows = slice(int(o), int(o + len(e["pixels"])))
                px[rows], ac[rows], st[rows] = e["pixels"], e["action"], e["state"]
            f["goal_state"] = np.stack([e["goal"] for e in eps]).astype(np.float32)
            f["ep_seed"] = np.arange(len(eps), dtype=np.int64)
            f["ep_success"] = np.array([e["success"] for e in eps])
            f["ep_random"] = np.array([e["random"] for e in eps])
            f["ep_len"], f["ep_offset"] = lens.astype(np.int32), offs.astype(np.int64)
            f.attrs.update({"env": env.name, "image_size": S, "action_dim": env.action_dim,
                            "state_dim": env.state_dim, "state_names": ",".join(env.state_names),
                            "policy": "agent", "seed": seed, "episode_len": int(lens.max()), "mix_random": 0.0,
                            "lewm_format_version": FORMAT_VERSION, "max_episode_steps": int(env.max_episode_steps),
                            "created_by": "scripts/collect_agent.py", "success_rate": agent_success})
        publish_dataset(tmp, out, force, start)
    finally:
        if made and os.path.exists(tmp):
            os.remove(tmp)


def _planner(ckpt: str):
    """resolve_planner's settings, its advice in this script's words: the script has no --protocol."""
    import re
    from lewm.evaluate import resolve_planner
    try:
        return resolve_planner(ckpt)
    except ValueError as e:
        msg = re.sub(r",? or pass --protocol paper", "", str(e)).replace("fix it, remove it", "fix it or remove it")
        raise ValueError(msg.replace("(--protocol paper)", "")) from None


def main(argv=None) -> int:
    """Ctrl-C and SIGTERM / SIGHUP end in one line, as ``python -m lewm`` does (was: a 40-line traceback for
    Ctrl-C, nothing at all for SIGTERM); the output is written only at the end, so nothing partial is left."""
    from lewm import faults
    try:
        with faults.terminate_as_exception():  # SIGTERM unwinds like Ctrl-C: the temp file is removed
            return _main(argv)
    except KeyboardInterrupt:
        faults.say("interrupted; nothing was written")
        return 130
    except faults.Terminated as e:
        why = ": the terminal closed" if e.name == "SIGHUP" else ""
        faults.say(f"error: terminated ({e.name}{why}); nothing was written")
        return e.exit_code


def _main(argv=None) -> int:
    a = parse_args(argv)
    import torch
    from dataclasses import replace
    from lewm import checkpoint
    from lewm.envs import make
    from lewm.collect import check_dataset_name, file_identity
    from lewm.evaluate import eval_pairs
    from lewm.planning.episode import run_episode
    from lewm.runs import DATASET
    from lewm.validate import check_dataset, check_out_file

    start = file_identity(a.out)  # the file checked now is the only one --force replaces
    # before the work: never replaces a dataset unasked, nor an input (--out = --mix replaced it even with --force)
    check_out_file(a.out, "--out", force=a.force, writes=DATASET, inputs={"--mix": a.mix, "--checkpoint": a.checkpoint})
    check_dataset_name(a.out, "--out")
    torch.set_num_threads(a.threads)
    model, cfg, _ = checkpoint.load(a.checkpoint)
    if a.mix:
        check_dataset(a.mix, flag="--mix", env=cfg.env, image_size=cfg.model.image_size, need_state=True)
        _check_copy(a.mix, a.copy)
    pcfg, line = _planner(a.checkpoint)
    pcfg = replace(pcfg, horizon=a.horizon, receding_horizon=a.receding_horizon, cost_steps="all")
    every = "every block" if a.receding_horizon == 1 else f"every {a.receding_horizon} blocks"
    print(f"{line}; collecting with horizon {a.horizon}, re-plan {every}, cost on all blocks", flush=True)
    env = make(cfg.env, image_size=cfg.model.image_size)
    rng = np.random.default_rng(a.seed)
    offsets = (15, 25, 35)
    pairs = []
    for j, off in enumerate(offsets):
        pairs += eval_pairs(cfg.env, -(-a.episodes // len(offsets)), seed=a.seed + j, offset=off)
    pairs = [pairs[i] for i in rng.permutation(len(pairs))[:a.episodes]]
    gen = torch.Generator().manual_seed(a.seed)
    eps, ok, t0 = [], 0, time.time()
    for i, (s, g) in enumerate(pairs):
        noisy = bool(rng.random() < a.noisy)
        w = _RecordedNoise(env, a.noise if noisy else 0.0, rng)
        ep = run_episode(w, model, cfg, pcfg, s, g, budget=a.budget, generator=gen, stop_on_success=False)
        action = np.full((len(ep.frames), env.action_dim), np.nan, np.float32)  # the last row has no action
        action[:-1] = np.stack(w.executed)
        eps.append({"pixels": ep.frames, "state": ep.states.astype(np.float32), "action": action,
                    "goal": np.asarray(g, np.float32), "success": bool(ep.success), "random": noisy})
        ok += ep.success
        if (i + 1) % 10 == 0 or i + 1 == len(pairs):
            print(f"{i + 1}/{len(pairs)} episodes, {ok} reached the goal, {time.time() - t0:.0f} s", flush=True)
    if a.mix:
        eps += _copied(a.mix, a.copy, rng)
    _write(a.out, eps, env, a.seed, ok / len(pairs), a.force, start)
    print(f"wrote {a.out}: {len(eps)} episodes ({len(pairs)} of the agent, {ok} reached the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
