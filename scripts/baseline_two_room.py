"""Reference controllers on the Two-Room eval pairs (no learning): what a latent with *straight-line*
(Euclidean) geometry could reach under the paper's protocol.

    python scripts/baseline_two_room.py [EPISODES] [SEED]      (defaults 50 0: the eval's own pairs)

Greedy straight line: each step moves up to 5 units straight at the goal; the wall stops the x motion
and the dot slides along it, so goals near door height are still reached from the other room.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lewm.envs import make
from lewm.envs.two_room import MID_X, SPEED, move
from lewm.evaluate import eval_pairs

episodes, seed = (int(v) for v in (sys.argv[1:3] + ["50", "0"][len(sys.argv[1:3]):]))
env = make("two_room", image_size=16)
ok = {False: [0, 0], True: [0, 0]}  # cross-room? -> [successes, episodes]
for s, g in eval_pairs("two_room", episodes, seed):
    p, succ = np.array(s, np.float64), False
    for _ in range(50):  # the protocol's budget
        d = g - p
        n = float(np.hypot(*d))
        p = move(p, d / max(n, 1e-9) * min(1.0, n / SPEED))
        if env.is_success(p, g):
            succ = True
            break
    cross = bool((s[0] > MID_X) != (g[0] > MID_X))
    ok[cross][0] += succ
    ok[cross][1] += 1
total = ok[False][0] + ok[True][0]
print(f"straight-line greedy: {total}/{episodes} = {100 * total / episodes:.0f}%  "
      f"(same room {ok[False][0]}/{ok[False][1]}, across the wall {ok[True][0]}/{ok[True][1]})")
