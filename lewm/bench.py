"""Benchmarks: training-step throughput and planning latency, with achieved FLOP rates.

``python -m lewm bench train [--presets ...] [--device D]``
    One full optimisation step (encode, predict, MSE + SIGReg, backward, clip, AdamW) on
    synthetic random uint8 frames already on the device (no dataset, no loader in the timing).
``python -m lewm bench plan (--checkpoint CKPT | --preset P) [--device D]``
    One plan = encode the context frames and the goal, then CEM over the latent rollout at the
    paper's settings (300 samples, 30 elites, horizon 5; 30 and 10 iterations), using
    ``lewm.planning.cem`` and ``LatentGoalCost``.

Every table row gives the device, throughput, median / p90 latency, the FLOPs of one step or
plan counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions and
attention, the causal mask not discounted), the achieved GFLOP/s, and that rate as a fraction of
the device's matmul peak measured on the spot (large fp32 matmul; bf16 too on CUDA, which is the
reference when the step runs under bf16 autocast).
"""
from __future__ import annotations

import argparse
import json
import numbers
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from . import _api_checks as chk
from .devices import device_name, fused_adamw  # noqa: F401  (device_name re-exported: lewm.bench.device_name)

aten = torch.ops.aten


# ---------------------------------------------------------------------------------------------
# Measuring.
# ---------------------------------------------------------------------------------------------
def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kw) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_bwd_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kw) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def flop_counter() -> FlopCounterMode:
    """FlopCounterMode that also counts the CPU flash-attention kernels (not in torch's table)."""
    extra = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        extra[aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flops
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        extra[aten._scaled_dot_product_flash_attention_for_cpu_backward] = _cpu_sdpa_bwd_flops
    return FlopCounterMode(display=False, custom_mapping=extra)


def timed(fn, repeats: int, warmup: int, dev: torch.device) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (device-synchronised), after ``warmup``."""
    if not callable(fn):
        raise TypeError(f"timed(fn=...) must be a function to time, got {type(fn).__name__}")
    repeats, warmup = chk.whole("timed", "repeats", repeats, 1), chk.whole("timed", "warmup", warmup, 0)
    dev = chk.device("timed", dev)
    for _ in range(warmup):
        fn()
    _sync(dev)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        out.append(time.perf_counter() - t0)
    return out


def matmul_peak(dev: torch.device, dtype: torch.dtype = torch.float32, n: int | None = None,
                repeats: int | None = None) -> float:
    """Measured dense matmul rate in GFLOP/s (median of ``repeats`` n x n @ n x n products)."""
    dev = chk.device("matmul_peak", dev)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"matmul_peak(dtype=...) must be a floating torch dtype (torch.float32, torch.bfloat16), "
                        f"got {dtype!r:.60}")
    n = chk.whole("matmul_peak", "n", n, 1, 65_536, none_ok=True)
    repeats = chk.whole("matmul_peak", "repeats", repeats, 1, 100_000, none_ok=True)
    n = n if n is not None else (8192 if dev.type == "cuda" else 2048)
    repeats = repeats if repeats is not None else (20 if dev.type == "cuda" else 5)
    a = torch.randn(n, n, device=dev, dtype=dtype)  # (n, n)
    b = torch.randn(n, n, device=dev, dtype=dtype)  # (n, n)
    ts = timed(lambda: a @ b, repeats, 2, dev)
    return 2 * n**3 / float(np.median(ts)) / 1e9


@dataclass
class Peak:
    fp32: float
    """Measured fp32 matmul GFLOP/s (TF32 as configured)."""
    bf16: float | None = None
    """Measured bf16 matmul GFLOP/s (CUDA only)."""

    @classmethod
    def measure(cls, dev: torch.device) -> "Peak":
        dev = chk.device("Peak.measure", dev)
        bf16 = matmul_peak(dev, torch.bfloat16) if dev.type == "cuda" else None
        return cls(matmul_peak(dev, torch.float32), bf16)

    def reference(self, amp: bool) -> float:
        return self.bf16 if (amp and self.bf16) else self.fp32


@dataclass
class Row:
    device: str
    model: str
    setting: str
    rate: float
    """samples/s (train) or plans/s (plan)."""
    median_s: float
    p90_s: float
    gflop: float
    """GFLOP per step / per plan."""
    gflops: float
    """Achieved GFLOP/s at the median latency."""
    peak_frac: float
    """gflops / measured matmul peak of the matching precision."""


def _row(device: str, model: str, setting: str, items: int, ts: list[float], flops: float, peak: float) -> Row:
    med, p90 = float(np.median(ts)), float(np.percentile(ts, 90))
    gfl = flops / 1e9
    return Row(device, model, setting, items / med, med, p90, gfl, gfl / med, gfl / med / peak)


def _check_peak(fn: str, peak, none_ok: bool = True) -> Peak | None:
    """``peak``: a :class:`Peak` of positive rates (``none_ok``: None = measure it)."""
    if peak is None and none_ok:
        return None
    if not isinstance(peak, Peak):
        alt = " or None (measured on the spot)" if none_ok else ""
        raise TypeError(f"{fn}(peak=...) must be a lewm.bench.Peak{alt}, got {type(peak).__name__}")
    rates = (peak.fp32,) + (() if peak.bf16 is None else (peak.bf16,))
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < v < float("inf") for v in rates):
        raise ValueError(f"{fn}(peak=...) must hold finite GFLOP/s > 0, got {peak!r:.80}")
    return peak


def format_table(rows: list[Row], rate_name: str, peak: Peak, latency_unit: str = "ms") -> str:
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"format_table(rows=...) must be a list of lewm.bench.Row, got {rows!r:.60}")
    if not rows:
        raise ValueError("format_table(rows=...) must hold at least one Row, got []: nothing was benchmarked")
    chk.text("format_table", "rate_name", rate_name)
    _check_peak("format_table", peak, none_ok=False)
    if latency_unit not in ("ms", "s"):
        raise ValueError(f"format_table(latency_unit=...) must be 'ms' or 's', got {latency_unit!r:.60}")
    scale = 1e3 if latency_unit == "ms" else 1.0
    head = ["device", "model", "setting", rate_name, f"median {latency_unit}", f"p90 {latency_unit}",
            "GFLOP", "GFLOP/s", "% peak"]
    body = [[r.device, r.model, r.setting, f"{r.rate:,.2f}", f"{r.median_s * scale:,.1f}",
             f"{r.p90_s * scale:,.1f}", f"{r.gflop:,.2f}", f"{r.gflops:,.1f}", f"{100 * r.peak_frac:.1f}"]
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(b) for b in body]
    bf = f", bf16 {peak.bf16:,.0f}" if peak.bf16 else ""
    out.append(f"measured matmul peak (GFLOP/s): fp32 {peak.fp32:,.0f}{bf}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Training step.
# ---------------------------------------------------------------------------------------------
def _compile_parts(model, mode: str | None) -> None:
    for part in (model.encoder, model.projector, model.action_encoder, model.predictor, model.pred_proj):
        part.compile(mode=mode)


def bench_train(preset: str, dev: torch.device, *, batch: int | None = None, steps: int | None = None,
                warmup: int | None = None, compile: bool = False, channels_last: bool = False,
                amp: bool | None = None, peak: Peak | None = None, seed: int = 0) -> Row:
    """Time full training steps of ``preset`` on synthetic frames; returns one table row.
    ``batch`` / ``steps`` / ``warmup`` / ``amp`` None: the defaults (see ``python -m lewm bench train -h``)."""
    from .config import get_preset
    from .model import LeWM
    from .loss import lewm_loss
    fn = "bench_train"
    cfg = get_preset(chk.preset(fn, preset))
    dev = chk.device(fn, dev)
    batch = chk.whole(fn, "batch", batch, 1, 1 << 20, none_ok=True)
    steps = chk.whole(fn, "steps", steps, 1, 100_000, none_ok=True)
    warmup = chk.whole(fn, "warmup", warmup, 0, 100_000, none_ok=True)
    compile, channels_last = chk.flag(fn, "compile", compile), chk.flag(fn, "channels_last", channels_last)
    amp = chk.flag(fn, "amp", amp, none_ok=True)
    peak, seed = _check_peak(fn, peak), chk.whole(fn, "seed", seed, 0, 2**63 - 1)
    mc, tc = cfg.model, cfg.train
    cuda = dev.type == "cuda"
    amp = cuda if amp is None else amp
    torch.manual_seed(seed)
    model = LeWM(mc).to(dev).train()
    big = model.num_params() > 5_000_000  # paper-sized: keep CPU runs short
    B = batch if batch is not None else (tc.batch_size if cuda else min(tc.batch_size, 4 if big else 64))
    steps = steps if steps is not None else (20 if cuda else (2 if big else 10))
    # on CPU the FLOP-counting step below already warms up (allocator, kernels)
    warmup = warmup if warmup is not None else (5 if cuda else (0 if big else 1))
    if channels_last:
        model.encoder.embeddings.patch_embeddings.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=fused_adamw(dev))
    g = torch.Generator(device="cpu").manual_seed(seed)
    T, S = mc.history + 1, mc.image_size
    batch_t = {"pixels": torch.randint(0, 256, (B, T, 3, S, S), generator=g, dtype=torch.uint8).to(dev),  # (B, T, 3, S, S)
               "actions": torch.randn(B, T - 1, mc.action_block_dim, generator=g).to(dev)}  # (B, T-1, K)
    sig_gen = torch.Generator(device=dev).manual_seed(seed)

    def fwd_bwd():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = lewm_loss(model, batch_t, cfg, sig_gen)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()

    def step():
        fwd_bwd()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()

    with flop_counter() as fc:  # counted eagerly, before any compilation
        fwd_bwd()
    flops = fc.get_total_flops()
    if compile:
        _compile_parts(model, None)
    ts = timed(step, steps, warmup, dev)
    peak = peak or Peak.measure(dev)
    flags = "".join([" bf16" if amp else " fp32", " compile" if compile else "", " NHWC" if channels_last else ""])
    return _row(device_name(dev), preset, f"batch {B} x {T} frames{flags}", B, ts, flops, peak.reference(amp))


# ---------------------------------------------------------------------------------------------
# Planning.
# ---------------------------------------------------------------------------------------------
def bench_plan(model, cfg, dev: torch.device, label: str, *, iterations=(30, 10), samples: int = 300,
               topk: int = 30, horizon: int = 5, repeats: int | None = None, warmup: int | None = None,
               compile: str = "none", amp: bool = False, peak: Peak | None = None, seed: int = 0,
               into: list | None = None) -> list[Row]:
    """Time whole plans (encode context + goal, CEM over the latent rollout); one row per
    iteration count. ``repeats`` / ``warmup`` None: the defaults (``python -m lewm bench plan -h``).
    ``into``: a list each row is appended to as soon as it is measured (an interrupt keeps those)."""
    from .planning import LatentGoalCost, PlannerConfig, cem
    fn = "bench_plan"
    chk.model(fn, model)
    mc = chk.config(fn, cfg).model
    bad = [k for k in ("image_size", "history", "action_block_dim") if getattr(mc, k) != getattr(model.cfg, k)]
    if bad:  # the synthetic frames and actions are made from cfg, the plan runs the model
        raise ValueError(f"bench_plan(cfg=...) is not the model's config: model.{bad[0]} {getattr(mc, bad[0])} but "
                         f"the model's is {getattr(model.cfg, bad[0])}; pass the cfg the model was built from")
    dev, label = chk.device(fn, dev), chk.text(fn, "label", label)
    iterations = chk.iterations(fn, iterations)
    chk.plan_sizes(fn, samples, horizon)
    topk = chk.topk(fn, topk, samples)
    repeats = chk.whole(fn, "repeats", repeats, 1, 100_000, none_ok=True)
    warmup = chk.whole(fn, "warmup", warmup, 0, 100_000, none_ok=True)
    compile, amp = chk.compile_mode(fn, compile, dev), chk.flag(fn, "amp", amp)
    peak, seed = _check_peak(fn, peak), chk.whole(fn, "seed", seed, 0, 2**63 - 1)
    model = model.to(dev).eval()
    big = sum(p.numel() for p in model.parameters()) > 5_000_000
    repeats = repeats if repeats is not None else (20 if dev.type == "cuda" else (1 if big else 3))
    warmup = warmup if warmup is not None else (3 if dev.type == "cuda" else (0 if big else 1))
    g = torch.Generator(device="cpu").manual_seed(seed)
    H, S, K = mc.history, mc.image_size, mc.action_block_dim
    obs = torch.randint(0, 256, (1, H, 3, S, S), generator=g, dtype=torch.uint8).to(dev)  # (1, H, 3, S, S)
    goal = torch.randint(0, 256, (1, 1, 3, S, S), generator=g, dtype=torch.uint8).to(dev)  # (1, 1, 3, S, S)
    act_hist = torch.randn(1, H - 1, K, generator=g).to(dev) if H > 1 else None  # (1, H-1, K)
    if compile not in ("none", "cuda-graphs"):
        # With CUDA graphs ("reduce-overhead") a replay overwrites the previous replay's outputs;
        # LeWM.rollout keeps every step's latent, so pred_proj (which makes it) stays eager there:
        # the graphed parts' outputs are consumed before their next replay.
        graphs = compile == "reduce-overhead"
        parts = (model.action_encoder, model.predictor) + (() if graphs else (model.pred_proj,))
        for part in parts:
            part.compile(mode=None if compile == "default" else compile)
    gen = torch.Generator(device=dev).manual_seed(seed)

    def make_cost():
        z_hist = model.encode(obs)  # (1, H, D)
        z_goal = model.encode(goal)[0, 0]  # (D,)
        if compile == "cuda-graphs":  # the rollout replays CUDA graphs captured on first use
            from .planning.graphed_cost import graphed_goal_cost
            return graphed_goal_cost(model, z_hist, z_goal, act_hist, bf16=amp)
        return LatentGoalCost(model, z_hist, z_goal, act_hist)

    @torch.no_grad()
    def count(fn) -> float:
        with flop_counter() as fc:
            fn()
        return fc.get_total_flops()

    # FLOPs of one plan = encodes + iterations x rollout(N candidates) + rollout(1) (final mean);
    # CEM's own ops (sampling, top-k, mean/std) are not matmuls. Counted eagerly, once.
    with torch.no_grad():
        cost0 = LatentGoalCost(model, model.encode(obs), model.encode(goal)[0, 0], act_hist)
    f_enc = count(make_cost)
    f_roll_n = count(lambda: cost0(torch.zeros(samples, horizon, K, device=dev)))
    f_roll_1 = count(lambda: cost0(torch.zeros(1, horizon, K, device=dev)))
    peak = peak or Peak.measure(dev)
    if into is not None and not isinstance(into, list):
        raise TypeError(f"bench_plan(into=...) must be a list or None, got {type(into).__name__}")
    rows = [] if into is None else into
    first = len(rows)
    for it in iterations:
        pcfg = PlannerConfig(num_samples=samples, topk=topk, iterations=it, horizon=horizon)

        @torch.no_grad()
        def one_plan():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                cem(make_cost(), horizon, K, pcfg, generator=gen, device=dev)

        ts = timed(one_plan, repeats, warmup, dev)
        flops = f_enc + it * f_roll_n + f_roll_1
        flags = "".join([" bf16" if amp else "", f" compile={compile}" if compile != "none" else "",
                         f" ({repeats} plan{'s' if repeats > 1 else ''})"])
        rows.append(_row(device_name(dev), label, f"CEM {samples}x{it} H{horizon}{flags}", 1, ts, flops,
                         peak.reference(amp)))
    return rows[first:]


# ---------------------------------------------------------------------------------------------
# CLI.
# ---------------------------------------------------------------------------------------------
def add_bench_args(p: argparse.ArgumentParser) -> None:
    from .config import PRESETS
    from .validate import arg_int
    sub = p.add_subparsers(dest="bench_what", metavar="WHAT", required=True)
    t = sub.add_parser("train", help="training-step throughput on synthetic frames")
    t.add_argument("--presets", nargs="+", default=sorted(PRESETS), choices=sorted(PRESETS))
    t.add_argument("--batch", type=arg_int(1, 1 << 20), default=None,
                   help="windows per step (default: the preset's on GPU; on CPU at most 64, 4 for paper-sized)")
    t.add_argument("--steps", type=arg_int(1, 100_000), default=None, help="measured steps (default 20 GPU / 10 CPU / 2 paper-sized on CPU)")
    t.add_argument("--warmup", type=arg_int(0, 100_000), default=None, help="unmeasured steps first (default 5 GPU / 1 CPU / 0 paper-sized on CPU)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model parts")
    t.add_argument("--channels-last", action="store_true", help="NHWC patch-embedding convolution")
    t.add_argument("--no-amp", action="store_true", help="fp32 on CUDA (default: bf16 autocast on CUDA)")
    q = sub.add_parser("plan", help="CEM planning latency (paper solver settings)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", nargs="+", help="lab checkpoints or official LeWM release folders (one row group each)")
    src.add_argument("--preset", nargs="+", choices=sorted(PRESETS),
                     help="randomly initialised models of these presets (e.g. --preset cpu-tiny cpu-small paper)")
    q.add_argument("--iterations", type=arg_int(1, 10_000), nargs="+", default=[30, 10], help="CEM iterations per plan (default 30 10)")
    q.add_argument("--samples", type=arg_int(2, 100_000), default=300)  # CEM's range (1: only the mean, planner.num_samples)
    q.add_argument("--topk", type=arg_int(1, 100_000), default=None, help="CEM elites (at most --samples; default 30, "
                   "fewer for fewer --samples)")
    q.add_argument("--horizon", type=arg_int(1, 1000), default=5)
    q.add_argument("--repeats", type=arg_int(1, 100_000), default=None,
                   help="measured plans (default 20 GPU / 3 CPU / 1 for >5M-param models on CPU)")
    q.add_argument("--warmup", type=arg_int(0, 100_000), default=None, help="unmeasured plans first (default 3 GPU / 1 CPU / 0 big CPU)")
    q.add_argument("--compile", default="none",
                   choices=["none", "cuda-graphs", "default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                   help="cuda-graphs: replay the rollout as captured CUDA graphs (lewm.planning.graphed_cost, CUDA only); the "
                        "others torch.compile the rollout's action encoder + predictor (+ pred_proj), whose shapes "
                        "are fixed across CEM iterations; reduce-overhead = compiled CUDA graphs (CUDA only). With "
                        "--compare, default = the fast path plans with the compiled rollout (lewm/planning/compiled_cost.py)")
    q.add_argument("--amp", action="store_true", help="bf16 autocast during planning (CUDA)")
    for s in (t, q):
        s.add_argument("--compare", action="store_true",
                       help="time the plain fp32 path (the reference) and the fast path (lean rollout + --precision) "
                            "interleaved in one process; print the ratio (lewm/bench_compare.py)")
        s.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                       help="the fast path's precision for --compare (default auto: lewm/precision.py)")
        s.add_argument("--rounds", type=arg_int(3, 100_000), default=None,
                       help="--compare: timed rounds of each path (default 7; at least 3 for a median and a spread)")
        s.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
        s.add_argument("--threads", type=arg_int(1, 1024), default=None, help="torch CPU threads")
        s.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 matmuls on CUDA")
        s.add_argument("--json", default=None, help="also write the rows to this JSON file")
        s.add_argument("--force", action="store_true",
                       help="let --json replace a JSON file of no kind the lab writes, or a run's own file")


def run_bench(a: argparse.Namespace) -> int:
    from .devices import resolve_device, set_threads
    from .runs import BENCH_RESULT
    from .validate import check_out_file
    if a.force and a.json is None:
        raise ValueError("--force lets --json replace an existing file; without --json it does nothing (drop it)")
    if a.json is not None:  # an empty --json (a script's unset variable) is an error, not "no output"
        ins = {f"--checkpoint {c}": c for c in getattr(a, "checkpoint", None) or []}
        check_out_file(a.json, "--json", force=a.force or None, inputs=ins,  # before the benchmark, not after it
                       writes=BENCH_RESULT)
        from .runs import check_out_suffix
        check_out_suffix(a.json, "--json", BENCH_RESULT)  # JSON under an .h5 / .pt name looked like a dataset
        # a --json that did not exist now is created only if it still does not exist at the end (two
        # benchmarks at once into one new file: the later one silently replaced the other's rows)
        a.json_replace = bool(a.force) or os.path.lexists(a.json)
    if a.precision is not None and not a.compare:  # was: ignored without a word
        alt = "--amp (bf16 autocast)" if a.bench_what == "plan" else "--no-amp (fp32 on CUDA)"
        raise ValueError(f"--precision {a.precision} sets the fast path of --compare only; add --compare, "
                         f"or drop it (without --compare: {alt})")
    if a.rounds is not None and not a.compare:  # was: ignored without a word
        alt = "--repeats" if a.bench_what == "plan" else "--steps"
        raise ValueError(f"--rounds {a.rounds} sets the timed rounds of --compare only; add --compare, or drop it "
                         f"(without --compare: {alt})")
    if a.bench_what == "plan" and a.topk is None:  # was 30 however few --samples: "--topk must be <= --samples"
        from ._eval_checks import scaled_elites
        a.topk = scaled_elites(a.samples, 30, 300)
    if a.bench_what == "plan" and a.topk > a.samples:
        raise ValueError(f"--topk must be <= --samples ({a.samples}), got {a.topk}")
    if a.bench_what == "plan" and a.compile in ("cuda-graphs", "reduce-overhead") and \
            resolve_device(a.device).type != "cuda":
        raise ValueError(f"--compile {a.compile} needs a CUDA device; use --compile none on {a.device}")
    if a.tf32 and resolve_device(a.device).type != "cuda":  # was: ignored without a word on CPU
        raise ValueError(f"--tf32 allows TF32 matmuls on CUDA GPUs only; drop it on --device {a.device} "
                         f"(no CUDA device here)")
    if getattr(a, "no_amp", False) and resolve_device(a.device).type != "cuda":  # was: ignored without a word
        raise ValueError(f"--no-amp turns off CUDA's bf16 autocast only (training off CUDA is fp32 already); drop "
                         f"it on --device {a.device} (no CUDA device here)")
    set_threads(a.threads)
    if a.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dev = resolve_device(a.device)
    if a.compare:
        return _run_compare(a, dev)
    from ._bench_run import keep_rows, plan_models
    models = plan_models(a, dev) if a.bench_what == "plan" else None  # every --checkpoint loaded before any timing
    peak = Peak.measure(dev)
    rows: list[Row] = []
    with keep_rows(rows) as stop:  # Ctrl-C / SIGTERM after a row: the rows measured are kept, marked so
        if a.bench_what == "train":
            for name in a.presets:
                rows.append(bench_train(name, dev, batch=a.batch, steps=a.steps, warmup=a.warmup, compile=a.compile,
                                        channels_last=a.channels_last, amp=False if a.no_amp else None, peak=peak))
                print(f"  {name}: {rows[-1].rate:,.1f} samples/s", flush=True)
        else:
            for model, cfg, src in models:
                label = f"{cfg.preset} ({src})" if a.checkpoint else src
                bench_plan(model, cfg, dev, label, iterations=a.iterations, samples=a.samples, topk=a.topk,
                           horizon=a.horizon, repeats=a.repeats, warmup=a.warmup, compile=a.compile, amp=a.amp,
                           peak=peak, into=rows)  # row by row: an interrupt keeps the rows measured
                print(f"  {label}: {rows[-1].rate:,.2f} plans/s at {a.iterations[-1]} iterations", flush=True)
    print(format_table(rows, *(("samples/s", peak, "ms") if a.bench_what == "train" else ("plans/s", peak, "s"))))
    if a.json:
        _write_json(a, {"peak": asdict(peak), "rows": [asdict(r) for r in rows], **stop.marks})
    return stop.exit_code(len(rows))


def _run_compare(a: argparse.Namespace, dev: torch.device) -> int:
    """``bench plan|train --compare``: reference vs fast path, interleaved (lewm/bench_compare.py)."""
    from . import bench_compare as bc
    a.rounds = 7 if a.rounds is None else a.rounds  # the default
    if a.rounds < 3:
        raise ValueError(f"--rounds must be >= 3 for a median and a spread, got {a.rounds}")
    if a.bench_what == "plan" and a.compile not in ("none", "default"):
        raise ValueError(f"bench plan --compare takes --compile default (the compiled rollout, "
                         f"lewm/planning/compiled_cost.py) or none, got --compile {a.compile}")
    from ._bench_run import keep_rows, plan_models
    rows, precision = [], a.precision or "auto"
    models = plan_models(a, dev) if a.bench_what == "plan" else None  # every --checkpoint loaded before any timing
    with keep_rows(rows) as stop:  # Ctrl-C / SIGTERM after a row: the rows measured are kept, marked so
        _compare_rows(a, dev, precision, models, rows)
    print(bc.format_comparisons(rows))
    print(f"device: {device_name(dev)}; each figure the median of {a.rounds} interleaved rounds after warm-up")
    if a.json:  # through a temporary file: a kill never leaves half a JSON
        _write_json(a, {"device": device_name(dev), "rows": [r.as_dict() for r in rows], **stop.marks})
    return stop.exit_code(len(rows))


def _compare_rows(a: argparse.Namespace, dev: torch.device, precision: str, models, rows: list) -> None:
    """The rows of ``bench ... --compare``, appended to ``rows`` as they are measured."""
    from . import bench_compare as bc
    from .precision import resolve_precision
    if a.bench_what == "train":
        from .config import get_preset
        for name in a.presets:
            bf16 = resolve_precision(precision, dev, "train", model_width=get_preset(name).model.enc_dim)
            if not bf16 and not a.compile:
                print(f"note: --precision {precision} resolves to fp32 for training {name} on {dev}: both paths are "
                      f"the same; pass --precision bf16 to compare bf16 autocast, or --compile", flush=True)
            rows.append(bc.compare_train(name, dev, bf16, batch=a.batch, rounds=a.rounds, compiled=a.compile))
            print(f"  {name}: x{rows[-1].ratio:.2f}", flush=True)
    else:
        bf16 = resolve_precision(precision, dev, "plan")
        comp = a.compile == "default"
        for model, _, label in models:
            rows.append(bc.compare_iteration(model, label, dev, bf16, samples=a.samples, horizon=a.horizon,
                                             rounds=a.rounds, compiled=comp))
            for it in a.iterations:
                rows.append(bc.compare_plan(model, label, dev, bf16, iterations=it, samples=a.samples, topk=a.topk,
                                            horizon=a.horizon, rounds=max(3, a.rounds // 2), compiled=comp))
            print(f"  {label}: x{rows[-len(a.iterations) - 1].ratio:.2f} per CEM iteration", flush=True)


def _write_json(a: argparse.Namespace, obj: dict) -> None:
    """``--json``, through a temporary file (a kill never leaves half a JSON), published with
    :func:`lewm.faults.publish`: without ``--force``, a new file another command created meanwhile is kept."""
    from .faults import write_atomic
    write_atomic(a.json, json.dumps(obj, indent=2), replace=getattr(a, "json_replace", True), flag="--json")
