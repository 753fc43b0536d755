"""Round 20 (hostile test of the lab), fixer FB: a plan / landscape that stops with its page run (L15), start and
goal across a change of env (L12), episode results of earlier settings (L9), a dataset that shrank under the
chosen episode (L8), a checkpoint gone before "Use this checkpoint" (L10), an empty metrics.jsonl (L14)."""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import warnings

import pytest

pytest.importorskip("streamlit")

from _lab_assets import make_lab_assets, seconds_until_threads_end  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app"))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab20")))


def _planner(lab_app, assets, **inputs):
    """The Planner on a tiny run; ``inputs``: number inputs (by key) set, then one rerun."""
    make, runs, _ = lab_app
    d = os.path.join(runs, "run1")
    os.makedirs(d, exist_ok=True)
    shutil.copy(assets["ckpt"], os.path.join(d, "last.pt"))
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=os.path.join(d, "last.pt"))
    if inputs:
        for key, value in inputs.items():
            at.number_input(key=key).set_value(value)
        at.run()
    return at, runs


def _clean(at):
    assert not at.exception, [e.value for e in at.exception]


def _texts(els):
    return [e.value for e in els]


# ------------------------------------------------------------------ L15
def test_stoppable_cost_and_run_with_progress_end_the_thread_when_the_run_is_interrupted():
    import cache
    import plan_runs
    stop = threading.Event()
    c = plan_runs.StoppableCost(lambda a: a * 2, stop)
    assert c(3) == 6 and c.calls == 1
    stop.set()
    with pytest.raises(plan_runs.Stopped):
        c(3)
    stop, stopped = threading.Event(), []

    def fn():  # a long computation that checks its stop event between iterations
        for _ in range(600):
            if stop.is_set():
                raise plan_runs.Stopped("x")
            time.sleep(0.05)

    def interrupt():  # what Streamlit does in the progress loop when the script run is stopped
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        cache.run_with_progress(fn, "t", 30.0, phase=interrupt, stop=stop, on_stop=lambda: stopped.append(1))
    assert stop.is_set() and stopped == [1]
    t0 = time.time()
    while any(t.name == "lab-progress" for t in threading.enumerate()) and time.time() - t0 < 5:
        time.sleep(0.05)
    assert not any(t.name == "lab-progress" for t in threading.enumerate())


def test_a_plan_stops_with_its_page_run(lab_app, assets):
    at, _ = _planner(lab_app, assets, plan_samples=5000, plan_iters=100, plan_horizon=20)
    at.button(key="plan_go").click()
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=4)  # AppTest stops the script run, as leaving the page or pressing Stop does
    took = seconds_until_threads_end("lab-progress", 30)
    print(f"plan thread ended {took:.1f} s after the run was stopped")
    assert took < 30, "the plan thread kept running"


# ------------------------------------------------------------------ L12
def test_start_and_goal_reset_when_the_env_changes(lab_app, assets):
    import cache
    at, _ = _planner(lab_app, assets)
    at.radio(key="plan_source").set_value("Coordinates").run()
    _clean(at)
    at.session_state["plan_env"] = "reacher"  # as left by a Reacher checkpoint (4 joint numbers)
    at.session_state["plan_start"] = [0.5, -1.0, 0.0, 0.0]
    at.session_state["plan_goal"] = [1.0, 1.0, 0.0, 0.0]
    at.run()
    _clean(at)
    infos = _texts(at.info)
    assert any("environment changed (reacher → two_room): start and goal reset to evaluation pair 0 of two_room"
               in i for i in infos), infos
    s0, g0 = cache.eval_pairs("two_room", 20, 0)[0]
    assert at.session_state["plan_start"] == pytest.approx(list(map(float, s0)))
    assert at.session_state["plan_goal"] == pytest.approx(list(map(float, g0)))
    assert not any("outside the rooms" in w for w in _texts(at.warning)), _texts(at.warning)


# ------------------------------------------------------------------ L9
def test_episode_results_of_earlier_settings_are_captioned(lab_app, assets):
    at, _ = _planner(lab_app, assets, plan_samples=10, plan_iters=1, plan_budget=5)
    at.button(key="plan_run").click().run()
    _clean(at)
    assert any(m.label == "success" for m in at.metric)
    assert not any("earlier settings" in i for i in _texts(at.info))
    at.number_input(key="plan_budget").set_value(6).run()
    _clean(at)
    assert any("These results are from earlier settings: budget 5 (now 6)" in i for i in _texts(at.info)), \
        _texts(at.info)


# ------------------------------------------------------------------ L8
def _pick_script():
    import streamlit as st
    import widgets
    n = st.session_state.get("n_eps", 12)
    ep, _ = widgets.pick_episode(st, st.session_state["path"], {"num_episodes": n}, "t_ep")
    st.session_state["shown"] = ep


def test_a_dataset_that_shrank_under_the_chosen_episode_is_said(assets):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_pick_script, default_timeout=60)
    at.session_state["path"] = assets["syn"]
    at.run()
    at.number_input(key="t_ep").set_value(11).run()
    _clean(at)
    at.session_state["n_eps"] = 2
    at.run()
    _clean(at)
    assert any("syn32.h5 changed on disk (now 2 episodes): episode 11 no longer exists; showing episode 1" in i
               for i in _texts(at.info)), _texts(at.info)
    assert at.session_state["shown"] == 1


# ------------------------------------------------------------------ L10, L14
def _select_script():
    import pickers
    pickers.select_checkpoint("/nonexistent/gone/last.pt")


def test_use_a_deleted_checkpoint_says_so(assets):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_select_script, default_timeout=60).run()
    _clean(at)
    assert any("gone/last.pt` no longer exists (deleted or moved)" in w for w in _texts(at.warning)), _texts(at.warning)


def test_an_empty_metrics_log_is_said(lab_app, assets):
    make, runs, _ = lab_app
    os.makedirs(os.path.join(runs, "zempty"))
    open(os.path.join(runs, "zempty", "metrics.jsonl"), "w").close()
    at = make("train", ckpt=assets["ckpt"])
    _clean(at)
    assert any("zempty/metrics.jsonl is empty: the run has not logged a step yet (or died before it)." in i
               for i in _texts(at.info)), _texts(at.info)


def test_the_landscape_stops_while_it_encodes_its_grid_and_only_its_own_thread(monkeypatch, assets):
    """Round 21's M5 leftover: a Stop during the grid's encoding waited for the whole grid; the encoder now
    checks the stop between batches, in the landscape's own worker thread only (the model is shared)."""
    import cache
    import lewm.diagnostics as D
    import plan_runs
    seen = {}

    def fake_landscape(model, env, goal, n, batch):  # stands for the encoding loop: one batch at a time
        seen["batch"] = batch
        other = {}
        t = threading.Thread(target=lambda: other.setdefault("z", model.encode(x)))  # another session's call
        x = __import__("torch").zeros(1, 1, 3, model.cfg.image_size, model.cfg.image_size)
        t.start()
        t.join()
        seen["other_ran"] = "z" in other
        return model.encode(x)

    def fake_once(key, fn, text, est_s, stop, on_stop, stop_key):
        stop.set()
        box = {}
        th = threading.Thread(target=lambda: box.update(r=_try(fn)))
        th.start()
        th.join(60)
        return box["r"]

    def _try(fn):
        try:
            return fn()
        except plan_runs.Stopped as e:
            return e
    monkeypatch.setattr(D, "goal_cost_landscape", fake_landscape)
    monkeypatch.setattr(cache, "_computed_once", fake_once)
    out = cache.goal_landscape(assets["ckpt"], 0.0, (1.0, 2.0), 8)
    assert isinstance(out, plan_runs.Stopped) and "encoding" in str(out)
    assert seen == {"batch": 64, "other_ran": True}
    model, _, _ = cache.load_checkpoint(assets["ckpt"])
    assert not model.encoder._forward_pre_hooks  # removed after the work
