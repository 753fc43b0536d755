"""lewm.bench_compare: ``bench plan|train --compare`` times the reference and the fast path interleaved and
reports ratios and the paths' largest difference."""


def test_compare_plan_and_train_report_ratios_and_errors(tmp_path):
    """`bench plan|train --compare`: interleaved reference vs fast path; at fp32 the lean rollout
    equals the plain one to float precision."""
    import json
    from lewm.cli import main
    out = tmp_path / "cmp.json"
    assert main(["bench", "plan", "--compare", "--preset", "cpu-tiny", "--iterations", "2", "--samples", "32",
                 "--topk", "4", "--rounds", "3", "--precision", "fp32", "--threads", "1", "--json", str(out)]) == 0
    rows = json.load(open(out))["rows"]
    assert [r["what"].split(" ")[0] for r in rows] == ["CEM", "plan"]
    for r in rows:
        assert r["ratio"] > 0 and r["reference_s"] > 0 and r["fast_s"] > 0 and r["rounds"] == 3
        assert r["max_abs_err"] < 1e-4, r
    assert main(["bench", "train", "--compare", "--presets", "cpu-tiny", "--batch", "4", "--rounds", "3",
                 "--precision", "bf16", "--threads", "1", "--json", str(out)]) == 0
    (r,) = json.load(open(out))["rows"]
    assert r["fast"] == "bf16, fused AdamW" and r["ratio"] > 0 and r["max_abs_err"] < 0.1
