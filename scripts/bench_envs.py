"""Environment throughput on one core: env steps/s with rendering (64 and 224 px), physics only,
and render only, per second of this process's CPU time (robust to other load on the machine).
Usage: ``python scripts/bench_envs.py [--steps 2000] [--sizes 64 224]``."""
from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_k] = "1"

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lewm.cli import Parser  # noqa: E402
from lewm.envs import list_envs, make  # noqa: E402
from lewm.envs.base import MAX_IMAGE_SIZE  # noqa: E402
from lewm.validate import arg_int  # noqa: E402


def steps_per_s(env, steps: int, render: bool) -> float:
    env.render_on_step = render
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, env.action_dim)).astype(np.float32)
    t = time.process_time()
    for a in actions:
        env.step(a)
    return steps / max(time.process_time() - t, 1e-9)  # a few steps can take under the clock's tick


def renders_per_s(env, n: int) -> float:
    env.reset(seed=0)
    s = env.get_state()
    t = time.process_time()
    for _ in range(n):
        env.render_state(s)
    return n / max(time.process_time() - t, 1e-9)


def main(argv=None) -> int:
    p = Parser(prog="python scripts/bench_envs.py", description=__doc__)
    p.add_argument("--steps", type=arg_int(1, 10_000_000), default=2000, help="steps (and renders) per measurement")
    p.add_argument("--sizes", type=arg_int(8, MAX_IMAGE_SIZE), nargs="+", default=[64, 224],
                   help="image sizes in pixels")
    p.add_argument("--envs", nargs="+", default=list_envs(), choices=list_envs())
    a = p.parse_args(argv)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    cols = "".join(f"{f'step+render {s}px':>18}" for s in a.sizes)
    cols += f"{'physics only':>14}" + "".join(f"{f'render {s}px':>13}" for s in a.sizes)
    print(f"{'env':<10}{cols}    (steps per CPU-second, one process, 1 thread)")
    for name in a.envs:
        row = [steps_per_s(make(name, image_size=s), a.steps, True) for s in a.sizes]
        phys = steps_per_s(make(name, image_size=64), a.steps, False)
        rend = [renders_per_s(make(name, image_size=s), a.steps) for s in a.sizes]
        print(f"{name:<10}" + "".join(f"{v:>18,.0f}" for v in row) + f"{phys:>14,.0f}"
              + "".join(f"{v:>13,.0f}" for v in rend))
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
