"""Round 15 (report): c9 every numeric flag's range in ``report --help`` (its errors point there), c10 a probe
spread over fewer distinct splits than asked (2 episodes) says so, c11 a one-step open loop is printed once."""
import argparse
import json
import re
import warnings

import numpy as np
import pytest

from _report import _tiny_checkpoint

import lewm.diagnostics as dg
from lewm.report.cli import add_report_args
from lewm.report.summary import summary_text

_COUNT_FLAGS = {"--episodes", "--max-frames", "--decoder-steps", "--horizon", "--landscape-goals", "--seed",
                "--threads"}


def _flat(text: str) -> str:
    return " ".join(text.split())


# -- c9 -------------------------------------------------------------------------------------------------------
def test_every_numeric_report_flag_states_its_range_in_help():
    p = argparse.ArgumentParser(prog="python -m lewm report")
    add_report_args(p)
    numeric = {a.option_strings[-1]: a for a in p._actions if callable(a.type)}
    assert set(numeric) == _COUNT_FLAGS
    for flag, a in numeric.items():
        with pytest.raises(argparse.ArgumentTypeError) as e:  # the range the flag's error names ...
            a.type("-99999999999")
        rng = re.search(r"must be (in \[[^\]]+\])", str(e.value)).group(1)
        assert f"must be {rng}" in _flat(a.help), (flag, a.help)  # ... is in its --help text
    assert "must be in [40, 10000000]" in _flat(p.format_help())


def test_max_frames_error_points_to_a_help_that_has_the_range(capsys):
    from lewm.cli import main
    assert main(["report", "--checkpoint", "x.pt", "--out", "rep", "--max-frames", "5"]) == 2
    assert re.search(r"--max-frames must be in \[40, 10000000\], got 5 \(see: .*report --help\)",
                     capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = _flat(capsys.readouterr().out)
    assert "--max-frames MAX_FRAMES frames to encode" in out and "must be in [40, 10000000]" in out
    assert "--horizon HORIZON open-loop horizon in action blocks (default 10); must be in [1, 1000]" in out


# -- c10 ------------------------------------------------------------------------------------------------------
def _probe_data(groups: int, per: int = 12):
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (groups * per, 2))  # (N, Q)
    z = np.c_[s, s[:, :1] ** 2] + 0.3 * rng.normal(size=(groups * per, 3))  # (N, 3)
    return z, s, np.repeat(np.arange(groups), per)


def test_probe_spread_with_two_episodes_gives_the_two_distinct_splits_and_says_so():
    z, s, g = _probe_data(2)
    with pytest.warns(UserWarning, match=r"probe_spread: 2 distinct held-out splits, not 5: the data allow only 2 "
                                         r"\(2 groups \(episodes\), 1 held out\)"):
        sp = dg.probe_spread(z, s, ["a", "b"], "linear", splits=5, groups=g)
    assert sp.splits == 2 and sp.pearson.shape == (2, 2) and sp.possible == 2 and len(set(sp.seeds)) == 2
    held = {tuple(np.unique(g[dg.split_indices(len(z), 0.2, k, g)[1]])) for k in sp.seeds}
    assert held == {(0,), (1,)}  # each episode held out once, not one of them 3 times out of 5
    refs = [dg.probe(z, s, ["a", "b"], "linear", seed=k, groups=g).pearson for k in sp.seeds]
    assert sp.summary()["a"]["mean"] == pytest.approx(np.mean([r[0] for r in refs]))


def test_probe_spread_finds_every_distinct_split_of_three_episodes():
    z, s, g = _probe_data(3)
    with pytest.warns(UserWarning, match=r"3 distinct held-out splits, not 5: the data allow only 3"):
        sp = dg.probe_spread(z, s, splits=5, groups=g)
    assert sp.splits == 3 and sp.possible == 3
    assert len({dg.split_indices(len(z), 0.2, k, g)[1].tobytes() for k in sp.seeds}) == 3


def test_probe_spread_with_enough_episodes_is_unchanged_and_quiet():
    z, s, g = _probe_data(20, per=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp = dg.probe_spread(z, s, splits=5, groups=np.int64(1) * g)
    assert sp.seeds == (0, 1, 2, 3, 4) and sp.splits == 5
    for k in range(5):
        assert np.allclose(sp.pearson[k], dg.probe(z, s, seed=k, groups=g).pearson)


def _rep(**extra):
    rep = {"collapse": {"effective_rank": 3.0, "latent_dim": 16, "top1_fraction": 0.4, "mean_cosine": 0.1,
                        "mean_std": 0.5},
           "sigreg": {"value": 1.0}}
    rep.update(extra)
    return rep


def test_summary_says_when_the_spread_has_fewer_distinct_splits():
    pearson = {"x": {"mean": 0.5, "min": 0.4, "max": 0.6}}
    few = summary_text(_rep(probe_spread={"splits": 2, "splits_asked": 5, "possible": 2, "episodes": 2,
                                          "pearson": pearson}))
    assert "linear probe on z over 2 distinct held-out splits (only 2 possible with 2 episodes; 5 asked): x r=0.500" in few
    full = summary_text(_rep(probe_spread={"splits": 5, "splits_asked": 5, "possible": 4845, "episodes": 20,
                                           "pearson": pearson}))
    assert "over 5 held-out splits: x r=" in full
    old = summary_text(_rep(probe_spread={"splits": 5, "pearson": pearson}))  # a report.json of an earlier version
    assert "over 5 held-out splits: x r=" in old


# -- c11 ------------------------------------------------------------------------------------------------------
def test_one_step_open_loop_is_printed_once():
    one = summary_text(_rep(dynamics={"error_mean": [0.259], "copy_error_mean": [0.1527],
                                      "probe_position_error": [69.2], "probe_position_error_encoded": [3.0]}))
    assert "open loop: latent MSE step 1 0.259 (copy-last baseline 0.1527)" in one
    assert "position error step 1 69.2 (encoded floor 3)" in one
    assert "step 1 0.259, step 1" not in one and "step 1 69.2, step 1" not in one
    three = summary_text(_rep(dynamics={"error_mean": [0.1, 0.2, 0.3], "copy_error_mean": [0.1, 0.1, 0.15],
                                        "probe_position_error": [1.0, 2.0, 3.0],
                                        "probe_position_error_encoded": [0.5, 0.5, 0.5]}))
    assert "latent MSE step 1 0.1, step 3 0.3 (copy-last baseline 0.15)" in three
    assert "position error step 1 1, step 3 3 (encoded floor 0.5)" in three


# -- c10 + c11 end to end: the tester's 2-episode file with --horizon 1 ----------------------------------------
def test_report_on_two_episodes_with_horizon_one(tmp_path, one_thread, capsys):
    from lewm.cli import main
    from lewm.synthetic import write_synthetic_h5
    data = write_synthetic_h5(str(tmp_path / "d2.h5"), episodes=2, length=120, image_size=32)
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "rep"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "probe_spread")  # the summary says it; no warning line besides
        rc = main(["report", "--checkpoint", ckpt, "--data", data, "--out", str(out), "--quick", "--episodes", "1",
                   "--max-frames", "40", "--horizon", "1", "--decoder-steps", "0", "--no-html", "--threads", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text())
    sp = rep["probe_spread"]
    assert (sp["splits"], sp["splits_asked"], sp["possible"], sp["episodes"]) == (2, 5, 2, 2)
    assert "linear probe on z over 2 distinct held-out splits (only 2 possible with 2 episodes; 5 asked)" in printed
    assert re.search(r"open loop: latent MSE step 1 \S+ \(copy-last baseline", printed)
    assert not re.search(r"step 1 \S+, step 1 ", printed)
