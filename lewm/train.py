"""Training: L = MSE(ẑ_{t+1}, z_{t+1}) + λ·SIGReg(Z), end to end from pixels.

No EMA, no stop-gradient: both sides of the prediction loss get gradients; SIGReg keeps the
latents isotropic Gaussian and so prevents collapse. ``train()`` is a plain function so the CLI,
the app (in a spawned process) and the tests share it.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import _train_checks, _train_loop_faults as _loop_faults, checkpoint, distributed, faults, validate
from .config import LeWMConfig
from .precision import resolve_precision
from .data import DataError, WindowDataset, action_stats_of, batch_iterator  # noqa: F401  (action_stats_of re-exported)
from .devices import fused_adamw, resolve_device  # noqa: F401  (resolve_device re-exported for app/ and report)
from .metrics import effective_rank
from .loss import lewm_loss  # noqa: F401  (re-exported: lewm.train.lewm_loss)
from .model import LeWM
from .bn_recalibration import (_batchnorms, _device_batches, recalibrate_batchnorm,  # noqa: F401  (re-exported)
                               recalibrate_from_data)


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


def lr_at(step: int, cfg, elapsed_s: float | None = None) -> float:
    """Linear warmup then cosine decay to ``min_lr_ratio * lr``. With ``cfg.time_budget_s`` the
    cosine's progress after warmup is the larger of the step fraction and ``elapsed_s`` over the
    budget (the time since warmup ended is not tracked: the elapsed fraction is used directly)."""
    _train_checks.check_lr_args(step, cfg, elapsed_s)  # a step < 0 or NaN, a LeWMConfig: one clear line
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / max(cfg.warmup_steps, 1)
    prog = min(1.0, (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1))
    if cfg.time_budget_s and elapsed_s is not None:
        prog = max(prog, min(1.0, elapsed_s / cfg.time_budget_s))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * prog)))


def _is_rank0() -> bool:
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or \
        torch.distributed.get_rank() == 0


def train(cfg: LeWMConfig, data: str, out: str, *, steps: int | None = None, device: str | None = None,
          on_step: Callable[[StepInfo], Any] | None = None, resume: bool = True, progress: bool = True,
          stop_event=None, pause_event=None, val_batches: int = 4, init: str | None = None) -> TrainResult:
    """Train (or resume) a LeWM on an HDF5 episode file; checkpoints and metrics go to ``out``.

    ``init``: a training checkpoint of another run (e.g. ``runs/a/last.pt``) to continue from —
    weights, optimizer state and step — on this run's ``data`` (a fine-tuning stage on other
    data of the same env); the schedule runs on to ``cfg.train.steps`` and actions are z-scored
    with ``data``'s statistics, exactly as if ``init`` had been copied to ``out/last.pt`` and
    resumed. Ignored when ``out/last.pt`` exists (that run is resumed instead). The architecture
    must match.

    ``out/last.pt`` is rewritten atomically every ``ckpt_every`` steps and at the end;
    ``out/metrics.jsonl`` gets one JSON line every ``log_every`` steps. ``stop_event`` /
    ``pause_event`` are anything with ``is_set()`` (e.g. multiprocessing.Event). Stopped before its first step,
    a run saves nothing (``checkpoint`` ''). An exception of ``on_step`` saves its step first once the run has a ``last.pt``.

    Under ``torchrun`` (or inside an initialised process group) this is data-parallel training
    (lewm/distributed.py): each rank takes ``batch_size / world_size`` windows, BatchNorm and
    SIGReg see the global batch, DDP averages gradients, and only rank 0 logs, shows progress and
    writes files. ``stop_event``/``pause_event`` are for single-process runs.
    """
    _train_checks.check_train_args(cfg, data, out, on_step=on_step, resume=resume, progress=progress,
                                   stop_event=stop_event, pause_event=pause_event, init=init)  # before any work
    ctx = distributed.init_from_env(resolve_device(device, "train(device=...)"))
    made = not os.path.exists(out)
    before = _train_checks.run_files_state(out)  # a run that saves no checkpoint removes what it wrote
    lock = faults.RunLock(out) if ctx.rank == 0 else None  # one training per folder
    ok = locked = False
    try:
        if lock is not None:
            _train_checks.acquire(lock)
            locked = True
            faults.clean_stale_tmp(out)  # checkpoint writes of a killed run
        res = _train(cfg, data, out, ctx, steps=steps, on_step=on_step, resume=resume, progress=progress,
                     stop_event=stop_event, pause_event=pause_event, val_batches=val_batches, init=init)
        if ctx.enabled:  # rank 0 is still validating and saving: leave together
            torch.distributed.barrier()
        ok = True
        return res
    finally:
        if lock is not None:
            lock.release()
        if ok and not res.checkpoint and locked:  # no step ran: the folder left as it was (files, folder)
            _train_checks.leave_as_it_was(out, before, made)
        if not ok and made and ctx.rank == 0 and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # a run refused before its first write leaves no empty folder behind
        if not ok and locked and os.path.isdir(out):  # ours only: never those of a run that holds the folder
            _train_checks.remove_unsaved_run_files(out, before)  # (its folder stays, as after a disk-full save)
        distributed.shutdown(ctx)


def _train(cfg: LeWMConfig, data: str, out: str, ctx: distributed.DistContext, *, steps, on_step, resume,
           progress, stop_event, pause_event, val_batches, init=None) -> TrainResult:
    dev = ctx.device
    if steps is not None:  # checked there (2.7 trained 2 steps); val_batches 2.5 failed after the run, -1 gave NaN
        cfg = cfg.with_overrides(train={"steps": steps})
    validate.check_value("val_batches", val_batches, validate.Range(lo=0), int)
    tc, mc = cfg.train, cfg.model
    if tc.batch_size % ctx.world_size:
        raise ValueError(f"batch size {tc.batch_size} is not divisible by the {ctx.world_size} ranks")
    local_bs = tc.batch_size // ctx.world_size  # per-rank share of the global batch
    torch.manual_seed(tc.seed)
    ckpt_path = os.path.join(out, "last.pt")
    resuming = resume and os.path.exists(ckpt_path)
    loaded = checkpoint.load(ckpt_path if resuming else init) if (resuming or init is not None) else None
    init_cfg = loaded[1] if loaded is not None and not resuming else None
    # like a resumed run, a continued one z-scores actions with the statistics of the data it now
    # trains on (saved in its config for planning); the action encoder absorbs the small shift
    ds = WindowDataset(data, mc.history, mc.frameskip, split="train", val_fraction=tc.val_fraction,
                       seed=tc.seed, image_size=mc.image_size, max_ram_bytes=int(tc.ram_limit_gb * 2**30))
    validate.check_batch_fits(local_bs, len(ds), data)
    if np.all(ds.action_stats.std <= 1e-6) and _is_rank0():  # allowed (a world without control), never silent
        warnings.warn(f"{data}: every action dimension is constant: the predictor cannot learn what actions do, "
                      f"and a planner on this model has nothing to choose")
    _train_checks.check_envs(cfg, data, ds.env, init, init_cfg, resuming, loaded and loaded[1], ckpt_path)
    base = _train_checks.resume_clock(loaded, resuming, ckpt_path)  # its elapsed_s: a number of seconds
    if ds.action_dim != mc.action_dim:
        cfg = cfg.with_overrides(model={"action_dim": ds.action_dim})
        mc = cfg.model
    cfg = cfg.with_overrides(env=ds.env, action_mean=tuple(map(float, ds.action_stats.mean)),
                             action_std=tuple(map(float, ds.action_stats.std)))
    val = WindowDataset(data, mc.history, mc.frameskip, split="val", val_fraction=tc.val_fraction,
                        seed=tc.seed, share=ds)  # same file: no second read into RAM
    val.hold(ds.hold())  # a streamed file: one handle to the end (deleted or replaced meanwhile: still read)

    _loop_faults.hold_run_folder(out)  # made, and remembered: a folder removed or renamed meanwhile stops the run
    metrics_path = os.path.join(out, "metrics.jsonl")
    model = LeWM(mc)
    fused = fused_adamw(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=fused)
    src = ckpt_path if resuming else init
    start = _train_checks.start_from(loaded, model, opt, cfg, src, resuming, data, out, _is_rank0())
    for group in opt.param_groups:  # a loaded state brings its own flag (None before session 18): this device's
        group["fused"] = fused
    model.to(dev).train()
    if dev.type == "cuda":  # NHWC patch convolution: the layout tensor-core convolutions prefer
        model.encoder.embeddings.patch_embeddings.to(memory_format=torch.channels_last)
    if tc.compile:  # in place: parameter names (and so checkpoints) are unchanged
        for part in (model.encoder, model.projector, model.action_encoder, model.predictor, model.pred_proj):
            part.compile()
    net = distributed.wrap_ddp(model, cfg, ctx) if ctx.enabled else None
    if _is_rank0():
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg.to_dict(), f, indent=2)

    # Each rank draws its own windows (rank 0 = the single-process stream); SIGReg directions use
    # the same seed on every rank, which the global SIGReg requires.
    gen = torch.Generator().manual_seed(tc.seed + start + 1_000_003 * ctx.rank)
    sig_gen = torch.Generator(device=dev).manual_seed(tc.seed + 7919 + start)
    batches = _batches(ds, local_bs, gen, tc.num_workers, dev)
    amp = resolve_precision(tc.precision, dev, "train", model_width=mc.enc_dim)
    bar = None
    if progress and _is_rank0():
        from tqdm.auto import tqdm
        bar = tqdm(total=tc.steps, initial=start, desc=f"train {cfg.preset}", unit="step", dynamic_ncols=True)

    def to_dev(b):
        return {k: v.to(dev, non_blocking=True) for k, v in b.items()}

    step, last = start, (dict(loaded[2]["metrics"] or {}) if resuming else {})  # a finished run keeps its metrics
    # a resumed run continues its clock (elapsed_s, a time budget's schedule) and its sample count
    # (a run continued with --init starts its own clock, so it counts only its own samples)
    stopped, t0, seen = False, time.perf_counter() - base, (start * tc.batch_size if resuming else 0)
    lazy = dev.type == "cuda" and on_step is None
    lost = None  # a loader worker that died, a streamed file that changed: the finished steps are saved, then raised
    cb_error, kept = None, resuming  # on_step's exception (saved at its step, then raised); a checkpoint of this run
    loss_v = pred_v = sig_v = gnorm = None

    def read_back(z, with_latents: bool) -> tuple[dict, torch.Tensor]:
        """This step's metrics on the host (one device sync) and, with ``with_latents``, the latent
        collapse meters; -> (metrics, this rank's latents (B, T, D) on the CPU)."""
        elapsed = time.perf_counter() - t0
        zd = z.detach().float().cpu()  # this rank's latents (the local share of the batch)
        m = {"step": step, "loss": loss_v.item(), "pred_loss": pred_v.item(), "sigreg": sig_v.item(),
             "lr": opt.param_groups[0]["lr"], "samples_per_s": seen / max(elapsed, 1e-9), "elapsed_s": elapsed}
        if gnorm is not None:
            m["grad_norm"] = float(gnorm)
        if with_latents:
            m["effective_rank"], m["latent_std"] = effective_rank(zd), float(zd.std(dim=(0, 1)).mean())
        return m, zd
    single = not ctx.enabled  # data-parallel ranks must stop together: there a SIGTERM stops at once
    with faults.deferred_termination(single):  # the first SIGTERM stops at the next step boundary
        try:
            while step < tc.steps:
                if single and faults.termination_pending() is not None:
                    break  # SIGTERM: stop at the step boundary and save, as on Ctrl-C (saved below)
                faults.check_terminated()  # a SIGTERM whose exception was swallowed still stops the run
                if tc.time_budget_s and time.perf_counter() - t0 >= tc.time_budget_s:
                    break  # fixed-time recipe: the schedule has run its course on the clock
                if stop_event is not None and stop_event.is_set():
                    stopped = True
                    break
                if pause_event is not None and pause_event.is_set():
                    time.sleep(0.1)
                    continue
                try:
                    batch = to_dev(next(batches))
                except (_loop_faults.WorkerLost, DataError) as e:  # a step boundary: saved below, like a SIGTERM
                    if not single:
                        raise
                    lost = e
                    break
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, tc, time.perf_counter() - t0)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    if net is None:
                        loss, pred_loss, sig, z = lewm_loss(model, batch, cfg, sig_gen)
                    else:
                        loss, pred_loss, sig, z = net(batch, sig_gen)
                if net is None:
                    loss_v, pred_v, sig_v = loss, pred_loss, sig
                else:  # global values: every rank agrees (also on divergence)
                    loss_v, pred_v, sig_v = distributed.mean_over_ranks(
                        torch.stack([loss.detach(), pred_loss.detach(), sig.detach()]).float())
                # On CUDA, reading the loss back every step would stall the queue of kernels: there it
                # is read (and checked) at log and checkpoint steps and at the end only. A non-finite
                # loss is never saved: every checkpoint step is a checked step.
                nxt = step + 1
                check = (not lazy or nxt % tc.log_every == 0 or nxt % tc.ckpt_every == 0 or nxt == tc.steps)
                if check and not torch.isfinite(loss_v):
                    _diverged(loss_v, pred_v, sig_v, nxt, ckpt_path, tc, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                opt.step()
                step += 1
                seen += batch["pixels"].shape[0] * ctx.world_size
                if not check:
                    if bar is not None:
                        bar.update(1)
                    continue
                logged = step % tc.log_every == 0 or step == tc.steps
                last, zd = read_back(z, logged)
                if logged:
                    if _is_rank0():
                        with _loop_faults.open_metrics(metrics_path, step) as f:
                            f.write(json.dumps(last) + "\n")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{last['loss']:.4f}", pred=f"{last['pred_loss']:.4f}",
                                    sigreg=f"{last['sigreg']:.3f}", sps=f"{last['samples_per_s']:.0f}")
                if on_step is not None:
                    try:
                        on_step(StepInfo(step, dict(last), zd))
                    except Exception as e:  # a user's callback: the steps since the last checkpoint are kept
                        if not (single and kept):  # no checkpoint of this run yet: the run removes its files
                            raise
                        cb_error = e
                        break
                if step % tc.ckpt_every == 0 and step < tc.steps:
                    # every rank recalibrates (under DDP the BatchNorms all-reduce), rank 0 writes
                    with _recalibrated(model, ds, tc, local_bs, dev, amp, step, ctx.rank, last, world=ctx.world_size):
                        if _is_rank0():
                            _check_weights(model, last, step, ckpt_path, tc, cfg)
                            checkpoint.save(ckpt_path, model, cfg, step, last, optimizer=opt.state_dict())
                            kept = True
                            if tc.keep_snapshots:
                                checkpoint.save(os.path.join(out, f"step_{step}.pt"), model, cfg, step, last)
        finally:
            if bar is not None:
                bar.close()
            batches.close()  # its loader workers end now, not at exit (where a SIGTERM left them joined for ever)
        if lost is not None and step == start:  # no step of this session to save
            raise lost
        if step == start and not resuming:  # stopped before its first step: no untrained last.pt (round 23)
            _train_checks.end_if_terminated(out, single)
            return TrainResult(out, "", step, {}, stopped)  # train() removes the files it wrote
        if loss_v is not None and not torch.isfinite(loss_v):  # stopped (time budget) after an unchecked step
            _diverged(loss_v, pred_v, sig_v, step, ckpt_path, tc, cfg)
        if loss_v is not None and last.get("step") != step:  # the last step was not read back (lazy)
            last = read_back(z, True)[0]
        changed = isinstance(lost, DataError)  # the streamed file changed: read no more of it (saved as trained)
        with _recalibrated(model, ds, replace(tc, bn_recalibrate_batches=0) if changed else tc, local_bs, dev, amp,
                           step, ctx.rank, last, keep=True, world=ctx.world_size):
            if _is_rank0():
                if len(val) and val_batches and not changed:  # eval mode (no collectives): with the recalibrated statistics
                    last["val_pred_loss"] = evaluate_pred_loss(model, val, cfg, val_batches, dev)
                _check_weights(model, last, step, ckpt_path, tc, cfg)
                checkpoint.save(ckpt_path, model, cfg, step, last, optimizer=opt.state_dict())
    if single and (signum := faults.termination_pending()) is not None:  # saved: now end as terminated
        faults.say(f"{faults.signal_name(signum)} at step {step}: saved {ckpt_path}; the same command resumes from it")
        raise faults.Terminated(signum, said=True)
    if lost is not None:
        raise type(lost)(f"{lost}; the training stopped at step {step} and saved {ckpt_path}: the same command "
                         f"resumes from it")
    if cb_error is not None:
        cb_error.add_note(f"train(on_step=...) raised at step {step}: saved {ckpt_path} at step {step} first "
                          f"(resume=True continues from it)")
        raise cb_error
    return TrainResult(out, ckpt_path, step, last, stopped)


def _diverged(loss_v, pred_v, sig_v, step: int, ckpt_path: str, tc, cfg, what: str | None = None) -> None:
    good = ckpt_path if os.path.exists(ckpt_path) else "none (no checkpoint was written before it)"
    if os.path.exists(ckpt_path):
        try:
            good += f" (step {int(checkpoint.read_raw(ckpt_path).get('step', 0))})"
        except checkpoint.CheckpointError:
            pass
    head = f"{what} at step {step} (loss {loss_v.item():.4g}," if what else f"loss became {loss_v.item()} at step {step} ("
    raise TrainingDiverged(
        f"{head}pred {pred_v.item():.4g}, sigreg {sig_v.item():.4g}); "
        f"stopped. The last good checkpoint is {good}. "
        f"Try a lower lr (now {tc.lr}) or a larger lambda (now {cfg.sigreg.weight}).")


def _check_weights(model, last: dict, step: int, ckpt_path: str, tc, cfg) -> None:
    """A checkpoint is never written with non-finite weights or statistics (a finite loss can still
    give an inf gradient): stop as on a non-finite loss, naming the last good checkpoint. Nor into a folder
    that is no longer the run's (removed or renamed meanwhile: the half run folder was re-created in silence)."""
    _loop_faults.check_run_folder(os.path.dirname(ckpt_path), step)
    if bool(torch.stack([torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point()]).all()):
        return  # one device sync per checkpoint
    loss, pred, sig = (torch.tensor(float(last.get(k, float("nan")))) for k in ("loss", "pred_loss", "sigreg"))
    _diverged(loss, pred, sig, step, ckpt_path, tc, cfg, what="the weights became non-finite")


class _recalibrated:
    """Context: the model's BatchNorm statistics recalibrated (``tc.bn_recalibrate_batches`` batches
    of ``batch_size`` from a generator of their own, so the training stream is untouched) inside, the
    momentum statistics put back on exit unless ``keep``. Records the frames used in ``metrics``.
    Under DDP every rank must enter it (global BatchNorms all-reduce); each draws its own batches,
    so the statistics average ``world`` ranks' frames and the recorded count is the global one."""

    def __init__(self, model, ds, tc, batch_size: int, dev, amp: bool, step: int, rank: int, metrics: dict,
                 keep: bool = False, world: int = 1):
        self.model, self.ds, self.tc, self.batch_size, self.dev, self.amp = model, ds, tc, batch_size, dev, amp
        self.step, self.rank, self.metrics, self.keep, self.world = step, rank, metrics, keep, world

    def __enter__(self):
        # A compiled model runs these side passes eagerly: recompiling for no_grad / eval mode would
        # cost tens of seconds per checkpoint (and run past a time budget at the end)
        self.stance = _eager() if self.tc.compile else contextlib.nullcontext()
        self.stance.__enter__()
        self.saved = {k: v.clone() for k, v in self.model.state_dict().items() if "running_" in k or "num_batches" in k}
        n = self.tc.bn_recalibrate_batches
        if n > 0 and len(self.ds):
            gen = torch.Generator().manual_seed(self.tc.seed + 104_729 + self.step + 7_919 * self.rank)
            with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.amp):
                frames = recalibrate_batchnorm(self.model, _device_batches(self.ds, self.batch_size, gen, n, self.dev))
            self.metrics["bn_recalibration_frames"] = frames * self.world  # every rank saw as many
        return self

    def __exit__(self, *exc):
        if not self.keep:
            self.model.load_state_dict(self.saved, strict=False)
        self.stance.__exit__(*exc)
        return False


def _eager():  # a context in which ``torch.compile``-d modules run eagerly (no recompilation)
    return torch.compiler.set_stance("force_eager")


def _batches(ds: WindowDataset, batch_size: int, gen: torch.Generator, num_workers: int, dev: torch.device):
    """``data.batch_iterator``, except that an in-RAM dataset on a CUDA device is copied to the GPU
    once and gathered there (no loader at all), and one with ``num_workers > 0`` elsewhere gathers
    whole batches in worker processes instead of the main process."""
    if dev.type == "cuda" and ds.in_memory:
        return _gpu_resident_batches(ds, batch_size, gen, dev)
    if num_workers <= 0 or not ds.in_memory:
        return batch_iterator(ds, batch_size, gen, num_workers)
    seed = int(torch.randint(2**62, (1,), generator=gen))
    return _loop_faults.worker_batches(_BatchStream(ds, batch_size, seed), num_workers, dev)  # ulimit -n checked


def _gpu_resident_batches(ds: WindowDataset, batch_size: int, gen: torch.Generator, dev: torch.device):
    """Endless random batches gathered on the GPU from a device copy of the in-RAM arrays
    (uint8 pixels: 12 KiB a 64-px frame, so a million frames take 12 GiB)."""
    ram = ds._ram
    px = torch.from_numpy(ram["pixels"]).to(dev)  # (N, S, S, 3) uint8
    act = torch.from_numpy(ds.action_stats.normalize(ram["action"]).astype(np.float32)).to(dev)  # (N, A)
    starts = torch.from_numpy(ds.starts).to(dev)  # (W,)
    k, H = ds.frameskip, ds.history
    f_off = k * torch.arange(H + 1, device=dev)  # (T,)
    a_off = torch.arange(H * k, device=dev)  # (H*k,)
    g = torch.Generator(device=dev).manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
    while True:
        s = starts[torch.randint(len(starts), (batch_size,), generator=g, device=dev)]  # (B,)
        pixels = px[s[:, None] + f_off].permute(0, 1, 4, 2, 3)  # (B, T, 3, S, S)
        actions = act[s[:, None] + a_off].reshape(batch_size, H, -1)  # (B, H, k*A)
        yield {"pixels": pixels, "actions": actions, "index": s}


class _BatchStream(torch.utils.data.IterableDataset):
    """Endless random batches of an in-RAM WindowDataset; each worker has its own seed."""

    def __init__(self, ds: WindowDataset, batch_size: int, seed: int):
        self.ds, self.batch_size, self.seed = ds, batch_size, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        g = torch.Generator().manual_seed(self.seed + 7_919 * (info.id if info else 0))
        while True:
            idx = torch.randint(len(self.ds), (self.batch_size,), generator=g).numpy()  # (B,)
            yield self.ds.get_batch(idx)


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
        losses.append(F.mse_loss(model.predict(z[:, :-1], b["actions"], check_finite=False), z[:, 1:]).item())
    model.train(was)
    return float(np.mean(losses))
