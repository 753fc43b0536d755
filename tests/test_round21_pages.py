"""Round 21, the pages (fixer FD): the collect file name said when changed or refused (M1), every page's settings
kept across a visit to another page while the Planner still resets its own on a new checkpoint (M2), a finished
run that diverged or collapsed said in a warning, not a green "Run finished" (M6), a latent std far below 1
flagged as "shrinking" (M7)."""
from __future__ import annotations

import json
import os
import shutil
import sys
import warnings

import pytest

pytest.importorskip("streamlit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))

import discovery  # noqa: E402
import file_names  # noqa: E402
import health  # noqa: E402
import widget_memory  # noqa: E402
from _lab_assets import make_lab_assets  # noqa: E402


# ------------------------------------------------------------------ M1
@pytest.mark.parametrize("typed, name, note", [
    ("   ", "two_room-32px-2ep.h5", None),  # was run.h5: the placeholder's name
    ("", "two_room-32px-2ep.h5", None),
    ("tr32.h5", "tr32.h5", None),
    ("  tr32  ", "tr32.h5", None),
    ("../escape", "escape.h5", "File name '../escape' is saved as escape.h5 (file names keep only ASCII letters, "
                               "digits, '.', - and _)."),
    ("é漢字.h5", None, "File name 'é漢字.h5' has no ASCII letter or digit to keep (file names keep only ASCII "
                     "letters, digits, '.', - and _): type another name, or leave it empty for two_room-32px-2ep.h5."),
])
def test_collect_name(typed, name, note):
    assert file_names.collect_name(typed, "two_room-32px-2ep") == (name, note)


# ------------------------------------------------------------------ M7
def test_a_shrunk_latent_is_flagged():
    h = health.verdict(0.082, 4.4, 16)  # the λ = 0 run of round 21: lewm's verdict says "healthy"
    assert h.status == health.SHRINKING and "latent std 0.082, 12x below the target 1" in h.why
    assert health.verdict(0.77, 12.0, 16).status == "healthy"
    assert health.verdict(0.77, 3.3, 16).status == "dimensional collapse"
    assert health.verdict(0.01, 10.0, 16).status == "collapsed"


# ------------------------------------------------------------------ M6
def test_run_problems():
    view = {"mean_std": 0.9, "effective_rank": 1.2, "latent_dim": 64}
    p = health.run_problems({"loss": 2.3, "pred_loss": 2.1, "sigreg": 0.2}, {"val_pred_loss": 1031.4175}, view)
    assert p[0] == "it diverged: validation prediction loss 1031 is 491x the last training prediction loss 2.1"
    assert p[1] == "its latents collapsed to a line (shape): effective rank 1.20 of 64, std 0.90"
    dim = {"mean_std": 0.9, "effective_rank": 1.9, "latent_dim": 64}  # dimensional collapse: the badge says it
    assert health.run_problems({"loss": 0.5, "pred_loss": 0.1}, {"val_pred_loss": 0.3}, dim) == []
    p = health.run_problems({"loss": float("nan"), "pred_loss": float("inf")}, {"val_pred_loss": float("nan")}, None)
    assert p == ["the last logged losses are not finite (loss nan, pred_loss inf)", "its validation prediction loss is nan"]
    ok = {"mean_std": 0.9, "effective_rank": 40.0, "latent_dim": 64}
    assert health.run_problems({"loss": 0.5, "pred_loss": 0.1}, {"val_pred_loss": 0.3}, ok) == []


# ------------------------------------------------------------------ M2
def test_widget_memory_restores_only_on_coming_back():
    m = widget_memory.new_memory()
    assert widget_memory.remember(m, {}, [], "dynamics") == {}
    assert widget_memory.remember(m, {"dyn_horizon": 3}, ["dyn_horizon"], "welcome") == {}  # drawn on dynamics
    assert widget_memory.remember(m, {}, [], "dynamics") == {"dyn_horizon": 3}
    widget_memory.remember(m, {"dyn_horizon": 3}, ["dyn_horizon"], "dynamics")
    assert widget_memory.remember(m, {}, [], "dynamics") == {}  # deleted by the page itself: not put back
    assert widget_memory.is_kept("int_value", 3) and not widget_memory.is_kept("trigger_value", True)
    assert not widget_memory.is_kept("string_value", {"selection": {}})


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab21")))


def _run(runs, assets, name, planner):
    d = os.path.join(runs, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(assets["ckpt"], os.path.join(d, "last.pt"))
    with open(os.path.join(d, "eval.json"), "w") as f:
        json.dump({"planner": planner}, f)
    return os.path.join(d, "last.pt")


def _away_and_back(at, page):
    at.switch_page("app_pages/welcome.py").run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]


def test_settings_survive_a_visit_to_another_page(lab_app, assets):
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    r1 = _run(runs, assets, "run1", {"horizon": 8, "num_samples": 500, "topk": 40, "iterations": 12})
    r2 = _run(runs, assets, "run2", {"horizon": 3, "iterations": 4})
    at = make("dynamics", ckpt=r1)
    at.slider(key="dyn_horizon").set_value(3).run()
    at.radio(key="dyn_colour").set_value("gray").run()
    _away_and_back(at, "dynamics")
    assert (at.slider(key="dyn_horizon").value, at.radio(key="dyn_colour").value) == (3, "gray")  # was 10 / hue
    at.switch_page("app_pages/latent.py").run()
    at.selectbox(key="latent_color").set_value("episode").run()
    _away_and_back(at, "latent")
    assert at.selectbox(key="latent_color").value == "episode"  # was agent_x
    at.switch_page("app_pages/planner.py").run()
    at.number_input(key="plan_horizon").set_value(10).run()
    at.radio(key="plan_source").set_value("From the dataset").run()
    at.number_input(key="plan_ep").set_value(5).run()
    _away_and_back(at, "planner")
    assert at.number_input(key="plan_horizon").value == 10 and at.number_input(key="plan_iters").value == 12
    assert (at.radio(key="plan_source").value, at.number_input(key="plan_ep").value) == ("From the dataset", 5)
    assert not any("reset" in i.value for i in at.info)
    at.switch_page("app_pages/welcome.py").run()
    at.selectbox(key="sb_checkpoint").set_value("run2 (run)").run()
    at.switch_page("app_pages/planner.py").run()  # a new checkpoint: the Planner's own reset still wins
    assert at.number_input(key="plan_horizon").value == 3 and at.number_input(key="plan_iters").value == 4
    assert f"Planner settings reset to {discovery.rel(r2)}'s eval.json." in [i.value for i in at.info]
