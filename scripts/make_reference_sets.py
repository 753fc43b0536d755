"""(Re)make the small reference set shipped beside each checkpoint, and its UMAP map.

    python scripts/make_reference_sets.py [--episodes 8] [--episode-len 100] [--no-umap] [NAME ...]

For every ``checkpoints/<NAME>/model.pt``: collect ``episodes`` expert episodes of the checkpoint's
env (``cfg.env``) at its image size into ``checkpoints/<NAME>/reference.h5`` with
:func:`lewm.collect.collect` (gzip), then encode them as the lab does and store the UMAP coordinates
in ``checkpoints/<NAME>/reference_umap.npz`` (so the Latent space page shows UMAP at once).
Rerun it after replacing a checkpoint (the stored map is keyed by the checkpoint's bytes).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [ROOT, os.path.join(ROOT, "app")]


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    """The command line and the checkpoints it names, checked before any import of torch or any work."""
    from lewm.cli import Parser
    from lewm.validate import arg_int
    p = Parser(prog="python scripts/make_reference_sets.py", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="checkpoint folders (default: all of checkpoints/*)")
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=8)
    p.add_argument("--episode-len", type=arg_int(2, 100_000), default=100)
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=123)
    p.add_argument("--no-umap", action="store_true")
    p.add_argument("--umap-only", action="store_true", help="keep reference.h5, recompute the map")
    a = p.parse_args(argv)
    if a.no_umap and a.umap_only:  # was: nothing made, exit 0
        raise ValueError("--no-umap and --umap-only exclude each other (--umap-only recomputes only the map); "
                         "give one of them")
    ckpts = sorted(glob.glob(os.path.join(ROOT, "checkpoints", "*", "model.pt")))
    have = [os.path.basename(os.path.dirname(c)) for c in ckpts]
    if not ckpts:
        raise FileNotFoundError(f"no checkpoints/*/model.pt under {ROOT}: nothing to make a reference set for")
    unknown = [n for n in a.names if n not in have]
    if unknown:  # was: skipped without a word (exit 0, nothing made)
        raise ValueError(f"NAME {unknown[0]}: no checkpoints/{unknown[0]}/model.pt; choose from {', '.join(have)}")
    if a.names:
        ckpts = [c for c in ckpts if os.path.basename(os.path.dirname(c)) in a.names]
    return a, ckpts


def main(argv=None) -> int:
    a, ckpts = parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from lewm import checkpoint
    from lewm.collect import collect
    from lewm.diagnostics import encode_dataset, fit_latent_map
    import refstore

    for ck in ckpts:
        folder = os.path.dirname(ck)
        model, cfg, _ = checkpoint.load(ck, device="cpu")
        out = os.path.join(folder, refstore.REFERENCE_NAME)
        t = time.perf_counter()
        if not a.umap_only or not os.path.exists(out):
            if os.path.exists(out):
                os.remove(out)
            collect(cfg.env, a.episodes, out, image_size=cfg.model.image_size, policy="expert", workers=1,
                    seed=a.seed, episode_len=a.episode_len, progress=False)
        print(f"{os.path.relpath(out, ROOT)}: {cfg.env}, {a.episodes} x {a.episode_len} frames, "
              f"{os.path.getsize(out) / 1e6:.2f} MB ({time.perf_counter() - t:.1f} s)", flush=True)
        if a.no_umap:
            continue
        t = time.perf_counter()
        enc = encode_dataset(model, out, max_frames=refstore.MAP_MAX_FRAMES, keep_pixels=False, seed=0)
        lmap = fit_latent_map(enc.latents, method="umap", seed=0)
        dest = refstore.save_map(os.path.join(folder, refstore.UMAP_NAME), lmap.coords, enc.frame_index,
                                 refstore.fingerprint(ck), refstore.fingerprint(out))
        print(f"{os.path.relpath(dest, ROOT)}: UMAP of {len(enc.latents)} latents ({time.perf_counter() - t:.1f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
