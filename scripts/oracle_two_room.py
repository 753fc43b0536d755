"""MPC with the TRUE Two-Room dynamics and a checkpoint's encoder as the goal cost.

Separates the encoder's geometry from the predictor: if this oracle-dynamics agent fails where the
learned-model agent fails, the latent goal cost is the limit, not the predictor or the planner.

    python scripts/oracle_two_room.py CKPT [EPISODES SAMPLES ITERATIONS]   (e.g. ... 20 150 6)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
torch.set_num_threads(1)
from lewm import checkpoint
from lewm.envs import make
from lewm.envs.two_room import move
from lewm.evaluate import eval_pairs
from lewm.diagnostics import encode_frames
from lewm.planning import cem, PlannerConfig
if len(sys.argv) < 2:
    sys.exit(__doc__)
ck = sys.argv[1]
n_ep, S, IT = (int(x) for x in (sys.argv[2:5] + ["20", "150", "6"][len(sys.argv[2:5]):]))
model, cfg, _ = checkpoint.load(ck, device="cpu"); model.eval()
env = make("two_room", image_size=cfg.model.image_size)
pairs = eval_pairs("two_room", n_ep, seed=0)
k = cfg.model.frameskip
pc = PlannerConfig(num_samples=S, topk=max(S // 10, 2), iterations=IT, horizon=5)
gen = torch.Generator().manual_seed(0)
ok = 0
for i, (s, g) in enumerate(pairs):
    zg = encode_frames(model, env.render_state(g)[None])
    pos = np.array(s, np.float64); succ = False; mean = None
    for plan_i in range(10):
        def cost(a):  # a (N, P, K) in raw action units [-1, 1]
            a = a.clamp(-1, 1).numpy().reshape(a.shape[0], -1, 2)
            fin = []
            for c in a:
                p = pos.copy()
                for u in c: p = move(p, u)
                fin.append(p)
            z = encode_frames(model, np.stack([env.render_state(f) for f in fin]))
            return ((z - zg) ** 2).sum(-1), z
        res = cem(cost, 5, 2 * k, pc, init_mean=mean, bounds=(-torch.ones(2 * k), torch.ones(2 * k)), generator=gen)
        for u in res.actions[0].numpy().reshape(k, 2).clip(-1, 1):
            pos = move(pos, u)
            succ = succ or env.is_success(pos, g)
        if succ: break
        mean = torch.cat([res.actions[1:], torch.zeros(1, 2 * k)], 0)
    ok += succ
    print(i, int(succ), round(env.success_distance(s, g)), round(env.success_distance(pos, g)), flush=True)
print("oracle-dynamics success", ok, "/", n_ep)
