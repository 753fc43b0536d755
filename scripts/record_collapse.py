"""Record the Collapse lab's lesson once, so the lab replays it instantly (issue 20 point 4).

Two identical cpu-tiny runs on the same small Two-Room data (32 px), differing only in the SIGReg
weight λ (0.09 vs 0), trained here on CPU with the project's trainer. Every step: the losses;
every ``--view-every`` steps: the batch latents' scale (mean per-dimension std), shape (effective
rank) and covariance spectrum; at a few steps: the batch latents themselves (float16), from which
the lab redraws the SIGReg histograms. Output: app/assets/collapse_recording.npz (~100 KB).

    python scripts/record_collapse.py            # ~1-2 min on one CPU thread
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)


def record_run(cfg, data: str, steps: int, view_every: int, snap_steps: list[int], out_dir: str) -> dict:
    import numpy as np

    from lewm.diagnostics import collapse_meters
    from lewm.train import train

    rec: dict = {"step": [], "loss": [], "pred_loss": [], "sigreg": [], "view_step": [], "mean_std": [],
                 "effective_rank": [], "spectrum": [], "snap_step": [], "snap": []}

    def on_step(info) -> None:
        rec["step"].append(int(info.step))
        for k in ("loss", "pred_loss", "sigreg"):
            rec[k].append(float(info.metrics.get(k, np.nan)))
        z = info.latents.float()  # (B, T, D)
        if info.step == 1 or info.step % view_every == 0 or info.step == steps:
            cm = collapse_meters(z)
            rec["view_step"].append(int(info.step))
            rec["mean_std"].append(cm.mean_std)
            rec["effective_rank"].append(cm.effective_rank)
            rec["spectrum"].append(cm.spectrum)
        if info.step in snap_steps:
            rec["snap_step"].append(int(info.step))
            rec["snap"].append(z.numpy().astype(np.float16))

    train(cfg, data, out_dir, steps=steps, on_step=on_step, resume=False, progress=False)
    return {k: np.asarray(v) for k, v in rec.items()}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, every number in its range and ``--out`` checked, before the data is collected."""
    from lewm.cli import Parser
    from lewm.config import SIGRegConfig, TrainConfig
    from lewm.validate import arg_field, arg_int
    ap = Parser(prog="python scripts/record_collapse.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "app", "assets", "collapse_recording.npz"),
                    help="the recording, a .npz file (default app/assets/collapse_recording.npz); an existing "
                         "recording is replaced only with --force")
    ap.add_argument("--force", action="store_true", help="replace an existing --out recording")
    ap.add_argument("--steps", type=arg_field(TrainConfig, "steps"), default=600)
    ap.add_argument("--batch", type=arg_field(TrainConfig, "batch_size"), default=64)
    ap.add_argument("--lam", type=arg_field(SIGRegConfig, "weight"), default=0.09,
                    help="SIGReg weight of the 'on' run (the 'off' run has 0)")
    ap.add_argument("--episodes", type=arg_int(1, 100_000), default=40)
    ap.add_argument("--view-every", type=arg_int(1, 10**9), default=5)
    ap.add_argument("--threads", type=arg_int(1, 1024), default=1)
    a = ap.parse_args(argv)
    check_recording_out(a.out, a.force)
    return a


def check_recording_out(path: str, force: bool = False) -> str:
    """``--out``: a .npz name (numpy adds '.npz' to any other: ``x.h5`` became ``x.h5.npz``), in a folder that
    can be made and written; an existing file is replaced only if it is a recording too, and only with
    ``force`` (was: an earlier recording replaced without a word)."""
    from lewm.validate import check_out_file
    if not path.endswith(".npz"):
        raise ValueError(f"--out {path}: expected a .npz file name (e.g. {os.path.splitext(path)[0] or 'out'}.npz): "
                         f"the recording is a numpy .npz archive")
    check_out_file(path, "--out", make_parent=True)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        import numpy as np
        try:
            with np.load(path, allow_pickle=False) as z:
                ours, broken = "meta" in z.files and "on_step" in z.files, False
        except (OSError, ValueError, EOFError):
            from lewm.runs import DATASET, file_kind
            ours, broken = False, file_kind(path) != DATASET  # a broken recording, or junk (a dataset: never)
        if broken and not force:  # was: refused even with --force, a dead end for the lab's default recording
            raise FileExistsError(f"--out {path}: exists and is not a readable .npz (a broken recording?); pass "
                                  f"--force to replace it, or choose another --out")
        if not ours and not broken:
            raise FileExistsError(f"--out {path}: exists and is not a collapse recording; writing would destroy "
                                  f"it, choose another --out")
    if os.path.lexists(path) and not force:
        raise FileExistsError(f"--out {path}: exists (an earlier recording); pass --force to replace it, or "
                              f"choose another --out")
    return path


def check_batch_fits(cfg, data: str, a: argparse.Namespace) -> None:
    """``--batch`` at most the training windows of the collected episodes, in this script's flags (was: the
    trainer's message naming a temporary file and ``--batch-size``)."""
    from lewm.data import WindowDataset
    mc, tc = cfg.model, cfg.train
    windows = len(WindowDataset(data, mc.history, mc.frameskip, split="train", val_fraction=tc.val_fraction,
                                seed=tc.seed, image_size=mc.image_size))
    if a.batch > windows:
        raise ValueError(f"--batch {a.batch} is larger than the {windows} training windows of --episodes "
                         f"{a.episodes}; lower --batch or raise --episodes")


def main(argv=None) -> int:
    a = parse_args(argv)
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from lewm.collect import collect
    from lewm.config import get_preset

    t0 = time.perf_counter()
    snaps = sorted({1, 10, 25, 50, 100, 200, 400, a.steps} & set(range(1, a.steps + 1)))
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "two_room-32px.h5")
        collect("two_room", a.episodes, data, image_size=32, workers=1, seed=0, progress=False)
        out = {}
        base = get_preset("cpu-tiny")
        cfgs = [(tag, lam, base.with_overrides(model={"history": 1}, sigreg={"weight": lam},
                                               train={"batch_size": a.batch, "ckpt_every": a.steps, "log_every": 10,
                                                      "steps": a.steps}))
                for tag, lam in (("on", a.lam), ("off", 0.0))]
        check_batch_fits(cfgs[0][2], data, a)
        for tag, lam, cfg in cfgs:
            t = time.perf_counter()
            r = record_run(cfg, data, a.steps, a.view_every, snaps, os.path.join(tmp, tag))
            print(f"λ = {lam:g}: {a.steps} steps in {time.perf_counter() - t:.0f} s; final std "
                  f"{r['mean_std'][-1]:.4f}, effective rank {r['effective_rank'][-1]:.1f}, "
                  f"prediction MSE {r['pred_loss'][-1]:.2e}", flush=True)
            out.update({f"{tag}_{k}": v for k, v in r.items()})
            out[f"{tag}_lambda"] = np.float64(lam)
    meta = {"env": "two_room", "image_size": 32, "episodes": a.episodes, "preset": "cpu-tiny", "history": 1,
            "batch_size": a.batch, "steps": a.steps, "latent_dim": int(base.model.latent_dim), "threads": a.threads,
            "seconds": round(time.perf_counter() - t0, 1), "torch": torch.__version__,
            "made_by": "scripts/record_collapse.py"}
    folder = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(folder, exist_ok=True)
    # float32 series (float16 snapshots): a few hundred KB at most
    out = {k: (v.astype(np.float32) if v.dtype == np.float64 and v.ndim else v) for k, v in out.items()}
    from lewm.atomic import temp_path
    from lewm.faults import publish
    tmp = temp_path(a.out)  # a killed earlier write's temporary is removed here (round 24, Q5)
    try:  # written whole, then renamed: a kill leaves the old recording, not half of one
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # inside the try: a signal still removes it
        with os.fdopen(fd, "wb") as f:  # a file object: numpy writes this name, it adds no '.npz'
            np.savez_compressed(f, meta=json.dumps(meta), **out)
        # the umask's mode (mkstemp's was -rw-------); without --force, a recording another run wrote
        # meanwhile is kept and this one goes beside it
        publish(tmp, a.out, replace=a.force, flag="--out")
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1024:.0f} KB) in {meta['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
