"""The lab pages under streamlit.testing.v1.AppTest: every page renders without exception, key
widgets exist, bad inputs give st.error, and a tiny training run started from the Train page finishes."""
from __future__ import annotations

import glob
import os
import time
import warnings

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from _lab_assets import make_lab_assets  # noqa: E402

APP = os.path.join(os.path.dirname(__file__), "..", "app", "lab.py")
TIMEOUT = 90


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab")))


@pytest.fixture
def lab(assets, tmp_path, monkeypatch):
    """An AppTest factory with the tiny checkpoint and datasets given through LEWM_LAB_* variables."""
    import streamlit as st
    import torch
    threads = torch.get_num_threads()  # the app lowers it for the server process; restore after
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LEWM_LAB_CHECKPOINT", assets["ckpt"])
    monkeypatch.setenv("LEWM_LAB_DATA", os.pathsep.join([assets["tr"], assets["syn"]]))
    st.cache_resource.clear()  # a fresh job manager / settings per test
    st.cache_data.clear()
    apps = []

    def make(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        apps.append(at)
        return at

    yield make
    st.cache_resource.clear()  # on_release stops any job left running
    torch.set_num_threads(threads)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def keys(at: AppTest) -> set[str]:
    out = set()
    for kind in ("selectbox", "button", "slider", "number_input", "radio", "select_slider", "text_input"):
        out |= {w.key for w in getattr(at, kind) if w.key}
    return out


def test_welcome(lab):
    at = lab()
    no_exception(at)
    assert "sb_checkpoint" in keys(at) and "welcome_kind" in keys(at)
    assert any('"type":"bar"' in c.proto.spec.replace(" ", "") for c in at.get("plotly_chart"))
    at.radio(key="welcome_kind").set_value("collapsed").run()
    no_exception(at)
    assert float(at.metric[0].value) > 10  # SIGReg is large for a collapsed cloud


def test_data_page(lab):
    at = lab("app_pages/data.py")
    no_exception(at)
    assert {"data_env", "data_episodes", "data_browse", "data_episode"} <= keys(at)
    # the episode is one figure scrubbed in the browser: a slider step per frame
    import json
    (fig,) = [f for f in (json.loads(c.proto.spec) for c in at.get("plotly_chart")) if f["layout"].get("sliders")]
    steps = fig["layout"]["sliders"][0]["steps"]
    assert len(steps) > 10 and steps[10]["args"][1] == {"title.text": f"Frame 10/{len(steps) - 1}"}
    at.number_input(key="data_episode").set_value(1).run()
    no_exception(at)


def test_collect_from_data_page(lab, tmp_path):
    at = lab("app_pages/data.py")
    at.selectbox(key="data_env").set_value("two_room")
    at.number_input(key="data_episodes").set_value(3)
    at.selectbox(key="data_image_size").set_value(32)
    at.text_input(key="data_fname").set_value("mini")
    at.button[[b.key for b in at.button].index("FormSubmitter:collect_form-Collect")].click().run()
    no_exception(at)
    t0 = time.time()
    while time.time() - t0 < 60 and not at.success:
        time.sleep(1.0)
        at.run()
    no_exception(at)
    assert at.success and "Collected 3 episodes" in at.success[0].value
    assert os.path.exists(tmp_path / "runs" / "data" / "mini.h5")


def test_train_page_runs_tiny_training(lab, assets, tmp_path):
    at = lab("app_pages/train.py")
    no_exception(at)
    assert {"train_data", "train_preset", "train_steps", "train_lambda"} <= keys(at)
    at.selectbox(key="train_data").set_value(assets["syn"])
    at.run()
    at.selectbox(key="train_preset").set_value("cpu-tiny")
    at.number_input(key="train_steps").set_value(25)
    at.button[[b.key for b in at.button].index("FormSubmitter:train_form-Start training")].click().run()
    no_exception(at)
    t0 = time.time()
    while time.time() - t0 < 90 and not at.success:  # run_every does not fire in AppTest: poll
        time.sleep(1.0)
        at.run()
    no_exception(at)
    assert at.success, [e.value for e in at.error]
    assert "finished at step 25" in at.success[0].value
    assert any("model health:" in m.value for m in at.markdown)  # the run's health badge (issue 20)
    ckpts = glob.glob(str(tmp_path / "runs" / "*" / "last.pt"))
    assert len(ckpts) == 1
    assert "train_pause" not in keys(at)
    at2 = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a second tab: the run is a selectable checkpoint
    at2.run()
    assert any("(run)" in o for o in at2.selectbox(key="sb_checkpoint").options)


def test_train_page_rejects_image_size_mismatch(lab, assets):
    at = lab("app_pages/train.py")
    at.selectbox(key="train_data").set_value(assets["tr"]).run()
    at.selectbox(key="train_preset").set_value("cpu-small")  # 64 px preset on 32 px data
    at.button[[b.key for b in at.button].index("FormSubmitter:train_form-Start training")].click().run()
    no_exception(at)
    assert any("32 px" in e.value and "64 px" in e.value for e in at.error)


def test_collapse_page_runs_both(lab, assets):
    at = lab("app_pages/collapse.py")
    no_exception(at)
    assert {"collapse_data", "collapse_preset", "collapse_steps", "collapse_lambda", "collapse_start"} <= keys(at)
    at.selectbox(key="collapse_data").set_value(assets["syn"]).run()
    at.number_input(key="collapse_steps").set_value(20)
    at.number_input(key="collapse_batch").set_value(16)
    at.button(key="collapse_start").click().run()
    no_exception(at)
    def finished(at):
        return sum("finished" in p.proto.text for p in at.get("progress"))

    t0 = time.time()
    while time.time() - t0 < 90 and finished(at) < 2:  # run_every does not fire in AppTest: poll
        time.sleep(1.0)
        at.run()
    no_exception(at)
    assert finished(at) == 2
    assert (any("COLLAPSED" in e.value for e in at.error) or any("spread out" in x.value for x in at.success)
            or any("shrinking" in w.value for w in at.warning))  # round 21 (M7): lambda=0 shrinking toward a point
    labels = [m.label for m in at.metric]
    assert labels.count("latent std") == 2


def test_latent_page(lab):
    at = lab("app_pages/latent.py")
    no_exception(at)
    assert {"latent_data", "latent_method", "latent_color", "latent_probe"} <= keys(at)
    spec = at.get("plotly_chart")[0].proto.spec
    assert "scattergl" in spec
    at.selectbox(key="latent_color").set_value("agent_y").run()
    no_exception(at)
    assert len(at.dataframe) >= 2  # the selected frame's state and the probe table


def test_latent_page_grid_warp(lab):
    at = lab("app_pages/latent.py")
    at.select_slider(key="latent_grid_n").set_value(12)
    at.button(key="latent_grid_go").click().run()
    no_exception(at)
    vals = {m.label: m.value for m in at.metric}
    assert 0.0 <= float(vals["affine readout r (agent_x, whole grid)"]) <= 1.0
    assert vals["left room vs right room: readout angle (agent_y)"].endswith("°")
    assert any(c.proto.spec.count('"type":"scatter"') >= 48 for c in at.get("plotly_chart"))  # 2 × (12 rows + 12 cols)


def test_latent_page_rejects_other_env_dataset(lab, assets):
    at = lab("app_pages/latent.py")
    at.selectbox(key="latent_data").set_value(assets["syn"]).run()
    no_exception(at)
    assert any("synthetic_dot" in e.value and "two_room" in e.value for e in at.error)


def test_dynamics_page(lab):
    at = lab("app_pages/dynamics.py")
    no_exception(at)
    assert {"dyn_data", "dyn_episode", "dyn_horizon", "dyn_colour"} <= keys(at)
    assert len(at.get("plotly_chart")) >= 2  # the imagination scrubber, the surprise scrubber
    # the imagination of every start frame is one figure whose own slider steps through them in the browser
    import json
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    fig, sur = [f for f in specs if f["layout"].get("sliders")]
    labels = [st["label"] for st in fig["layout"]["sliders"][0]["steps"]]
    assert labels[0] == "0" and len(labels) >= 2 and all(int(b) > int(a) for a, b in zip(labels, labels[1:]))
    assert fig["layout"]["title"]["text"] == f"Start frame 0/{labels[-1]}"
    # the surprise of every perturbation frame, moved by the figure's own slider
    frames = [int(st["label"]) for st in sur["layout"]["sliders"][0]["steps"]]
    assert len(frames) >= 2 and all(b > a for a, b in zip(frames, frames[1:]))
    assert sur["layout"]["title"]["text"].startswith(f"Perturbation at frame {frames[len(frames) // 2]}/{frames[-1]}: teleport ×")


def test_planner_page_plans_step_by_step(lab):
    at = lab("app_pages/planner.py")
    no_exception(at)
    assert {"plan_source", "plan_solver", "plan_go", "plan_run"} <= keys(at)
    at.number_input(key="plan_samples").set_value(40)
    at.number_input(key="plan_topk").set_value(5)
    at.number_input(key="plan_iters").set_value(3)
    at.button(key="plan_go").click().run()
    no_exception(at)
    # the step-through is one figure whose own slider steps through the 3 iterations in the browser
    import json
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (fig,) = [f for f in specs if f["layout"].get("sliders")]
    steps = fig["layout"]["sliders"][0]["steps"]
    assert [st["label"] for st in steps] == ["1", "2", "3"]
    assert fig["layout"]["title"]["text"].startswith("Iteration 3/3")
    assert all(st["args"][1]["title.text"].startswith(f"Iteration {st['label']}/3") for st in steps)
    # the episode runs on the fast path by default (auto: bf16 rollouts on a bf16 CPU or a GPU, lewm/precision.py)
    assert at.selectbox(key="plan_precision").value == "auto"
    at.number_input(key="plan_budget").set_value(10).run()
    at.button(key="plan_run").click().run()
    no_exception(at)
    labels = [m.label for m in at.metric]
    assert "success" in labels and "median plan time" in labels
    at.select_slider(key="plan_land_n").set_value(16)
    at.button(key="plan_land_go").click().run()
    no_exception(at)
    vals = {m.label: m.value for m in at.metric}
    rho = float(vals["Rank correlation with the true distance"])
    assert -1.0 <= rho <= 1.0 and vals["Greedy step goes the right way"].endswith("%")
    for src in ("From the dataset", "Click on the canvas", "Coordinates"):
        at.radio(key="plan_source").set_value(src).run()
        no_exception(at)


def test_bad_checkpoint_shows_error(lab, assets, monkeypatch):
    monkeypatch.setenv("LEWM_LAB_CHECKPOINT", assets["bad"])
    at = lab("app_pages/latent.py")
    no_exception(at)
    assert at.error and "not a" in at.error[0].value and "bad.pt" in at.error[0].value


def test_planner_page_starts_from_the_checkpoints_own_planner(lab, monkeypatch):
    """The Planner page's settings start as the checkpoint's eval.json planner: the shipped Reacher agent plans 8
    blocks ahead on the closest block's cost (+ 0.1 x the mean) and executes the best candidate; a default of
    horizon 5 and the last block's cost was not the agent (docs/reacher_findings.md §13)."""
    ckpt = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "reacher", "model.pt")
    monkeypatch.setenv("LEWM_LAB_CHECKPOINT", ckpt)
    at = lab("app_pages/planner.py")
    no_exception(at)
    assert at.number_input(key="plan_horizon").value == 8
    assert at.number_input(key="plan_samples").value == 300 and at.number_input(key="plan_iters").value == 10
    assert at.selectbox(key="plan_cost_steps").value == "min"
    assert at.number_input(key="plan_cost_mean_weight").value == 0.1
    assert at.radio(key="plan_from").value == "best"
    assert at.number_input(key="plan_rh").value == 1


def test_planner_page_plays_a_reacher_episode_to_its_goal(lab, monkeypatch, tmp_path):
    """Issue 17, point 4: the shipped Reacher agent, on the Planner page with its own planner (the defaults), reaches
    the goal of the first evaluation pair (the paper's protocol: the state 25 steps later on an expert trajectory)."""
    from lewm.collect import collect
    ckpt = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "reacher", "model.pt")
    data = str(tmp_path / "reacher_ref.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect("reacher_no_target", 2, data, image_size=64, seed=5, progress=False)
    monkeypatch.setenv("LEWM_LAB_CHECKPOINT", ckpt)
    monkeypatch.setenv("LEWM_LAB_DATA", data)
    at = lab("app_pages/planner.py")
    no_exception(at)
    assert at.radio(key="plan_source").value == "Evaluation pair"
    at.button(key="plan_run").click().run()
    no_exception(at)
    vals = {m.label: m.value for m in at.metric}
    assert vals["success"] == "yes", vals
