"""Round 21, the Planner (fixer FC): an eval.json rewritten with the same values keeps the user's settings (M3);
the stop notes and the landscape's shown-flag kept in a plain mailbox, since Streamlit 1.67 raises StopException
again at any st.session_state access in an interrupted run (M4, M5; AppTest never interrupts a run: the mailbox
is tested directly and the page's reading of it through AppTest); the plan cost with 3 significant figures (M8)."""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import threading
import time
import warnings

import pytest

pytest.importorskip("streamlit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))

import discovery  # noqa: E402
import plan_runs  # noqa: E402
import planner_defaults as pd  # noqa: E402
from _lab_assets import make_lab_assets  # noqa: E402

PLANNER = {"horizon": 8, "num_samples": 500, "topk": 40, "iterations": 12}


# ------------------------------------------------------------------ M3, pure
def test_settings_origin_is_the_values_not_the_file():
    a = pd.settings_origin("c.pt", {"horizon": 8, "topk": 40})
    assert a == pd.settings_origin("c.pt", {"topk": 40, "horizon": 8})  # key order does not count
    assert a != pd.settings_origin("c.pt", {"horizon": 9, "topk": 40})
    assert a != pd.settings_origin("d.pt", {"horizon": 8, "topk": 40})
    assert pd.settings_origin("c.pt", {"horizon": math.nan}) == pd.settings_origin("c.pt", {"horizon": float("nan")})
    assert pd.settings_origin("c.pt", None) == pd.settings_origin("c.pt", {})
    state = {"plan_horizon": 10}
    assert not pd.reset_if_new_origin(state, pd.settings_origin("c.pt", {"horizon": 8}))
    assert not pd.reset_if_new_origin(state, pd.settings_origin("c.pt", {"horizon": 8}))
    assert state["plan_horizon"] == 10


# ------------------------------------------------------------------ M4 / M5, the mailbox
def test_mailbox_keeps_the_note_and_waits_for_an_unwinding_run():
    mb = plan_runs.StopMailbox()
    mb.settle()  # nothing running: at once
    mb.flags["land_shown"] = True
    mb.begin("landscape")

    def interrupted_run():  # the run Streamlit stopped unwinds after the next run has started (fast reruns)
        time.sleep(0.3)
        mb.end("landscape", "stopped at 3", land_shown=False)
    threading.Thread(target=interrupted_run).start()
    t = time.perf_counter()
    mb.settle(timeout=5)
    assert time.perf_counter() - t >= 0.2
    assert mb.flags["land_shown"] is False and mb.pop_note("landscape") == "stopped at 3"
    assert mb.pop_note("landscape") is None
    mb.begin("plan")  # a run that never ends it: waited for once, then forgotten
    t = time.perf_counter()
    mb.settle(timeout=0.2)
    mb.settle(timeout=5)
    assert time.perf_counter() - t < 2


# ------------------------------------------------------------------ the page
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab21")))


def _run(runs, assets, name, planner=None):
    d = os.path.join(runs, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(assets["ckpt"], os.path.join(d, "last.pt"))
    if planner is not None:
        with open(os.path.join(d, "eval.json"), "w") as f:
            f.write(json.dumps({"env": "two_room", "planner": planner}))
    return os.path.join(d, "last.pt")


def _clean(at):
    assert not at.exception, [e.value for e in at.exception]


def test_an_eval_json_touched_keeps_the_settings(lab_app, assets):
    """M3: os.utime on eval.json (same bytes) said "Planner settings reset to ..." and put Horizon back to 8."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    ck = _run(runs, assets, "run1", PLANNER)
    ev = os.path.join(runs, "run1", "eval.json")
    at = make("planner", ckpt=ck)
    _clean(at)
    assert at.number_input(key="plan_horizon").value == 8
    at.number_input(key="plan_horizon").set_value(10).run()
    os.utime(ev, (2e9, 2e9))
    at.run()
    _clean(at)
    assert at.number_input(key="plan_horizon").value == 10
    assert not any("reset" in i.value for i in at.info)
    with open(ev, "w") as f:  # the same values rewritten in another order and layout: still kept
        f.write(json.dumps({"planner": dict(reversed(list(PLANNER.items()))), "env": "two_room"}, indent=2))
    os.utime(ev, (2.1e9, 2.1e9))
    at.run()
    assert at.number_input(key="plan_horizon").value == 10 and not any("reset" in i.value for i in at.info)
    with open(ev, "w") as f:  # other values: reset, and said
        f.write(json.dumps({"env": "two_room", "planner": {**PLANNER, "horizon": 6}}))
    os.utime(ev, (2.2e9, 2.2e9))
    at.run()
    _clean(at)
    assert at.number_input(key="plan_horizon").value == 6
    assert f"Planner settings reset to {discovery.rel(ck)}'s eval.json." in [i.value for i in at.info]


def test_the_page_reads_stop_notes_and_the_landscape_flag_from_the_mailbox(lab_app, assets):
    """M4 / M5: what an interrupted run left in the mailbox is said once, and a stopped landscape stays stopped."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=_run(runs, assets, "run1"))
    _clean(at)
    mb = at.session_state["plan_mailbox"]
    assert isinstance(mb, plan_runs.StopMailbox)
    why = "Stop pressed, a setting changed or the page was left while it ran"
    mb.end("plan", f"The plan was stopped at iteration 4 of 100 ({why}); press Plan to run it again.")
    mb.end("episode", f"The MPC episode was stopped at env step 7 of 500 ({why}); press Run episode to run it again.")
    mb.end("landscape", f"The goal-cost landscape was stopped ({why}); press Compute the landscape to compute it "
           f"again.", land_shown=False)
    at.run()
    _clean(at)
    infos = [i.value for i in at.info]
    assert f"The plan was stopped at iteration 4 of 100 ({why}); press Plan to run it again." in infos
    assert f"The MPC episode was stopped at env step 7 of 500 ({why}); press Run episode to run it again." in infos
    assert f"The goal-cost landscape was stopped ({why}); press Compute the landscape to compute it again." in infos
    assert not any(m.label == "Rank correlation with the true distance" for m in at.metric)  # not restarted
    at.run()
    assert not any("was stopped" in i.value for i in at.info)  # said once
    at.select_slider(key="plan_land_n").set_value(16)
    at.button(key="plan_land_go").click().run()
    _clean(at)
    assert mb.flags["land_shown"] is True and not mb._running
    assert any(m.label == "Rank correlation with the true distance" for m in at.metric)


def test_the_plan_cost_has_three_significant_figures(lab_app, assets):
    """M8: 'final plan cost' was printed with 3 decimals: Reacher's 0.0028 read 0.000."""
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=_run(runs, assets, "run1", {"num_samples": 20, "topk": 5, "iterations": 2,
                                                          "horizon": 2}))
    at.button(key="plan_go").click().run()
    _clean(at)
    cost = at.session_state["plan_state"]["res"].cost
    shown = [m.value for m in at.metric if m.label == "final plan cost"]
    assert shown == [f"{cost:.3g}"], (shown, cost)
    assert float(shown[0]) == pytest.approx(cost, rel=5e-3)
