"""MPC with the TRUE Two-Room dynamics and a checkpoint's encoder as the goal cost.

Separates the encoder's geometry from the predictor: if this oracle-dynamics agent fails where the
learned-model agent fails, the latent goal cost is the limit, not the predictor or the planner.

    python scripts/oracle_two_room.py CKPT [EPISODES SAMPLES ITERATIONS]   (e.g. ... 20 150 6)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lewm.cli import Parser  # noqa: E402
from lewm.validate import arg_int  # noqa: E402


def parse_args(argv=None):
    p = Parser(prog="python scripts/oracle_two_room.py", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", metavar="CKPT", help="a Two-Room checkpoint (e.g. checkpoints/two_room/model.pt)")
    p.add_argument("episodes", nargs="?", type=arg_int(1, 100_000), default=20, metavar="EPISODES",
                   help="evaluation pairs (default 20)")
    p.add_argument("samples", nargs="?", type=arg_int(2, 100_000), default=150, metavar="SAMPLES",
                   help="CEM candidates per iteration (default 150; the top max(SAMPLES // 10, 2) are kept)")
    p.add_argument("iterations", nargs="?", type=arg_int(1, 10_000), default=6, metavar="ITERATIONS",
                   help="CEM iterations per plan (default 6)")
    return p.parse_args(argv)


def load_two_room(path: str):
    """The checkpoint at ``path`` (a file or a run folder) -> (model, config), or one line naming it: missing,
    a dataset, another environment's."""
    from lewm import checkpoint
    from lewm.env_names import env_key
    from lewm.runs import DATASET, file_kind
    if not os.path.exists(path):
        raise FileNotFoundError(f"CKPT {path}: no such checkpoint file or run folder")
    if os.path.isfile(path) and file_kind(path) == DATASET:  # load's advice names a --data flag this script lacks
        raise ValueError(f"CKPT {path}: is an HDF5 episode file; expected a checkpoint "
                         f"(e.g. checkpoints/two_room/model.pt)")
    model, cfg, _ = checkpoint.load(path, device="cpu")
    if env_key(cfg.env or "") != "two_room":
        raise ValueError(f"CKPT {path}: is a checkpoint of {cfg.env!r}; this oracle plays the Two-Room dynamics "
                         f"(give a Two-Room checkpoint)")
    return model.eval(), cfg


def main(argv=None) -> int:
    a = parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from lewm.diagnostics import encode_frames
    from lewm.envs import make
    from lewm.envs.two_room import move
    from lewm.evaluate import eval_pairs
    from lewm.planning import PlannerConfig, cem

    model, cfg = load_two_room(a.checkpoint)
    n_ep, S, IT = a.episodes, a.samples, a.iterations
    env = make("two_room", image_size=cfg.model.image_size)
    pairs = eval_pairs("two_room", n_ep, seed=0)
    k = cfg.model.frameskip
    pc = PlannerConfig(num_samples=S, topk=max(S // 10, 2), iterations=IT, horizon=5)
    gen = torch.Generator().manual_seed(0)
    ok = 0
    for i, (s, g) in enumerate(pairs):
        zg = encode_frames(model, env.render_state(g)[None])
        pos = np.array(s, np.float64)
        succ = False
        mean = None
        for plan_i in range(10):
            def cost(a):  # a (N, P, K) in raw action units [-1, 1]
                a = a.clamp(-1, 1).numpy().reshape(a.shape[0], -1, 2)
                fin = []
                for c in a:
                    p = pos.copy()
                    for u in c:
                        p = move(p, u)
                    fin.append(p)
                z = encode_frames(model, np.stack([env.render_state(f) for f in fin]))
                return ((z - zg) ** 2).sum(-1), z
            res = cem(cost, 5, 2 * k, pc, init_mean=mean, bounds=(-torch.ones(2 * k), torch.ones(2 * k)),
                      generator=gen)
            for u in res.actions[0].numpy().reshape(k, 2).clip(-1, 1):
                pos = move(pos, u)
                succ = succ or env.is_success(pos, g)
            if succ:
                break
            mean = torch.cat([res.actions[1:], torch.zeros(1, 2 * k)], 0)
        ok += succ
        print(i, int(succ), round(env.success_distance(s, g)), round(env.success_distance(pos, g)), flush=True)
    print("oracle-dynamics success", ok, "/", n_ep)
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
