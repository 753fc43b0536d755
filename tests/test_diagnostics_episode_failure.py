"""Why an MPC episode failed (issue 20 point 6): the pure reading on constructed paths, and the
Planner page's explanation of a real failed episode."""
import json
import sys

import numpy as np
import pytest

from lewm.diagnostics.episode_failure import (FALSE_MINIMUM, OUT_OF_BUDGET, STUCK, explain_failure,
                                              path_goal_cost)

L = 50
t = np.arange(L, dtype=np.float64)


def test_still_approaching_is_out_of_budget():
    d = 100.0 - 1.5 * t  # falls steadily to 26.5, success below 10
    f = explain_failure(1.0 + 0.02 * d ** 2, d, 10.0)
    assert f.kind == OUT_OF_BUDGET and f.stuck_step == L - 1 and f.best_step == L - 1
    assert "larger budget" in f.why and "success below 10" in f.why


def test_settled_where_the_model_thinks_it_arrived_is_a_false_minimum():
    d = np.maximum(100.0 - 4 * t, 40.0)  # reaches 40 at step 15, stays (success below 10)
    c = np.maximum(50.0 - 4 * t, 2.0)  # the model's cost is down to 4% of the start there
    f = explain_failure(c, d, 10.0)
    assert f.kind == FALSE_MINIMUM and f.stuck_step in (14, 15)  # within the 10% band of its final distance
    assert "stays 40.1 from the goal" in f.why and "false minimum" in f.why and "4%" in f.why


def test_settled_with_a_high_cost_is_stuck_and_plans_say_which():
    d = np.maximum(100.0 - 4 * t, 60.0)  # stops at step 10
    c = np.maximum(50.0 - 2 * t, 30.0)  # cost stays at 60% of the start
    wall = explain_failure(c, d, 10.0, plan_costs=np.full(10, 29.0))
    assert wall.kind == STUCK and wall.stuck_step in (9, 10) and "local minimum" in wall.why
    wrong = explain_failure(c, d, 10.0, plan_costs=np.r_[np.full(5, 20.0), np.full(5, 3.0)])
    assert wrong.kind == STUCK and "never did" in wrong.why and "predictions are wrong" in wrong.why
    assert "60%" in explain_failure(c, d, 10.0).why


def test_bad_inputs():
    with pytest.raises(ValueError):
        explain_failure([1.0], [1.0], 1.0)
    with pytest.raises(ValueError):
        explain_failure([1.0, 2.0], [1.0, 2.0, 3.0], 1.0)
    f = explain_failure(np.ones(5), np.full(5, 50.0), 10.0)  # never moved
    assert f.kind == STUCK and f.stuck_step == 0


def test_path_goal_cost_is_the_planners_cost():
    import torch

    class Enc(torch.nn.Module):  # z = mean colour of the frame
        cfg = type("C", (), {"latent_dim": 3})

        def encode(self, x):  # (1, T, 3, S, S) uint8 -> (1, T, 3)
            return x.float().mean((-1, -2)) / 255.0

    frames = np.zeros((3, 4, 4, 3), np.uint8)
    frames[1] = 255
    goal = np.full((4, 4, 3), 255, np.uint8)
    c = path_goal_cost(Enc(), frames, goal)
    assert np.allclose(c, [3.0, 0.0, 3.0])


def test_planner_page_explains_a_failed_episode(tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    import os
    import streamlit as st
    import torch
    from streamlit.testing.v1 import AppTest
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    threads = torch.get_num_threads()
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    for v in ("LEWM_LAB_CHECKPOINT", "LEWM_LAB_DATA"):
        monkeypatch.delenv(v, raising=False)
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(os.path.join(root, "app", "lab.py"), default_timeout=120)
        at.query_params["ckpt"] = "checkpoints/two_room/model.pt"
        at.run()
        at.switch_page("app_pages/planner.py").run()
        at.number_input(key="plan_samples").set_value(30)
        at.number_input(key="plan_iters").set_value(2)
        at.number_input(key="plan_budget").set_value(5)  # 5 env steps: too few to reach the goal
        at.button(key="plan_run").click().run()
        assert not at.exception, [e.value for e in at.exception]
        vals = {m.label: m.value for m in at.metric}
        assert vals["success"] == "no"
        why = [w.value for w in at.warning if w.value.startswith("**Why it failed")]
        assert len(why) == 1 and any(k in why[0] for k in (OUT_OF_BUDGET, STUCK, FALSE_MINIMUM))
        names = [tr.get("name", "") for c in at.get("plotly_chart") for tr in json.loads(c.proto.spec)["data"]]
        assert any(n.startswith("goal cost") for n in names) and "true distance to the goal" in names
        print(why[0])
    finally:
        st.cache_resource.clear()
        torch.set_num_threads(threads)
