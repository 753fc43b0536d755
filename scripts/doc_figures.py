"""Regenerate the static chart PNGs of the docs from the same Plotly figures the lab and the report draw.

    .venv/bin/python scripts/doc_figures.py            # writes assets/landscape_patch16.png, landscape_patch8.png,
                                                       # assets/grid_warp_two_room.png
    .venv/bin/python scripts/doc_figures.py --out /tmp/figs

The PNGs are written by kaleido (requirements-dev.txt) through the system Chromium (`/usr/bin/chromium`,
or the browser named by $BROWSER_PATH); nothing is drawn by hand. The landscapes compare two earlier
Two-Room agents kept in git history (docs/two_room.md, "patch size decides which coordinates are seen"):
the checkpoints are read with `git show COMMIT:checkpoints/two_room/model.pt`, and the figure is the
report's goal-cost landscape section (`lewm.diagnostics.goal_cost_landscapes` over the first 8 protocol
goals of eval seed 0, a 24x24 grid, `lewm.figures.fig_landscapes` of the first 4). The grid warp is the
report's section of the same name (`lewm.report.build.grid_warp_section`) for the shipped Two-Room agent.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# (output file, commit holding the checkpoint, what it shows)
LANDSCAPES = [
    ("landscape_patch16.png", "4cdab63", "16-px patches, D = 4 (an earlier agent, step 2000)"),
    ("landscape_patch8.png", "915e521", "8-px patches, D = 4 (an earlier agent, step 2600)"),
]


def chromium() -> str:
    """The browser kaleido drives: $BROWSER_PATH, else the system Chromium; one clear line if none."""
    path = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        sys.exit("doc_figures: no Chromium found (apt-get install -y chromium, or set BROWSER_PATH)")
    os.environ["BROWSER_PATH"] = path  # choreographer (kaleido's browser driver) reads it
    return path


def checkpoint_at(commit: str, tmp: str) -> str:
    """``checkpoints/two_room/model.pt`` as it was at ``commit``, written to a file under ``tmp``."""
    out = os.path.join(tmp, f"two_room_{commit}.pt")
    with open(out, "wb") as f:
        r = subprocess.run(["git", "-C", ROOT, "show", f"{commit}:checkpoints/two_room/model.pt"], stdout=f,
                           stderr=subprocess.PIPE)
    if r.returncode:
        sys.exit(f"doc_figures: git show {commit}:checkpoints/two_room/model.pt failed "
                 f"({r.stderr.decode().strip()}); a shallow clone lacks the history: git fetch --unshallow")
    return out


def landscape_figure(ckpt: str, label: str, goals: int = 8, seed: int = 0):
    """The report's landscape figure for ``ckpt`` (-> go.Figure, summary dict)."""
    import torch

    from lewm import checkpoint, figures
    from lewm.diagnostics import goal_cost_landscapes, landscape_summary
    from lewm.envs import make
    from lewm.evaluate import eval_pairs
    torch.set_num_threads(1)  # rendering and encoding: one thread is the fast setting on 2 cores
    model, cfg, _ = checkpoint.load(ckpt)
    model.eval()
    env = make(cfg.env, image_size=cfg.model.image_size)
    ls = goal_cost_landscapes(model, env, [g for _, g in eval_pairs(cfg.env, goals, seed=seed)], n=24)
    s = landscape_summary(ls)
    names = [env.state_names[d] for d in env.landscape_dims]
    title = (f"{label}: mean ρ {s['spearman']:.2f}, greedy step right {100 * s['greedy_accuracy']:.0f}% "
             f"over {len(ls)} goals (first 4 shown)")
    return figures.fig_landscapes(ls[:4], names=names, title=title), s


def grid_warp_figure(ckpt: str):
    """The report's grid-warp figure for ``ckpt`` (-> go.Figure, its JSON numbers)."""
    import torch

    from lewm import checkpoint
    from lewm.report.build import grid_warp_section
    torch.set_num_threads(1)
    model, cfg, _ = checkpoint.load(ckpt)
    model.eval()
    out, fig = grid_warp_section(model, cfg, cfg.env, lambda *a: None)
    return fig, out


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, checked before Chromium is looked for and before any figure is drawn."""
    from lewm.cli import Parser
    from lewm.validate import arg_int, check_out_dir
    ap = Parser(prog="python scripts/doc_figures.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "assets"), help="folder for the PNGs (default: assets/)")
    ap.add_argument("--width", type=arg_int(64, 8192), default=720, help="PNG width in CSS pixels (default 720)")
    a = ap.parse_args(argv)
    check_out_dir(a.out)  # was: FileExistsError from makedirs for a file
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    shipped = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
    if not os.path.isfile(shipped):  # the grid warp's checkpoint, drawn last: missing, known first
        raise FileNotFoundError(f"{shipped}: no such checkpoint (the grid warp is drawn for the shipped "
                                f"Two-Room agent)")
    chromium()
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, commit, label in LANDSCAPES:
            fig, s = landscape_figure(checkpoint_at(commit, tmp), label)
            path = os.path.join(a.out, name)
            fig.write_image(path, width=a.width, scale=1)
            print(f"{path}: spearman {s['spearman']:.3f}, greedy {s['greedy_accuracy']:.3f}")
    fig, g = grid_warp_figure(shipped)
    path = os.path.join(a.out, "grid_warp_two_room.png")
    fig.write_image(path, width=a.width, scale=1)
    print(f"{path}: affine r {g['linear_r']}")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
