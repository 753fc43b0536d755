"""Training: L = MSE(ẑ_{t+1}, z_{t+1}) + λ·SIGReg(Z), end to end from pixels.

No EMA, no stop-gradient: both sides of the prediction loss get gradients; SIGReg keeps the
latents isotropic Gaussian and so prevents collapse. ``train()`` is a plain function so the CLI,
the app (in a spawned process) and the tests share it.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .config import LeWMConfig
from .data import ActionStats, WindowDataset, batch_iterator
from .metrics import effective_rank
from .model import LeWM
from .sigreg import sigreg


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


@dataclass
class StepInfo:
    """What ``on_step`` receives after every optimisation step."""

    step: int
    metrics: dict[str, float]
    latents: torch.Tensor
    """(B, T, D) this batch's latents, detached, on CPU."""


@dataclass
class TrainResult:
    out_dir: str
    checkpoint: str
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    stopped: bool = False


def resolve_device(device: str | None) -> torch.device:
    """'auto'/None -> cuda if available, else mps, else cpu."""
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def lr_at(step: int, cfg) -> float:
    """Linear warmup then cosine decay to ``min_lr_ratio * lr``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / max(cfg.warmup_steps, 1)
    prog = min(1.0, (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * prog)))


def lewm_loss(model: LeWM, batch: dict[str, torch.Tensor], cfg: LeWMConfig,
              generator: torch.Generator | None = None, sigreg_fn: Callable | None = None):
    """-> (loss, pred_loss, sigreg_value, z (B, T, D)). Teacher-forced next-embedding prediction
    at every position of the window, SIGReg per time step on (T, B, D)."""
    z = model.encode(batch["pixels"])  # (B, T, D)
    pred = model.predict(z[:, :-1], batch["actions"])  # (B, T-1, D)
    pred_loss = F.mse_loss(pred.float(), z[:, 1:].float())
    s = cfg.sigreg
    fn = sigreg_fn or sigreg
    sig = fn(z.transpose(0, 1).float(), num_proj=s.num_proj, knots=s.knots, t_max=s.t_max, generator=generator)
    return pred_loss + s.weight * sig, pred_loss, sig, z


def _is_rank0() -> bool:
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or \
        torch.distributed.get_rank() == 0


def train(cfg: LeWMConfig, data: str, out: str, *, steps: int | None = None, device: str | None = None,
          on_step: Callable[[StepInfo], Any] | None = None, resume: bool = True, progress: bool = True,
          stop_event=None, pause_event=None, val_batches: int = 4) -> TrainResult:
    """Train (or resume) a LeWM on an HDF5 episode file; checkpoints and metrics go to ``out``.

    ``out/last.pt`` is rewritten atomically every ``ckpt_every`` steps and at the end;
    ``out/metrics.jsonl`` gets one JSON line every ``log_every`` steps. ``stop_event`` /
    ``pause_event`` are anything with ``is_set()`` (e.g. multiprocessing.Event).
    """
    dev = resolve_device(device)
    if steps is not None:
        cfg = cfg.with_overrides(train={"steps": int(steps)})
    tc, mc = cfg.train, cfg.model
    torch.manual_seed(tc.seed)
    ds = WindowDataset(data, mc.history, mc.frameskip, split="train", val_fraction=tc.val_fraction,
                       seed=tc.seed, image_size=mc.image_size)
    if ds.action_dim != mc.action_dim:
        cfg = cfg.with_overrides(model={"action_dim": ds.action_dim})
        mc = cfg.model
    cfg = cfg.with_overrides(env=ds.env, action_mean=tuple(map(float, ds.action_stats.mean)),
                             action_std=tuple(map(float, ds.action_stats.std)))
    val = WindowDataset(data, mc.history, mc.frameskip, split="val", val_fraction=tc.val_fraction,
                        seed=tc.seed, action_stats=ds.action_stats)

    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "last.pt")
    metrics_path = os.path.join(out, "metrics.jsonl")
    model = LeWM(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay,
                            fused=dev.type == "cuda")
    start = 0
    if resume and os.path.exists(ckpt_path):
        m2, cfg_saved, meta = checkpoint.load(ckpt_path)
        if cfg_saved.model != mc:
            raise checkpoint.CheckpointError(
                f"{ckpt_path}: holds a different architecture than the requested preset; "
                f"use another --out folder or pass --no-resume")
        model.load_state_dict(m2.state_dict())
        if meta["optimizer"] is not None:
            opt.load_state_dict(meta["optimizer"])
        start = meta["step"]
        if _is_rank0():
            print(f"resuming from {ckpt_path} at step {start}")
    else:
        if os.path.exists(metrics_path) and _is_rank0():
            os.remove(metrics_path)
    model.to(dev).train()
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=2)

    gen = torch.Generator().manual_seed(tc.seed + start)
    sig_gen = torch.Generator(device=dev).manual_seed(tc.seed + 7919 + start)
    batches = batch_iterator(ds, tc.batch_size, gen, tc.num_workers)
    amp = dev.type == "cuda"
    bar = None
    if progress and _is_rank0():
        from tqdm.auto import tqdm
        bar = tqdm(total=tc.steps, initial=start, desc=f"train {cfg.preset}", unit="step", dynamic_ncols=True)

    def to_dev(b):
        return {k: v.to(dev, non_blocking=True) for k, v in b.items()}

    step, last = start, {}
    stopped, t0, seen = False, time.perf_counter(), 0
    try:
        while step < tc.steps:
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
            if pause_event is not None and pause_event.is_set():
                time.sleep(0.1)
                continue
            batch = to_dev(next(batches))
            for g in opt.param_groups:
                g["lr"] = lr_at(step, tc)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                loss, pred_loss, sig, z = lewm_loss(model, batch, cfg, sig_gen)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss became {loss.item()} at step {step + 1} (pred {pred_loss.item():.4g}, "
                    f"sigreg {sig.item():.4g}); stopped. The last good checkpoint is {ckpt_path}. "
                    f"Try a lower lr (now {tc.lr}) or a larger lambda (now {cfg.sigreg.weight}).")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            seen += batch["pixels"].shape[0]
            elapsed = time.perf_counter() - t0
            zd = z.detach().float().cpu()
            last = {"step": step, "loss": loss.item(), "pred_loss": pred_loss.item(), "sigreg": sig.item(),
                    "lr": opt.param_groups[0]["lr"], "grad_norm": float(gnorm),
                    "samples_per_s": seen / max(elapsed, 1e-9), "elapsed_s": elapsed}
            if step % tc.log_every == 0 or step == tc.steps:
                last["effective_rank"] = effective_rank(zd)
                last["latent_std"] = float(zd.std(dim=(0, 1)).mean())
                if _is_rank0():
                    with open(metrics_path, "a") as f:
                        f.write(json.dumps(last) + "\n")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{last['loss']:.4f}", pred=f"{last['pred_loss']:.4f}",
                                sigreg=f"{last['sigreg']:.3f}", sps=f"{last['samples_per_s']:.0f}")
            if on_step is not None:
                on_step(StepInfo(step, dict(last), zd))
            if step % tc.ckpt_every == 0 and step < tc.steps and _is_rank0():
                checkpoint.save(ckpt_path, model, cfg, step, last, optimizer=opt.state_dict())
    finally:
        if bar is not None:
            bar.close()
    if len(val) and val_batches:
        last["val_pred_loss"] = evaluate_pred_loss(model, val, cfg, val_batches, dev)
    if _is_rank0():
        checkpoint.save(ckpt_path, model, cfg, step, last, optimizer=opt.state_dict())
    return TrainResult(out, ckpt_path, step, last, stopped)


@torch.no_grad()
def evaluate_pred_loss(model: LeWM, ds: WindowDataset, cfg: LeWMConfig, batches: int, dev) -> float:
    """Mean teacher-forced prediction MSE on ``batches`` fixed batches of ``ds`` (eval mode)."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    it = batch_iterator(ds, min(cfg.train.batch_size, max(len(ds), 1)), gen)
    losses = []
    for _ in range(batches):
        b = {k: v.to(dev) for k, v in next(it).items()}
        z = model.encode(b["pixels"])
        losses.append(F.mse_loss(model.predict(z[:, :-1], b["actions"]), z[:, 1:]).item())
    model.train(was)
    return float(np.mean(losses))


def action_stats_of(cfg: LeWMConfig) -> ActionStats:
    """The action normalisation a checkpoint was trained with."""
    A = cfg.model.action_dim
    mean = np.asarray(cfg.action_mean or [0.0] * A, dtype=np.float32)
    std = np.asarray(cfg.action_std or [1.0] * A, dtype=np.float32)
    return ActionStats(mean, std)
