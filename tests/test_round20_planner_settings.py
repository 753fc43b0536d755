"""Round 20, the Planner's settings from eval.json (fixer FA): defaults that follow a change of checkpoint or of
its eval.json (L1), an eval.json that is a pipe, /dev/zero, too big or too deeply nested (L2, L3), values the
page cannot take as they are, said and clamped (L4, L6), the solver and its settings read (L5), a success rate
that is not a rate (L7), an eval.json of another env (L11), "Blocks executed per plan" clamped to a lowered
horizon (L16)."""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import warnings

import pytest

pytest.importorskip("streamlit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))

import discovery  # noqa: E402
import planner_defaults as pd  # noqa: E402
from _lab_assets import make_lab_assets  # noqa: E402


# ------------------------------------------------------------------ the pure defaults
def test_page_defaults_take_every_usable_value():
    with open(os.path.join(ROOT, "checkpoints", "reacher", "eval.json")) as f:
        shipped = json.load(f)["planner"]
    d, notes = pd.page_defaults(shipped)
    assert notes == []
    assert (d["horizon"], d["cost_steps"], d["cost_mean_weight"], d["plan_from"], d["receding_horizon"]) == \
        (8, "min", 0.1, "best", 1)
    d, notes = pd.page_defaults({"solver": "grad", "grad_restarts": 64, "iterations": 7})  # L5
    assert (d["solver"], d["grad_restarts"], d["iterations"], notes) == ("grad", 64, 7, [])
    assert pd.page_defaults({})[0] == pd.DEFAULTS and pd.page_defaults(None) == (pd.DEFAULTS, [])


@pytest.mark.parametrize("planner, name, value, note", [
    ({"horizon": 30, "receding_horizon": 2}, "horizon", 20,
     "planner.horizon 30 is more than this page allows (20): using 20; the evaluation used 30."),
    ({"num_samples": 10000, "topk": 100}, "num_samples", 5000,
     "planner.num_samples 10000 is more than this page allows (5000): using 5000; the evaluation used 10000."),
    ({"iterations": 200}, "iterations", 100,
     "planner.iterations 200 is more than this page allows (100): using 100; the evaluation used 200."),
    ({"num_samples": 5}, "num_samples", 10,
     "planner.num_samples 5 is less than this page allows (10): using 10; the evaluation used 5."),
    ({"horizon": float("nan")}, "horizon", 5, "planner.horizon nan is not a whole number: using the default 5."),
    ({"horizon": 8.0}, "horizon", 5, "planner.horizon 8.0 is not a whole number: using the default 5."),
    ({"horizon": "8"}, "horizon", 5, "planner.horizon '8' is not a whole number: using the default 5."),
    ({"horizon": True}, "horizon", 5, "planner.horizon true is not a whole number: using the default 5."),
    ({"horizon": 0}, "horizon", 5, "planner.horizon 0 is not a valid setting (in [1, 1000]): using the default 5."),
    ({"horizon": 10 ** 400}, "horizon", 5,
     "planner.horizon a 401-digit number is not a valid setting (in [1, 1000]): using the default 5."),
    ({"cost_steps": "MIN"}, "cost_steps", "last",
     "planner.cost_steps 'MIN' is not one of last, all, min: using the default last."),
    ({"cost_steps": "min", "cost_mean_weight": "0.1"}, "cost_mean_weight", 0.0,
     "planner.cost_mean_weight '0.1' is not a number: using the default 0."),
    ({"cost_steps": "min", "cost_mean_weight": -1}, "cost_mean_weight", 0.0,
     "planner.cost_mean_weight -1 is not a valid setting (in [0, 100]): using the default 0."),
    ({"cost_steps": "min", "cost_mean_weight": math.inf}, "cost_mean_weight", 0.0,
     "planner.cost_mean_weight inf is not a finite number: using the default 0."),
    ({"plan_from": "BEST"}, "plan_from", "mean",
     "planner.plan_from 'BEST' is not one of mean, best: using the default mean."),
    ({"solver": "adam"}, "solver", "cem", "planner.solver 'adam' is not one of cem, mppi, grad: using the default cem."),
    ({"horizon": 5, "receding_horizon": 8}, "receding_horizon", 5,
     "planner.receding_horizon 8 is more than the horizon used here (5): using 5; the evaluation used 8."),
    ({"cost_steps": "all", "cost_mean_weight": 0.3}, "cost_mean_weight", 0.0,
     "planner.cost_mean_weight 0.3 with cost_steps 'all': this page sets the weight only with 'closest block' "
     "(min): using 0."),
])
def test_page_defaults_say_what_they_replace_or_clamp(planner, name, value, note):
    d, notes = pd.page_defaults(planner)
    assert d[name] == value and note in notes, notes


def test_page_defaults_name_the_settings_the_page_does_not_show():
    d, notes = pd.page_defaults({"solver": "mppi", "temperature": 0.5, "warm_start": False, "min_std": 0.05,
                                 "elites": 4})
    assert d["solver"] == "mppi"
    assert notes == ["The evaluation also set temperature 0.5, warm_start false, which this page does not show: "
                     "it plans with temperature 0.1, warm_start true.", "Unknown planner setting(s) 'elites': ignored."]
    assert pd.page_defaults({"horizon": 12}, limits={"horizon": (1, 10)})[0]["horizon"] == 10


def test_reset_if_new_origin_drops_the_widget_keys_once():
    state = {"plan_horizon": 8, "plan_seed": 3}
    assert not pd.reset_if_new_origin(state, ("a", 1.0))  # the first origin: nothing to reset
    assert state["plan_horizon"] == 8
    assert not pd.reset_if_new_origin(state, ("a", 1.0))
    assert pd.reset_if_new_origin(state, ("b", 1.0))
    assert "plan_horizon" not in state and state["plan_seed"] == 3  # the seed is not from eval.json
    assert not pd.reset_if_new_origin(state, ("b", 2.0))  # no settings widget there yet: nothing to say


# ------------------------------------------------------------------ reading eval.json (L2, L3, L7, L11)
def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_read_eval_json_refuses_what_is_not_a_small_regular_file(tmp_path):
    p = str(tmp_path / "eval.json")
    assert discovery.read_eval_json(p) == (None, None)
    os.mkfifo(p)
    assert discovery.read_eval_json(p) == (None, "is a pipe (FIFO), not a regular file")
    os.remove(p)
    os.symlink("/dev/zero", p)
    assert discovery.read_eval_json(p) == (None, "is a device, not a regular file")
    os.remove(p)
    os.mkdir(p)
    assert discovery.read_eval_json(p) == (None, "is a folder, not a file")
    os.rmdir(p)
    _write(p, "[" * 200000 + "]" * 200000)
    assert discovery.read_eval_json(p) == (None, "is nested too deeply to be read as JSON")
    _write(p, " " * (discovery.EVAL_JSON_MAX_BYTES + 1))
    assert discovery.read_eval_json(p)[1] == "is 4.0 MB, more than the 4 MB an evaluation summary can be: not read"
    _write(p, "")
    assert discovery.read_eval_json(p) == (None, "is empty")
    os.remove(p)
    os.symlink(p, p)
    assert discovery.read_eval_json(p)[1].startswith("cannot be read (Too many levels of symbolic links")
    os.remove(p)
    _write(p, '{"planner": {"horizon": 8}}')
    assert discovery.read_eval_json(p) == ({"planner": {"horizon": 8}}, None)
    _write(p, '{"planner": {"horizon": 3}}')  # rewritten: read again
    os.utime(p, (1e9, 1e9))
    assert discovery.read_eval_json(p) == ({"planner": {"horizon": 3}}, None)


@pytest.mark.parametrize("text, rate, why", [
    ('{"success_rate": NaN}', None, "eval.json success_rate nan is not a rate in [0, 1]"),
    ('{"success_rate": Infinity}', None, "eval.json success_rate inf is not a rate in [0, 1]"),
    ('{"success_rate": 5}', None, "eval.json success_rate 5 is not a rate in [0, 1]"),
    ('{"success_rate": -0.5}', None, "eval.json success_rate -0.5 is not a rate in [0, 1]"),
    ('{"success_rate": true}', None, "eval.json success_rate True is not a rate in [0, 1]"),
    ('{"success_rate": "0.5"}', 0.5, None),
    ('{"success_rate": 0.94}', 0.94, None),
    ('[1, 2]', None, None),
    ("[" * 200000 + "]" * 200000, None, "eval.json is nested too deeply to be read as JSON"),
])
def test_a_success_rate_must_be_a_rate(tmp_path, monkeypatch, text, rate, why):
    """L7: NaN, inf and 5 were labelled 'nan% / inf% / 500% success' and sorted first (the lab opened there)."""
    for name in ("mine", "zgood"):
        os.makedirs(tmp_path / "checkpoints" / name)
        (tmp_path / "checkpoints" / name / "model.pt").write_bytes(b"x")
    _write(str(tmp_path / "checkpoints" / "mine" / "eval.json"), text)
    _write(str(tmp_path / "checkpoints" / "zgood" / "eval.json"), '{"success_rate": 0.1}')
    assert discovery.success_of(str(tmp_path / "checkpoints" / "mine" / "model.pt")) == (rate, why)
    monkeypatch.setattr(discovery, "ROOT", tmp_path)
    monkeypatch.setattr(discovery, "settings", lambda: {"checkpoints": [], "data": []})
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    labels = [lbl for lbl, _ in discovery.list_checkpoints()][:2]
    if rate is None:
        assert labels == ["zgood (shipped, 10% success)", f"mine (shipped; {why})" if why else "mine (shipped)"]
    else:
        assert labels == [f"mine (shipped, {100 * rate:.0f}% success)", "zgood (shipped, 10% success)"]


def test_evaluated_planner_notes(tmp_path):
    ck = str(tmp_path / "last.pt")
    assert discovery.evaluated_planner(ck, "two_room") == ({}, [])
    shutil.copy(os.path.join(ROOT, "checkpoints", "reacher", "eval.json"), tmp_path / "eval.json")
    planner, notes = discovery.evaluated_planner(ck, "two_room")  # L11
    assert planner == {} and len(notes) == 1 and notes[0].endswith(
        "eval.json is the evaluation of a 'reacher_no_target' agent, not of this 'two_room' checkpoint; its planner "
        "settings are not used (the page's defaults are).")
    assert discovery.evaluated_planner(ck, "reacher_no_target")[0]["horizon"] == 8
    doc = json.load(open(tmp_path / "eval.json"))
    for spelling in ("Reacher-No-Target", " reacher_no_target"):  # one env, as `lewm eval` compares them (env_key)
        _write(str(tmp_path / "eval.json"), json.dumps({**doc, "env": spelling}))
        assert discovery.evaluated_planner(ck, "reacher_no_target") == (doc["planner"], [])
    _write(str(tmp_path / "eval.json"), "[1, 2]")
    assert discovery.evaluated_planner(ck, "two_room")[1][0].endswith(
        "eval.json holds list [1, 2], expected an object with a 'planner'; using the page's default planner settings.")


# ------------------------------------------------------------------ the page
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab20")))


def _run(runs, assets, name, planner=None, text=None):
    d = os.path.join(runs, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(assets["ckpt"], os.path.join(d, "last.pt"))
    if planner is not None or text is not None:
        _write(os.path.join(d, "eval.json"), text if text is not None else json.dumps({"planner": planner}))
    return os.path.join(d, "last.pt")


def _clean(at):
    assert not at.exception, [e.value for e in at.exception]


def _vals(at):
    n = lambda k: at.number_input(key=k).value  # noqa: E731
    return (at.selectbox(key="plan_solver").value, n("plan_samples"), n("plan_topk"), n("plan_iters"),
            n("plan_horizon"), n("plan_rh"), at.selectbox(key="plan_cost_steps").value, at.radio(key="plan_from").value)


def test_settings_follow_the_checkpoint_and_its_eval_json(lab_app, assets):
    """L1: switching run1 -> run2 kept run1's settings; a rewritten eval.json was not read either."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    r1 = _run(runs, assets, "run1", {"horizon": 8, "num_samples": 500, "topk": 40, "iterations": 12,
                                     "receding_horizon": 3, "cost_steps": "min", "cost_mean_weight": 0.3,
                                     "plan_from": "best"})
    r2 = _run(runs, assets, "run2", {"horizon": 3, "num_samples": 100, "topk": 10, "iterations": 4,
                                     "receding_horizon": 2, "cost_steps": "all", "plan_from": "mean"})
    at = make("planner", ckpt=r1)
    _clean(at)
    assert _vals(at) == ("cem", 500, 40, 12, 8, 3, "min", "best")
    assert at.number_input(key="plan_cost_mean_weight").value == 0.3
    assert not at.info or not any("reset" in i.value for i in at.info)
    at.selectbox(key="sb_checkpoint").set_value("run2 (run)").run()
    _clean(at)
    assert _vals(at) == ("cem", 100, 10, 4, 3, 2, "all", "mean")
    assert f"Planner settings reset to {discovery.rel(r2)}'s eval.json." in [i.value for i in at.info]
    at.run()  # the same origin: kept, nothing said
    assert not any("reset" in i.value for i in at.info)
    _write(os.path.join(runs, "run2", "eval.json"), json.dumps({"planner": {"horizon": 6, "solver": "mppi"}}))
    os.utime(os.path.join(runs, "run2", "eval.json"), (2e9, 2e9))
    at.run()
    _clean(at)
    assert _vals(at) == ("mppi", 300, 30, 10, 6, 1, "last", "mean")
    assert any("reset" in i.value for i in at.info)


def test_odd_eval_json_files_and_values_are_said(lab_app, assets):
    """L2, L3, L4, L5, L6, L11 on the page: one warning naming the file; clamped or default values."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    ck = _run(runs, assets, "run1")
    ev = os.path.join(runs, "run1", "eval.json")
    os.mkfifo(ev)
    at = make("planner", ckpt=ck)  # was: the page never rendered
    _clean(at)
    rel = discovery.rel(ev)
    assert f"{rel} is a pipe (FIFO), not a regular file; using the page's default planner settings." in \
        [w.value for w in at.warning]
    assert _vals(at) == ("cem", 300, 30, 10, 5, 1, "last", "mean")
    os.remove(ev)
    _write(ev, "[" * 200000 + "]" * 200000)
    at.run()  # was: a RecursionError box
    _clean(at)
    assert any(w.value.startswith(f"{rel} is nested too deeply") for w in at.warning)
    _write(ev, json.dumps({"planner": {"horizon": 30, "receding_horizon": 25, "solver": "grad", "grad_restarts": 64,
                                       "temperature": 0.5}}))
    os.utime(ev, (2e9, 2e9))
    at.run()
    _clean(at)
    assert _vals(at)[0] == "grad" and at.number_input(key="plan_restarts").value == 64
    assert at.number_input(key="plan_horizon").value == 20 and at.number_input(key="plan_rh").value == 20
    warn = next(w.value for w in at.warning if w.value.startswith(rel))
    assert warn == "  \n".join([
        f"{rel}: planner.horizon 30 is more than this page allows (20): using 20; the evaluation used 30.",
        f"{rel}: planner.receding_horizon 25 is more than this page allows (20): using 20; the evaluation used 25.",
        f"{rel}: The evaluation also set temperature 0.5, which this page does not show: it plans with "
        f"temperature 0.1."])
    shutil.copy(os.path.join(ROOT, "checkpoints", "reacher", "eval.json"), ev)  # L11
    os.utime(ev, (3e9, 3e9))
    at.run()
    _clean(at)
    assert any(w.value.startswith(f"{rel} is the evaluation of a 'reacher_no_target' agent") for w in at.warning)
    assert _vals(at) == ("cem", 300, 30, 10, 5, 1, "last", "mean")


def test_blocks_per_plan_follow_a_lowered_horizon(lab_app, assets):
    """L16: re-plan 9 with horizon 10, then horizon 2: re-plan was reset to 1 without a word."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=_run(runs, assets, "run1"))
    at.number_input(key="plan_horizon").set_value(10).run()
    at.number_input(key="plan_rh").set_value(9).run()
    assert at.number_input(key="plan_rh").value == 9
    at.number_input(key="plan_horizon").set_value(2).run()
    _clean(at)
    assert at.number_input(key="plan_rh").value == 2
    assert "Blocks executed per plan 9 is more than the Horizon 2: using 2." in [i.value for i in at.info]
    at.run()
    assert at.number_input(key="plan_rh").value == 2 and not any("Blocks executed" in i.value for i in at.info)
