"""The ``python -m lewm report`` command line: its arguments and the run that prints the summary."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .build import MIN_FRAMES, check_plotly_js, check_report_folder, make_report
from .summary import summary_text


def _count_arg(p: argparse.ArgumentParser, flag: str, lo: int, hi: int, help: str, **kw) -> None:
    """A whole-number flag whose --help states the range its type checks (the error for a value out of it
    points to --help: "--max-frames must be in [40, 10000000], got 5 (see: ... --help)")."""
    from ..validate import Range, arg_int
    p.add_argument(flag, type=arg_int(lo, hi), help=f"{help}; must be {Range(lo, hi).describe()}", **kw)


def add_report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint file (or a folder holding last.pt)")
    p.add_argument("--data", default=None,
                   help="HDF5 episode file (same env and image size as the model); default: the reference.h5 "
                        "beside the checkpoint, else a few held-out episodes collected now into --out")
    p.add_argument("--out", required=True, help="output folder (report.json, report.html); one that holds an "
                   "earlier report is refused unless --force")
    p.add_argument("--force", action="store_true", help="replace the earlier report in --out")
    _count_arg(p, "--episodes", 1, 100_000, "episodes for dynamics and surprise tests (default 10)", default=10)
    p.add_argument("--quick", action="store_true",
                   help="fewer frames, PCA map, short decoder/MLP training: about a minute on a CPU")
    _count_arg(p, "--max-frames", MIN_FRAMES, 10_000_000, "frames to encode for spectra/maps/probes, every "
               "frameskip-th frame of whole episodes (default 6000, quick 2000)", default=None)
    p.add_argument("--map", dest="map_method", choices=("pca", "umap"), default=None,
                   help="latent map method (default umap, quick pca)")
    _count_arg(p, "--decoder-steps", 0, 1_000_000, "pixel decoder steps (default 800, quick 200; 0 = skip)",
               default=None)
    _count_arg(p, "--horizon", 1, 1000, "open-loop horizon in action blocks (default 10)", default=10)
    _count_arg(p, "--landscape-goals", 0, 1000, "goals for the planning-cost landscape (default 8; 0 = skip; "
               "needs the env's renderer)", default=8)
    _count_arg(p, "--seed", 0, 2**31 - 1, "seed of the random choices: frames, episodes, probe split, map, "
               "decoder (default 0)", default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    _count_arg(p, "--threads", 1, 1024, "torch CPU threads (default: all cores)", default=None)
    p.add_argument("--no-html", action="store_true", help="skip report.html")
    p.add_argument("--plotly-js", default=None, metavar="SRC",
                   help="load plotly.js from SRC (a path relative to report.html, or a URL) instead of embedding "
                        "it (4.8 MB); the shipped reports use ../../plotly.min.js")


def run_report(a: argparse.Namespace) -> int:
    from ..devices import resolve_device, set_threads
    from ..validate import check_out_dir
    check_out_dir(a.out)  # before the work, not after it
    if a.plotly_js is not None and a.no_html:  # was: accepted and ignored
        raise ValueError(f"--plotly-js {a.plotly_js}: sets the page's plotly.js, but --no-html writes no page; "
                         f"drop one of them")
    check_plotly_js(a.plotly_js, a.out, "--plotly-js")  # also in make_report; here with the flags' names
    resolve_device(a.device, "--device")  # was named make_report(device=...) from inside
    check_report_folder(a.out, a.checkpoint, a.data, a.force, "--out", "--force")
    set_threads(a.threads)
    from .data_source import HELDOUT_NAME
    heldout = os.path.join(a.out, HELDOUT_NAME)
    fresh = not os.path.lexists(heldout)
    try:
        rep = make_report(a.checkpoint, a.data, a.out, episodes=a.episodes, quick=a.quick,
                          max_frames=a.max_frames, map_method=a.map_method, decoder_steps=a.decoder_steps,
                          horizon=a.horizon, seed=a.seed, device=a.device, html=not a.no_html,
                          plotly_js=a.plotly_js, landscape_goals=a.landscape_goals, force=a.force)
    except BaseException:  # interrupted or failed: the held-out file this run collected goes too (was: left,
        if fresh and os.path.isfile(heldout) and not os.path.lexists(os.path.join(a.out, "report.json")):
            with contextlib.suppress(OSError):  # and the rerun was refused because of it)
                os.remove(heldout)
        raise
    # the report is written: a terminal that cannot show a character (R², an em dash) must not turn it into
    # a failure (was: "error: 'ascii' codec can't encode ...", exit 2, after report.json was written)
    _print_safe(summary_text(rep))
    _print_safe(f"-> {os.path.join(a.out, 'report.json')}" + ("" if a.no_html else f", {os.path.join(a.out, 'report.html')}"))
    return 0


def _print_safe(line: str) -> None:
    """``print(line)``; characters stdout's encoding cannot show are written as ``?`` instead of raising."""
    try:
        print(line)
    except UnicodeEncodeError:
        enc = getattr(sys.stdout, "encoding", None) or "ascii"
        print(line.encode(enc, errors="replace").decode(enc, errors="replace"))
