"""lewm.report.summary: numpy and NaN made JSON-safe, and the summary lines carry the report's numbers."""
import json

import numpy as np

from lewm.report.summary import clean, summary_text


def test_clean_makes_numpy_and_nan_json_safe():
    x = {1: np.float32(0.5), "a": [np.int64(3), np.bool_(True), float("nan"), (np.inf, 2.0)],
         "arr": np.array([[1.5, np.nan]]), "s": "txt", "n": None}
    got = clean(x)
    assert got == {"1": 0.5, "a": [3, True, None, [None, 2.0]], "arr": [[1.5, None]], "s": "txt", "n": None}
    assert type(got["a"][0]) is int and type(got["a"][1]) is bool
    json.dumps(got, allow_nan=False)  # strict JSON


def test_summary_lines_carry_the_numbers():
    rep = {"collapse": {"effective_rank": 12.345, "latent_dim": 16, "top1_fraction": 0.25, "mean_cosine": None,
                        "mean_std": 0.0123}, "sigreg": {"value": 1.5},
           "probes": {"linear": [{"quantity": "x", "pearson_r": 0.98765, "r2": 0.9}]},
           "dynamics": {"error_mean": [0.001, 0.01], "copy_error_mean": [0.002, 0.5]},
           "surprise": {"tests": {"teleport": {"median_ratio": 3.14159, "fraction_higher": 0.875, "episodes": 8,
                                               "p_wilcoxon": 0.0039, "p_ttest": 0.01}}}}
    lines = summary_text(rep).splitlines()
    assert lines[0] == "effective rank 12.35 / 16  top-1 0.250  mean cos n/a  mean std 0.0123  SIGReg 1.500"
    assert lines[1] == "linear probe (latent z): x r=0.988 R²=0.900"
    assert lines[2] == "open loop: latent MSE step 1 0.001, step 2 0.01 (copy-last baseline 0.5)"
    assert lines[3] == ("surprise teleport: median ratio 3.14, higher in 88% of 8 episodes, p(wilcoxon) 0.0039, "
                        "p(t) 0.01")
    assert len(lines) == 4
