"""Benchmarks: smoke runs on the tiny preset and the FLOP counter."""
import argparse

import torch

from lewm import bench
from lewm.config import get_preset
from lewm.model import LeWM


CPU = torch.device("cpu")
PEAK = bench.Peak(fp32=100.0)  # fixed, so the tests do not spend time measuring it


def test_flop_counter_counts_cpu_attention():
    q = torch.randn(2, 3, 16, 8, requires_grad=True)  # (B, h, L, d)
    with bench.flop_counter() as fc:
        torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    fwd = 2 * 2 * (2 * 3 * 16 * 16 * 8)  # QK^T and AV, 2 FLOPs per multiply-add
    assert fc.get_total_flops() == fwd + 5 * fwd // 2  # backward: 5 products (scores recomputed)


def test_train_and_plan_bench_rows():
    row = bench.bench_train("cpu-tiny", CPU, batch=4, steps=1, warmup=0, peak=PEAK)
    assert row.rate > 0 and row.gflop > 0 and 0 < row.peak_frac and "batch 4" in row.setting
    cfg = get_preset("cpu-tiny")
    rows = bench.bench_plan(LeWM(cfg.model), cfg, CPU, "tiny", iterations=(2, 1), samples=16, topk=4,
                            repeats=1, warmup=0, peak=PEAK)
    assert [r.setting.split()[1] for r in rows] == ["16x2", "16x1"]
    assert rows[0].gflop > rows[1].gflop > 0
    table = bench.format_table(rows, "plans/s", PEAK, "s")
    assert "plans/s" in table and "fp32 100" in table


def test_cli_arguments():
    p = argparse.ArgumentParser()
    bench.add_bench_args(p)
    a = p.parse_args(["plan", "--preset", "cpu-tiny", "--iterations", "3", "--compile", "default"])
    assert a.bench_what == "plan" and a.iterations == [3] and a.compile == "default"
    a = p.parse_args(["train", "--presets", "cpu-tiny", "paper", "--device", "cpu"])
    assert a.presets == ["cpu-tiny", "paper"] and a.device == "cpu"


def test_plan_cli_runs_every_preset_given(tmp_path, monkeypatch, capsys):
    import json
    monkeypatch.setattr(bench.Peak, "measure", classmethod(lambda cls, dev: PEAK))
    p = argparse.ArgumentParser()
    bench.add_bench_args(p)
    out = tmp_path / "rows.json"
    a = p.parse_args(["plan", "--preset", "cpu-tiny", "cpu-tiny", "--iterations", "1", "--samples", "8",
                      "--topk", "2", "--repeats", "1", "--warmup", "0", "--device", "cpu", "--json", str(out)])
    assert bench.run_bench(a) == 0
    rows = json.load(open(out))["rows"]
    assert len(rows) == 2 and all(r["rate"] > 0 for r in rows)
    assert "plans/s" in capsys.readouterr().out
