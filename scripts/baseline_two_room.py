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
from lewm.cli import Parser  # noqa: E402
from lewm.validate import arg_int  # noqa: E402


def parse_args(argv=None):
    p = Parser(prog="python scripts/baseline_two_room.py", description=__doc__.splitlines()[0])
    p.add_argument("episodes", nargs="?", type=arg_int(1, 100_000), default=50, metavar="EPISODES",
                   help="evaluation pairs (default 50, the eval's own)")
    p.add_argument("seed", nargs="?", type=arg_int(0, 2**31 - 1), default=0, metavar="SEED",
                   help="eval seed (default 0)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    from lewm.envs import make
    from lewm.envs.two_room import MID_X, SPEED, move
    from lewm.evaluate import eval_pairs

    env = make("two_room", image_size=16)
    ok = {False: [0, 0], True: [0, 0]}  # cross-room? -> [successes, episodes]
    for s, g in eval_pairs("two_room", a.episodes, a.seed):
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
    print(f"straight-line greedy: {total}/{a.episodes} = {100 * total / a.episodes:.0f}%  "
          f"(same room {ok[False][0]}/{ok[False][1]}, across the wall {ok[True][0]}/{ok[True][1]})")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
