"""GPU report: device facts, training and planning benchmarks, a kernel profile -> JSON + Markdown.

    python scripts/gpu_report.py --out DIR            # on a CUDA GPU: paper preset, paper solver
    python scripts/gpu_report.py --out DIR --smoke    # same lines on the CPU at toy sizes (< 1 min)

Sections (each row is written to DIR/gpu_report.json as soon as it is measured, so a run cut short
keeps what it measured; DIR/gpu_report.md is rewritten after every section):

- peak: the measured dense matmul rate (bf16 and fp32; 8192^3 on the GPU), the reference for every
  "% of peak" below;
- train: full training steps (encode, predict, MSE + SIGReg, backward, clip, AdamW) at the paper
  preset (224 px, patch 14, batch 128, history 3) on synthetic frames: fp32, bf16 autocast, bf16 +
  torch.compile; samples/s, achieved TFLOP/s and the fraction of the bf16 peak;
- plan: whole plans at the paper's size and solver (300 samples x 30 iterations x horizon 5,
  history 3): fp32 and bf16, eager and with the rollout replayed as CUDA graphs; then the shipped
  checkpoints with the fastest setting;
- profile: torch.profiler's top kernels of one bf16 training step and one eager bf16 plan.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from lewm import bench  # noqa: E402
from lewm.config import get_preset  # noqa: E402
from lewm.model import LeWM  # noqa: E402

SHIPPED = ("checkpoints/two_room/model.pt", "checkpoints/pusht/model.pt", "checkpoints/reacher/model.pt")
SECTIONS = ("train", "plan", "profile", "compile")
"""What ``--sections`` may name (the matmul peak is always measured)."""


class Report:
    def __init__(self, out: str, append: bool = False):
        os.makedirs(out, exist_ok=True)
        self.out, self.data = out, {"sections": {}, "errors": []}
        path = os.path.join(out, "gpu_report.json")
        if append and os.path.exists(path):
            try:
                with open(path) as f:
                    self.data = json.load(f)
                ok = isinstance(self.data, dict) and isinstance(self.data.get("sections"), dict) \
                    and isinstance(self.data.get("errors"), list)
            except (UnicodeDecodeError, ValueError):
                ok = False
            if not ok:  # was: a traceback (or a KeyError later) for a damaged or foreign file
                raise ValueError(f"--append: {path} is not a GPU report (a JSON object with 'sections' and "
                                 f"'errors'); remove it or drop --append")

    def put(self, section: str, value) -> None:
        self.data["sections"].setdefault(section, []).append(value)
        self.flush()

    def error(self, where: str) -> None:
        """Record the exception being handled: ``"<where>: <type>: <its message's first line>"``. The last
        line of the traceback was kept before, which for torch.compile's errors is their advice to set
        TORCHDYNAMO_VERBOSE=1, not what failed."""
        msg = f"{where}: {exception_line(sys.exc_info()[1])}"
        print("ERROR " + msg, flush=True)
        traceback.print_exc(limit=3)  # the details on stderr (gpu_check.sh keeps the console output)
        self.data["errors"].append(msg)
        self.flush()

    def flush(self) -> None:
        with open(os.path.join(self.out, "gpu_report.json"), "w") as f:
            json.dump(self.data, f, indent=2)
        with open(os.path.join(self.out, "gpu_report.md"), "w") as f:
            f.write(markdown(self.data))


def exception_line(e: BaseException | None) -> str:
    """``"<type>: <first non-empty line of the message>"`` of exception ``e`` (the type qualified by its
    module outside builtins: torch._dynamo.exc.BackendCompilerFailed); a first line ending in ':'
    ("backend='inductor' raised:") is followed by the next, which says what was raised."""
    if e is None:
        return "unknown error"
    t = type(e)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    first = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
    return f"{name}: {first}" if first else name


def _table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def markdown(d: dict) -> str:
    s = d["sections"]
    lines = ["# LeWM Lab GPU report", ""]
    for info in s.get("device", []):
        lines += [f"- **device**: {info['device_name']} (torch {info['torch']}, CUDA {info['cuda']}, "
                  f"capability {info.get('capability')}, {info['cpu_cores']} CPU cores, Python {info['python']})",
                  f"- **date**: {info['date']}"]
    for p in s.get("peak", []):
        lines.append(f"- **measured matmul peak**: bf16 {p['bf16_tflops']:.1f} TFLOP/s, fp32 {p['fp32_tflops']:.1f} "
                     f"TFLOP/s (TF32 {'on' if p['tf32'] else 'off'}), n = {p['n']}")
    if s.get("train"):
        lines += ["", "## Training steps (synthetic frames)", "",
                  _table(["preset", "setting", "samples/s", "median ms", "TFLOP/step", "TFLOP/s", "% bf16 peak"],
                         [[r["model"], r["setting"], f"{r['rate']:,.0f}", f"{1e3 * r['median_s']:.1f}",
                           f"{r['gflop'] / 1e3:.3f}", f"{r['gflops'] / 1e3:.1f}", f"{100 * r['bf16_frac']:.1f}"]
                          for r in s["train"]])]
    if s.get("plan"):
        lines += ["", "## Plans (CEM, encode context + goal included)", "",
                  _table(["model", "setting", "median s", "p90 s", "TFLOP/plan", "TFLOP/s", "% bf16 peak"],
                         [[r["model"], r["setting"], f"{r['median_s']:.4f}", f"{r['p90_s']:.4f}",
                           f"{r['gflop'] / 1e3:.3f}", f"{r['gflops'] / 1e3:.2f}", f"{100 * r['bf16_frac']:.2f}"]
                          for r in s["plan"]])]
    for prof in s.get("profile", []):
        lines += ["", f"## Profile: {prof['what']} (top kernels by device time)", "", "```", prof["table"], "```"]
    if d["errors"]:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in d["errors"]]
    return "\n".join(lines) + "\n"


def device_info(dev: torch.device) -> dict:
    cuda = dev.type == "cuda"
    return {"device": str(dev), "device_name": bench.device_name(dev), "torch": torch.__version__,
            "cuda": torch.version.cuda, "capability": ".".join(map(str, torch.cuda.get_device_capability(dev))) if cuda else None,
            "cpu_cores": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def measure_peak(dev: torch.device, smoke: bool) -> dict:
    n = 512 if smoke else 8192
    reps = 3 if smoke else 20
    bf = max(bench.matmul_peak(dev, torch.bfloat16, n, reps) for _ in range(3))  # best of 3 medians
    tf32 = dev.type == "cuda" and torch.backends.cuda.matmul.allow_tf32
    fp = max(bench.matmul_peak(dev, torch.float32, n, reps) for _ in range(2))
    return {"n": n, "bf16_tflops": bf / 1e3, "fp32_tflops": fp / 1e3, "tf32": bool(tf32)}


def _with_frac(row: bench.Row, bf16_peak_gflops: float) -> dict:
    d = asdict(row)
    d["bf16_frac"] = row.gflops / bf16_peak_gflops
    return d


def main(argv=None) -> int:
    from lewm.cli import Parser
    from lewm.validate import check_out_dir
    p = Parser(prog="python scripts/gpu_report.py", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu-report", help="output folder (default $OUT or ./gpu-report)")
    p.add_argument("--smoke", action="store_true", help="CPU, toy sizes: checks that every line runs")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated: train (fp32, bf16), plan, profile, compile (the bf16 + torch.compile "
                        "training row, last: its compilation takes longest); the matmul peak is always measured")
    p.add_argument("--append", action="store_true", help="add to the JSON already in --out (e.g. a separate compile run)")
    a = p.parse_args(argv)
    secs = [s.strip() for s in a.sections.split(",") if s.strip()]
    bad = [s for s in secs if s not in SECTIONS]
    if bad or not secs:  # was: --sections bogus measured nothing and said "wrote"
        raise ValueError(f"--sections {a.sections!r}: {'unknown section ' + repr(bad[0]) if bad else 'no section'}; "
                         f"give a comma-separated list of {', '.join(SECTIONS)}")
    check_out_dir(a.out)  # was: FileExistsError from makedirs for a file, or a failure at the first row
    dev = torch.device("cpu" if a.smoke else "cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device: run with --smoke on a CPU machine", file=sys.stderr)
        return 2
    if a.smoke:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    rep = Report(a.out, append=a.append)
    n_errors = len(rep.data["errors"])  # with --append: the earlier run's errors are not this run's
    if not rep.data["sections"].get("device"):
        rep.put("device", device_info(dev))
    print(json.dumps(rep.data["sections"]["device"][0]), flush=True)
    bf16_peak = 1.0
    if rep.data["sections"].get("peak"):
        bf16_peak = rep.data["sections"]["peak"][0]["bf16_tflops"] * 1e3
    else:  # every "% of peak" below needs it
        try:
            pk = measure_peak(dev, a.smoke)
            bf16_peak = pk["bf16_tflops"] * 1e3
            rep.put("peak", pk)
            print(f"peak: bf16 {pk['bf16_tflops']:.1f} TFLOP/s, fp32 {pk['fp32_tflops']:.1f}", flush=True)
        except Exception:
            rep.error("peak")
    peak = bench.Peak(fp32=(rep.data["sections"].get("peak") or [{"fp32_tflops": 1e-3}])[0]["fp32_tflops"] * 1e3,
                      bf16=bf16_peak)

    preset = "cpu-tiny" if a.smoke else "paper"
    if "train" in secs:
        train_rows(rep, preset, dev, a.smoke, peak, bf16_peak, [("fp32", dict(amp=False)), ("bf16", dict(amp=True))])

    if "plan" in secs:
        torch.manual_seed(0)
        cfg = get_preset(preset)
        model = LeWM(cfg.model).to(dev).eval()
        its = (3,) if a.smoke else (30,)
        samples = 32 if a.smoke else 300
        modes = [("fp32", False, "none"), ("bf16", True, "none")]
        if dev.type == "cuda":
            modes += [("fp32+graphs", False, "cuda-graphs"), ("bf16+graphs", True, "cuda-graphs")]
        for name, amp, comp in modes:
            try:
                rows = bench.bench_plan(model, cfg, dev, preset, iterations=its, samples=samples, topk=30 if not a.smoke else 4,
                                        horizon=5, repeats=2 if a.smoke else 10, warmup=1 if a.smoke else 2,
                                        compile=comp, amp=amp, peak=peak)
                for r in rows:
                    rep.put("plan", _with_frac(r, bf16_peak))
                    print(f"plan {preset} {name}: {r.median_s:.4f} s median ({r.gflops / 1e3:.2f} TFLOP/s)", flush=True)
            except Exception:
                rep.error(f"plan {name}")
        from lewm.checkpoint import load
        for path in SHIPPED:
            if not os.path.exists(path):
                continue
            try:
                m, c, _ = load(path, dev)
                comp = "cuda-graphs" if dev.type == "cuda" else "none"
                for it in ((3,) if a.smoke else (30, 10)):
                    for r in bench.bench_plan(m, c, dev, os.path.basename(os.path.dirname(path)), iterations=(it,),
                                              samples=samples, topk=30 if not a.smoke else 4, horizon=5,
                                              repeats=2 if a.smoke else 10, warmup=1 if a.smoke else 2,
                                              compile=comp, amp=False, peak=peak):
                        rep.put("plan", _with_frac(r, bf16_peak))
                        print(f"plan {path}: {r.median_s:.4f} s median at {it} iterations", flush=True)
            except Exception:
                rep.error(f"plan {path}")

    if "profile" in secs:
        try:
            for what, table in profile(preset, dev, a.smoke):
                rep.put("profile", {"what": what, "table": table})
                print(f"profile: {what}\n{table}", flush=True)
        except Exception:
            rep.error("profile")
    if "compile" in secs:  # last: its compilation takes the longest
        train_rows(rep, preset, dev, a.smoke, peak, bf16_peak, [("bf16+compile", dict(amp=True, compile=True))])
    print(f"wrote {a.out}/gpu_report.json and gpu_report.md", flush=True)
    failed = rep.data["errors"][n_errors:]
    if failed:  # was: exit status 0 with sections failed (only an "ERROR" line in the middle of the output)
        print(f"gpu_report: {len(failed)} section(s) failed: " + "; ".join(failed), file=sys.stderr, flush=True)
        return 1
    return 0


def train_rows(rep: Report, preset: str, dev, smoke: bool, peak, bf16_peak: float, settings) -> None:
    for name, kw in settings:
        try:
            t = time.perf_counter()
            row = bench.bench_train(preset, dev, batch=8 if smoke else 128, steps=3 if smoke else 20,
                                    warmup=1 if smoke else (8 if kw.get("compile") else 5), peak=peak, **kw)
            rep.put("train", _with_frac(row, bf16_peak))
            print(f"train {preset} {name}: {row.rate:,.0f} samples/s, {row.gflops / 1e3:.1f} TFLOP/s "
                  f"({100 * row.gflops / bf16_peak:.1f}% of bf16 peak) [{time.perf_counter() - t:.0f} s]", flush=True)
        except Exception:
            rep.error(f"train {name}")


def profile(preset: str, dev: torch.device, smoke: bool):
    """Top kernels of one bf16 training step and one eager bf16 plan (after warm-up)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    from lewm.planning import LatentGoalCost, PlannerConfig, cem
    from lewm.loss import lewm_loss
    cfg = get_preset(preset)
    mc = cfg.model
    torch.manual_seed(0)
    model = LeWM(mc).to(dev).train()
    B = 8 if smoke else 128
    T, S = mc.history + 1, mc.image_size
    batch = {"pixels": torch.randint(0, 256, (B, T, 3, S, S), dtype=torch.uint8, device=dev),  # (B, T, 3, S, S)
             "actions": torch.randn(B, T - 1, mc.action_block_dim, device=dev)}  # (B, T-1, K)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
    gen = torch.Generator(device=dev).manual_seed(0)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = lewm_loss(model, batch, cfg, gen)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    key = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    for _ in range(3):
        step()
    bench._sync(dev)
    with tprofile(activities=acts) as prof:
        step()
        bench._sync(dev)
    yield f"one bf16 training step, {preset}, batch {B}", prof.key_averages().table(sort_by=key, row_limit=15)

    model.eval()
    pcfg = PlannerConfig(num_samples=32 if smoke else 300, topk=4 if smoke else 30, iterations=3 if smoke else 30)

    @torch.no_grad()
    def one_plan():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            z = model.encode(batch["pixels"][:1])  # (1, T, D)
            cost = LatentGoalCost(model, z[:, :mc.history], z[0, -1], batch["actions"][:1, :mc.history - 1])
            cem(cost, 5, mc.action_block_dim, pcfg, generator=gen, device=dev)

    one_plan()
    bench._sync(dev)
    with tprofile(activities=acts) as prof:
        one_plan()
        bench._sync(dev)
    yield (f"one eager bf16 plan, {preset}, CEM {pcfg.num_samples}x{pcfg.iterations} H5",
           prof.key_averages().table(sort_by=key, row_limit=15))


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
