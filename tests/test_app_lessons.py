"""Issue 20 points 4 and 5 in the lab: the recorded collapse lesson (instant, scale vs shape), the
health badge on every page that uses a model, and surprise captions that match their numbers."""
from __future__ import annotations

import json
import os
import re
import sys
import time

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "app"))
import collapse_replay  # noqa: E402
from captions import surprise_caption  # noqa: E402

APP = os.path.join(ROOT, "app", "lab.py")


def test_recording_is_small_and_shows_collapse_by_scale():
    assert os.path.getsize(collapse_replay.RECORDING) < 300_000
    rec = collapse_replay.load_recording()
    on, off = rec.runs
    assert on.lam > 0 and off.lam == 0 and rec.meta["made_by"] == "scripts/record_collapse.py"
    assert on.snap.dtype == np.float16 and on.snap.shape[0] == len(rec.snap_steps) >= 5
    # scale: the λ = 0 cloud shrinks by orders of magnitude, the regularised one stays near std 1
    assert off.mean_std[-1] < 0.01 < 0.5 < on.mean_std[-1]
    assert off.spectrum[-1, 0] < 1e-3 < 0.3 < on.spectrum[-1, 0]  # the spectrum's absolute level
    assert off.pred_loss[-1] < 0.01 * on.pred_loss[-1]  # λ = 0 'wins' the prediction loss
    from lewm.diagnostics.health import latent_health
    assert latent_health(off.snap[-1].astype(np.float32)).status == "collapsed"
    assert latent_health(on.snap[-1].astype(np.float32)).status == "healthy"
    assert rec.snap_steps == sorted(rec.snap_steps) and on.at(rec.snap_steps[-1]) == len(on.view_step) - 1


def test_surprise_caption_follows_the_numbers():
    assert "×1184.0" in surprise_caption(1184.0, 788.0) and "both spike" in surprise_caption(1184.0, 788.0)
    assert "only by ×2.0" in surprise_caption(50.0, 2.0)
    assert "colour change (hue) surprises the model more" in surprise_caption(3.0, 40.0)
    assert "Neither" in surprise_caption(1.2, 1.1)
    assert "no teleport" in surprise_caption(None, 5.0)
    assert "much less" not in surprise_caption(1184.0, 788.0)  # the contradiction


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    import streamlit as st
    import torch
    from streamlit.testing.v1 import AppTest
    threads = torch.get_num_threads()
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    for v in ("LEWM_LAB_CHECKPOINT", "LEWM_LAB_DATA"):
        monkeypatch.delenv(v, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()

    def make(page: str, ckpt: str = "two_room") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["ckpt"] = f"checkpoints/{ckpt}/model.pt"
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield make
    st.cache_resource.clear()
    torch.set_num_threads(threads)


def test_collapse_page_replays_the_recording_instantly(fresh):
    t0 = time.perf_counter()
    at = fresh("collapse")
    assert time.perf_counter() - t0 < 30
    vals = [m.value for m in at.metric if m.label == "latent std (scale)"]
    assert len(vals) == 2 and float(vals[0]) > 0.5 and float(vals[1]) < 0.01
    badges = [m.value for m in at.markdown if "model health:" in m.value]
    assert len(badges) == 2 and "**healthy**" in badges[0] and "**collapsed**" in badges[1] and "(scale)" in badges[1]
    assert not at.error  # a lesson, not a fault
    titles = " ".join(json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart"))
    for t in ("SCALE · latent std", "SCALE · covariance spectrum", "SHAPE · effective rank"):
        assert t in titles
    assert "Run it live yourself" in [h.value for h in at.subheader]
    t0 = time.perf_counter()
    at.select_slider(key="collapse_rec_step").set_value(1).run()  # the first step: both runs still alike
    assert not at.exception and time.perf_counter() - t0 < 5
    vals = [m.value for m in at.metric if m.label == "latent std (scale)"]
    assert vals[0] == vals[1]


@pytest.mark.parametrize("page", ["latent", "dynamics", "planner"])
def test_health_badge_where_a_model_is_used(fresh, page):
    at = fresh(page)
    badges = [m.value for m in at.markdown if "model health:" in m.value]
    assert len(badges) == 1 and "**healthy**" in badges[0] and "of 2" in badges[0], badges  # Two-Room: D = 2


def test_dynamics_surprise_caption_matches_its_metrics(fresh):
    at = fresh("dynamics")
    for mode in ("hue", "invert", "gray"):
        at.radio(key="dyn_colour").set_value(mode).run()
        assert not at.exception
        vals = {m.label: float(m.value.lstrip("×")) for m in at.metric if m.label.startswith("surprise ")}
        (tel,) = [v for k, v in vals.items() if k.startswith("surprise teleport / clean, median of")]
        (col,) = [v for k, v in vals.items() if k.startswith(f"surprise colour ({mode}) / clean, median of")]
        cap = [c.value for c in at.caption if "surprise" in c.value and "×" in c.value]
        assert cap == [surprise_caption(tel, col, mode)], (cap, tel, col)
        assert f"×{tel:.1f}" in cap[0] and f"×{col:.1f}" in cap[0]


@pytest.mark.parametrize("kind,status", [("gaussian", "healthy"), ("collapsed", "collapsed"), ("line", "collapsed")])
def test_welcome_cloud_verdict_matches_its_picture(fresh, kind, status):
    """The issue's contradiction: the 'collapsed to a point' cloud reads effective rank ~16/16; the
    verdict beside it must say collapsed, by scale."""
    at = fresh("welcome")
    at.radio(key="welcome_kind").set_value(kind).run()
    assert not at.exception
    badge = [m.value for m in at.markdown if "model health:" in m.value]
    assert len(badge) == 1 and f"**{status}**" in badge[0], badge
    if kind == "collapsed":
        assert "(scale)" in badge[0]


def test_damaged_recording_is_a_warning(tmp_path):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest
    bad = tmp_path / "rec.npz"
    bad.write_bytes(open(collapse_replay.RECORDING, "rb").read()[:5000])  # truncated zip

    def script(path):
        import collapse_replay
        collapse_replay.show_recording(path)

    at = AppTest.from_function(script, args=(str(bad),), default_timeout=60)
    at.run()
    assert not at.exception and len(at.warning) == 1 and "record_collapse.py" in at.warning[0].value
