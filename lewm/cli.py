"""Command line: ``python -m lewm <command> ...``. Thin: parses arguments, calls library functions."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# name -> (module, add-arguments function, run function, one-line help)
COMMANDS = {
    "train": ("lewm.cli", "add_train_args", "run_train", "train a world model on an HDF5 episode file"),
    "collect": ("lewm.collect", "add_collect_args", "run_collect", "collect episodes from an environment into HDF5"),
    "eval": ("lewm.evaluate", "add_eval_args", "run_eval", "evaluate a checkpoint with MPC planning (paper protocol)"),
    "bench": ("lewm.bench", "add_bench_args", "run_bench", "benchmarks: train-step throughput, planning latency"),
    "export": ("lewm.cli", "add_export_args", "run_export", "export a training checkpoint for shipping (fp16, no optimizer state)"),
    "report": ("lewm.report", "add_report_args", "run_report", "diagnostics report (plots + JSON) for a checkpoint"),
}


def add_train_args(p: argparse.ArgumentParser) -> None:
    from .config import PRESETS
    p.add_argument("--data", required=True, help="HDF5 episode file (see `python -m lewm collect`)")
    p.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS), help="size preset (default cpu-small)")
    p.add_argument("--out", required=True, help="output folder (last.pt, metrics.jsonl, config.json)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the preset's)")
    p.add_argument("--lambda", dest="lam", type=float, default=None, help="SIGReg weight (0 = off: watch it collapse)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--history", type=int, default=None, help="predictor context in frames (Two-Room: 1)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent dimension D")
    p.add_argument("--frameskip", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument("--init", metavar="CKPT", help="continue another run's training checkpoint (weights, optimizer, "
                   "step) on --data up to --steps: a fine-tuning stage on other data")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--workers", type=int, default=None,
                   help="data loader worker processes (default 0: the main process; on GPUs try 4-8)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model parts (one-off compile time; for long GPU runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override any config field, e.g. --set model.patch_size=8 --set sigreg.num_proj=512 "
                        "(repeatable; fields are listed in lewm/config.py)")


def run_train(a: argparse.Namespace) -> int:
    """Also the entry point of data-parallel runs: ``torchrun --nproc_per_node N -m lewm train ...``
    (``--batch-size`` is the global batch; every rank takes batch/N)."""
    import torch
    from .config import apply_set_overrides, get_preset
    from .train import train
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = get_preset(a.preset)
    model_o = {k: v for k, v in {"history": a.history, "latent_dim": a.latent_dim, "frameskip": a.frameskip}.items() if v is not None}
    train_o = {k: v for k, v in {"lr": a.lr, "batch_size": a.batch_size, "seed": a.seed,
                                 "num_workers": a.workers, "compile": a.compile or None}.items() if v is not None}
    sig_o = {"weight": a.lam} if a.lam is not None else {}
    cfg = cfg.with_overrides(model=model_o, train=train_o, sigreg=sig_o)
    cfg = apply_set_overrides(cfg, a.overrides)  # --set section.field=value
    res = train(cfg, a.data, a.out, steps=a.steps, device=a.device, resume=not a.no_resume, init=a.init)
    m = res.metrics
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports
        return 0
    print(f"done: step {res.step}  loss {m.get('loss', float('nan')):.4f}  pred {m.get('pred_loss', float('nan')):.4f}  "
          f"sigreg {m.get('sigreg', float('nan')):.4f}  eff.rank {m.get('effective_rank', float('nan')):.1f}  -> {res.checkpoint}")
    return 0


def add_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="training checkpoint (e.g. runs/x/last.pt)")
    p.add_argument("--out", required=True, help="destination file (refuses to overwrite unless --force)")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights (default: fp16, half the size)")
    p.add_argument("--data", default=None,
                   help="HDF5 file the model was trained on: re-estimate the BatchNorm running statistics "
                        "on it before exporting (checkpoints from before train.bn_recalibrate_batches need this)")
    p.add_argument("--bn-batches", type=int, default=32, help="training batches for --data (default 32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--force", action="store_true")


def run_export(a: argparse.Namespace) -> int:
    import os
    from . import checkpoint
    if os.path.exists(a.out) and not a.force:
        raise FileExistsError(f"{a.out} exists; pass --force to overwrite it")
    model, cfg, meta = checkpoint.load(a.checkpoint)
    metrics = dict(meta["metrics"] or {})
    if a.data:
        import torch
        from .train import recalibrate_from_data
        if a.threads:
            torch.set_num_threads(a.threads)
        frames = recalibrate_from_data(model, cfg, a.data, batches=a.bn_batches)
        metrics["bn_recalibration_frames"] = frames
        print(f"BatchNorm statistics re-estimated on {frames} frames of {a.data}")
    checkpoint.save(a.out, model, cfg, meta["step"], metrics, half=not a.fp32)
    print(f"exported step {meta['step']} -> {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lewm", description="LeWM Lab: LeWorldModel in a box.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = {}
    for name, (mod, add, run, help_) in COMMANDS.items():
        if importlib.util.find_spec(mod) is None:
            continue  # a command whose module is not installed is simply not listed
        m = importlib.import_module(mod)
        sp = sub.add_parser(name, help=help_, description=help_)
        getattr(m, add)(sp)
        handlers[name] = getattr(m, run)
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return 0
    from .checkpoint import CheckpointError
    from .data import DataError
    from .train import TrainingDiverged
    try:
        return int(handlers[a.command](a) or 0)
    except (CheckpointError, DataError, TrainingDiverged, ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
