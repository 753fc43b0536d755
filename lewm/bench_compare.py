"""Reference vs fast path, timed interleaved in one process: ``python -m lewm bench plan|train --compare``.

The reference is the plain fp32 eager path (≈ the official LeWM code's speed: same model, same
arithmetic); the fast path is what the lab runs by default — the lean rollout (``LeWM._lean_rollout``)
and the chosen precision. On a shared or noisy machine only a comparison inside one process, with the
two variants alternating, gives a ratio that means something: each round times the reference and
then the fast path, after warm-up rounds, and the medians and spreads of the rounds are reported.
``max_abs_err`` is the largest difference between the two paths' outputs: at fp32 the imagined
latents of one CEM iteration's 300 candidates; under bf16 the candidates' costs relative to the largest
cost (and for training the first loss, relative).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import _api_checks as chk
from .devices import fused_adamw
from .planning.cost import LatentGoalCost


@dataclass
class Comparison:
    what: str
    model: str
    reference: str
    fast: str
    reference_s: float
    """Median seconds of the reference over the timed rounds."""
    fast_s: float
    ratio: float
    """reference_s / fast_s (> 1: the fast path is faster)."""
    reference_spread: tuple[float, float]
    """(min, max) seconds of the reference."""
    fast_spread: tuple[float, float]
    rounds: int
    max_abs_err: float
    threads: int

    def as_dict(self) -> dict:
        return asdict(self)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def interleaved(ref_fn, fast_fn, rounds: int, warmup: int, dev: torch.device) -> tuple[list[float], list[float]]:
    """Seconds of ``rounds`` alternating calls of each function, after ``warmup`` rounds."""
    if not (callable(ref_fn) and callable(fast_fn)):
        raise TypeError("interleaved(ref_fn=..., fast_fn=...) must be functions to time, got "
                        f"{type(ref_fn).__name__} and {type(fast_fn).__name__}")
    rounds, warmup = _rounds("interleaved", rounds, warmup)
    dev = chk.device("interleaved", dev)
    ts = ([], [])
    for r in range(warmup + rounds):
        for i, fn in enumerate((ref_fn, fast_fn)):
            _sync(dev)
            t0 = time.perf_counter()
            fn()
            _sync(dev)
            if r >= warmup:
                ts[i].append(time.perf_counter() - t0)
    return ts


def _result(what, model, ref_name, fast_name, ts, err, dev) -> Comparison:
    ref, fast = ts
    mr, mf = float(np.median(ref)), float(np.median(fast))
    return Comparison(what, model, ref_name, fast_name, mr, mf, mr / mf, (min(ref), max(ref)), (min(fast), max(fast)),
                      len(ref), float(err), torch.get_num_threads() if dev.type == "cpu" else 0)


def _rounds(fn: str, rounds, warmup) -> tuple[int, int]:
    """Timed rounds (>= 1: a median needs one; min() of none was the error) and warm-up rounds (>= 0)."""
    return chk.whole(fn, "rounds", rounds, 1, 100_000), chk.whole(fn, "warmup", warmup, 0, 100_000)


def _check_plan_args(fn: str, model, label, dev, bf16, samples, horizon, rounds, warmup, seed, compiled):
    """The arguments ``compare_iteration`` and ``compare_plan`` share; returns the device."""
    chk.model(fn, model)
    chk.text(fn, "label", label)
    dev = chk.device(fn, dev)
    chk.flag(fn, "bf16", bf16)
    chk.plan_sizes(fn, samples, horizon)
    _rounds(fn, rounds, warmup)
    chk.whole(fn, "seed", seed, 0, 2**63 - 1)
    chk.flag(fn, "compiled", compiled)
    return dev


def _random_context(model, dev: torch.device, seed: int):
    """The model in eval mode on ``dev`` and a random planning context: (model, z_hist (1, H, D),
    z_goal (D,), a_hist (1, H-1, K) or None, the generator that drew them)."""
    mc = model.cfg
    g = torch.Generator().manual_seed(seed)
    H, K = mc.history, mc.action_block_dim
    z_hist = torch.randn(1, H, mc.latent_dim, generator=g).to(dev)  # (1, H, D)
    z_goal = torch.randn(mc.latent_dim, generator=g).to(dev)  # (D,)
    a_hist = torch.randn(1, H - 1, K, generator=g).to(dev) if H > 1 else None  # (1, H-1, K)
    return model.to(dev).eval(), z_hist, z_goal, a_hist, g


@torch.no_grad()
def compare_iteration(model, label: str, dev: torch.device, bf16: bool, samples: int = 300, horizon: int = 5,
                      rounds: int = 7, warmup: int = 2, seed: int = 0, compiled: bool = False) -> Comparison:
    """One CEM iteration's work: the goal cost of ``samples`` candidate sequences of ``horizon``
    blocks (the rollout dominates; CEM's own sampling and top-k are negligible at this size).
    ``compiled``: the fast path's rollout is compiled (``lewm.planning.compiled_cost``; compiled before timing)."""
    dev = _check_plan_args("compare_iteration", model, label, dev, bf16, samples, horizon, rounds, warmup, seed,
                           compiled)
    model, z_hist, z_goal, a_hist, g = _random_context(model, dev, seed)
    K = model.cfg.action_block_dim
    acts = torch.randn(samples, horizon, K, generator=g).to(dev)  # (N, P, K)
    ref_cost = LatentGoalCost(model, z_hist, z_goal, a_hist, lean=False)
    fast_cost = _fast_cost(model, z_hist, z_goal, a_hist, compiled, bf16)

    per_round = 3  # iterations per timed round, inside one autocast region as in a plan (weight casts cached)

    def fast():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            for _ in range(per_round):
                out = fast_cost(acts)
        return out

    def ref():
        for _ in range(per_round):
            ref_cost(acts)

    err = float((ref_cost.imagine(acts) - fast_cost.imagine(acts).float()).abs().max()) if not bf16 else \
        float((ref_cost(acts)[0] - fast()[0]).abs().max() / ref_cost(acts)[0].abs().max())
    ts = interleaved(ref, fast, rounds, warmup, dev)
    ts = ([t / per_round for t in ts[0]], [t / per_round for t in ts[1]])
    return _result(f"CEM iteration ({samples} x H{horizon})", label, "plain rollout, fp32",
                   _fast_name(compiled, bf16), ts, err, dev)


@torch.no_grad()
def compare_plan(model, label: str, dev: torch.device, bf16: bool, iterations: int = 30, samples: int = 300,
                 topk: int = 30, horizon: int = 5, rounds: int = 5, warmup: int = 1, seed: int = 0,
                 compiled: bool = False) -> Comparison:
    """Whole plans (CEM at the paper's settings) with the same generator seed on both paths;
    ``max_abs_err`` compares the two plans' first-iteration costs (later iterations may pick
    other elites once costs differ in the last bits)."""
    from .planning import PlannerConfig, cem
    dev = _check_plan_args("compare_plan", model, label, dev, bf16, samples, horizon, rounds, warmup, seed, compiled)
    chk.whole("compare_plan", "iterations", iterations, 1, 10_000)
    chk.topk("compare_plan", topk, samples)
    model, z_hist, z_goal, a_hist, _ = _random_context(model, dev, seed)
    K = model.cfg.action_block_dim
    pcfg = PlannerConfig(num_samples=samples, topk=topk, iterations=iterations, horizon=horizon)
    out = {}

    def run(lean: bool, use_bf16: bool):
        def fn():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                cost = (_fast_cost(model, z_hist, z_goal, a_hist, compiled, use_bf16) if lean else
                        LatentGoalCost(model, z_hist, z_goal, a_hist, lean=False))
                out[lean] = cem(cost, horizon, K, pcfg, generator=torch.Generator().manual_seed(seed), device=dev)
        return fn

    ts = interleaved(run(False, False), run(True, bf16), rounds, warmup, dev)
    c0, c1 = out[False].iterations[0].costs, out[True].iterations[0].costs
    err = float((c0 - c1).abs().max() / c0.abs().max()) if bf16 else float((c0 - c1).abs().max())
    return _result(f"plan (CEM {samples} x {iterations}, H{horizon})", label, "plain rollout, fp32",
                   _fast_name(compiled, bf16), ts, err, dev)


def _fast_cost(model, z_hist, z_goal, a_hist, compiled: bool, bf16: bool):
    """The fast path's cost: the lean rollout, eager or compiled (the caller's autocast sets the
    eager one's precision; the compiled one applies its own)."""
    if compiled:
        from .planning.compiled_cost import CompiledGoalCost
        return CompiledGoalCost(model, z_hist, z_goal, a_hist, bf16=bf16)
    return LatentGoalCost(model, z_hist, z_goal, a_hist, lean=True)


def _fast_name(compiled: bool, bf16: bool) -> str:
    return f"lean rollout{', compiled' if compiled else ''}, {'bf16' if bf16 else 'fp32'}"


def compare_train(preset: str, dev: torch.device, bf16: bool, batch: int | None = None, rounds: int = 5,
                  warmup: int = 1, seed: int = 0, compiled: bool = False) -> Comparison:
    """Full training steps (encode, predict, loss, backward, clip, AdamW) on synthetic frames: fp32
    eager with the per-parameter AdamW loop against the fast path (``lewm/train.py``'s fused AdamW, ``bf16``
    autocast and/or, with ``compiled``, the model parts through ``torch.compile`` as ``train.compile`` does;
    compiled during warm-up), two identical models stepping
    alternately; ``max_abs_err`` compares their first losses (relative)."""
    from .config import get_preset
    from .loss import lewm_loss
    from .model import LeWM
    fn = "compare_train"
    cfg = get_preset(chk.preset(fn, preset))
    dev, bf16 = chk.device(fn, dev), chk.flag(fn, "bf16", bf16)
    batch = chk.whole(fn, "batch", batch, 1, 1 << 20, none_ok=True)
    _rounds(fn, rounds, warmup)
    seed, compiled = chk.whole(fn, "seed", seed, 0, 2**63 - 1), chk.flag(fn, "compiled", compiled)
    mc, tc = cfg.model, cfg.train
    B = batch if batch is not None else min(tc.batch_size, 64 if dev.type == "cpu" else tc.batch_size)
    g = torch.Generator().manual_seed(seed)
    T, S = mc.history + 1, mc.image_size
    batch_t = {"pixels": torch.randint(0, 256, (B, T, 3, S, S), generator=g, dtype=torch.uint8).to(dev),  # (B, T, 3, S, S)
               "actions": torch.randn(B, T - 1, mc.action_block_dim, generator=g).to(dev)}  # (B, T-1, K)
    losses = {}

    def make(key: str, use_bf16: bool, use_compile: bool = False, fused: bool = False):
        torch.manual_seed(seed)
        model = LeWM(mc).to(dev).train()
        if use_compile:  # in place, as lewm/train.py does: the same parameters, fused kernels
            for part in (model.encoder, model.projector, model.action_encoder, model.predictor, model.pred_proj):
                part.compile()
        # the fast path's optimizer is lewm/train.py's (fused AdamW); the reference's the per-parameter loop
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=fused)
        sig_gen = torch.Generator(device=dev).manual_seed(seed)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = lewm_loss(model, batch_t, cfg, sig_gen)[0]
            losses.setdefault(key, float(loss.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
        return step

    fused = fused_adamw(dev)
    ref_step, fast_step = make("ref", False), make("fast", bf16, compiled, fused=fused)
    if compiled:  # the first calls compile (the forward, then the backward graphs): not timed
        for _ in range(2):
            fast_step()
    ts = interleaved(ref_step, fast_step, rounds, warmup, dev)
    ts = ([B / t for t in ts[0]], [B / t for t in ts[1]])  # samples/s
    ref, fast = ts
    mr, mf = float(np.median(ref)), float(np.median(fast))
    err = abs(losses["ref"] - losses["fast"]) / abs(losses["ref"])
    fast_name = ("bf16" if bf16 else "fp32") + (", compiled" if compiled else "") + (", fused AdamW" if fused else "")
    # for training the figure of merit is throughput: ratio = fast samples/s over reference samples/s
    return Comparison(f"training step (batch {B} x {T} frames), samples/s", preset, "fp32", fast_name,
                      mr, mf, mf / mr, (min(ref), max(ref)), (min(fast), max(fast)), len(ref), float(err),
                      torch.get_num_threads() if dev.type == "cpu" else 0)


def format_comparisons(rows: list[Comparison]) -> str:
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, Comparison) for r in rows):
        raise TypeError(f"format_comparisons(rows=...) must be a list of Comparison, got {rows!r:.60}")
    if not rows:  # was a header-only table, as bench.format_table refuses
        raise ValueError("format_comparisons(rows=...) must hold at least one Comparison, got []: nothing was compared")
    head = "| what | model | reference | fast | reference | fast | ratio | spread ref / fast | max abs err |"
    out = [head, "|" + "---|" * 9]
    for r in rows:
        unit = "" if "samples/s" in r.what else " s"
        fmt = (lambda v: f"{v:,.1f}") if "samples/s" in r.what else (lambda v: f"{v:.4f}")
        out.append(f"| {r.what} | {r.model} | {r.reference} | {r.fast} | {fmt(r.reference_s)}{unit} | {fmt(r.fast_s)}{unit} "
                   f"| **{r.ratio:.2f}×** | {fmt(r.reference_spread[0])}–{fmt(r.reference_spread[1])} / "
                   f"{fmt(r.fast_spread[0])}–{fmt(r.fast_spread[1])} | {r.max_abs_err:.1e} |")
    return "\n".join(out)
