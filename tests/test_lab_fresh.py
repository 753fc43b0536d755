"""The lab as a newcomer meets it (issue 20): a fresh clone with the shipped checkpoints and their
reference sets only, no data collected, nothing given on the command line.

Default suite: the best shipped agent opens first and is remembered in the URL; every page of every
shipped checkpoint shows its views without an exception; switching checkpoint switches the dataset;
the collect button works while another dataset exists. ``-m slow``: every selector and every button
that does not launch minutes of work is clicked on every page of every shipped checkpoint.
"""
from __future__ import annotations

import glob
import os
import time
import warnings

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
APP = os.path.join(ROOT, "app", "lab.py")
TIMEOUT = 120
SHIPPED = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "checkpoints", "*", "model.pt")))
PAGES = ["welcome", "data", "train", "collapse", "latent", "dynamics", "planner"]
# what a page must show at once on a fresh clone (plotly charts)
MIN_CHARTS = {"welcome": 1, "data": 1, "latent": 1, "dynamics": 2}  # data: one episode figure (frame, actions, state); dynamics: the imagination scrubber, the surprise traces


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    import streamlit as st
    import torch
    threads = torch.get_num_threads()
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    for v in ("LEWM_LAB_CHECKPOINT", "LEWM_LAB_DATA"):
        monkeypatch.delenv(v, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()

    def make(ckpt: str | None = None, **env) -> AppTest:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        if ckpt:
            at.query_params["ckpt"] = f"checkpoints/{ckpt}/model.pt"
        at.run()
        return at

    yield make
    st.cache_resource.clear()
    torch.set_num_threads(threads)


def no_exception(at: AppTest, where: str = "") -> None:
    assert not at.exception, (where, [e.value for e in at.exception])


def test_opens_on_the_best_shipped_agent_and_remembers_it_in_the_url(fresh):
    at = fresh()
    no_exception(at)
    assert at.selectbox(key="sb_checkpoint").value.startswith("two_room (shipped")
    assert at.query_params["ckpt"] in ("checkpoints/two_room/model.pt", ["checkpoints/two_room/model.pt"])
    at2 = fresh("pusht")  # a reload of a URL that names another checkpoint
    assert at2.selectbox(key="sb_checkpoint").value.startswith("pusht (shipped")


@pytest.mark.parametrize("ckpt", SHIPPED)
def test_every_page_shows_its_views_on_a_fresh_clone(fresh, ckpt):
    at = fresh(ckpt)
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        no_exception(at, page)
        assert not at.error, (page, [e.value for e in at.error])
        assert len(at.get("plotly_chart")) >= MIN_CHARTS.get(page, 0), page
    # the planner's map is ready (reference data matched): Plan is offered without a warning
    assert "plan_go" in {b.key for b in at.button} and not at.warning


def test_switching_checkpoint_switches_the_dataset(fresh):
    at = fresh("two_room")
    at.switch_page("app_pages/latent.py")
    at.run()
    assert at.selectbox(key="latent_data").value.endswith(os.path.join("two_room", "reference.h5"))
    for other in ("pusht", "reacher"):
        sb = at.selectbox(key="sb_checkpoint")
        sb.set_value(next(o for o in sb.options if o.startswith(other))).run()
        no_exception(at, other)
        assert not at.error, [e.value for e in at.error]
        assert at.selectbox(key="latent_data").value.endswith(os.path.join(other, "reference.h5"))
        assert at.query_params["ckpt"] in (f"checkpoints/{other}/model.pt", [f"checkpoints/{other}/model.pt"])
    at.switch_page("app_pages/data.py")  # the Data page shows the checkpoint's reference set too
    at.run()
    assert at.selectbox(key="data_browse").value.endswith(os.path.join("reacher", "reference.h5"))
    sb = at.selectbox(key="sb_checkpoint")
    sb.set_value(next(o for o in sb.options if o.startswith("two_room"))).run()
    no_exception(at, "data")
    assert at.selectbox(key="data_browse").value.endswith(os.path.join("two_room", "reference.h5"))


def test_collect_button_while_another_dataset_exists(fresh, tmp_path):
    """Regression: the button set the state of the dataset selectbox after it was drawn
    (StreamlitWidgetAlreadyInstantiatedError) whenever another dataset existed."""
    from _lab_assets import make_lab_assets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assets = make_lab_assets(str(tmp_path / "assets"))  # a 32 px Two-Room checkpoint: no 32 px data ships
    at = fresh(LEWM_LAB_CHECKPOINT=assets["ckpt"], LEWM_LAB_DATA=assets["syn"])
    at.switch_page("app_pages/latent.py")
    at.run()
    no_exception(at)
    btn = [b for b in at.button if b.key == "latent_data_collect"]
    assert btn, "no collect button although no 32 px two_room dataset exists"
    btn[0].click().run()
    no_exception(at)
    t0 = time.time()
    while time.time() - t0 < 120 and "two_room-32px-ref" not in str(at.selectbox(key="latent_data").value):
        time.sleep(1.0)
        at.run()  # run_every does not fire in AppTest
        no_exception(at)
    assert "two_room-32px-ref" in at.selectbox(key="latent_data").value
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) >= 1


# ---------------------------------------------------------------------------------------------
# Click everything (slow): every selector option and every button that does not start minutes of work
# ---------------------------------------------------------------------------------------------
SKIP_KEYS = {
    "sb_checkpoint",  # the sweep sets it itself
    "latent_umap",  # importing umap-learn + a fit: ~1 min (its own test path is the stored map)
    "collapse_start", "collapse_stop",  # two training runs
    "data_fname", "latent_data_path", "dyn_data_path", "plan_data_path", "data_browse_path",
    "train_data_path", "collapse_data_path",
}
SKIP_PREFIXES = ("FormSubmitter:",)  # Start training / Collect forms (background jobs of minutes)
LIMITS = {"plan_budget": 15, "plan_samples": 60, "plan_iters": 3}


def _widgets(at):
    for kind in ("selectbox", "radio", "select_slider", "slider", "checkbox", "button"):
        for w in getattr(at, kind):
            if w.key and w.key not in SKIP_KEYS and not w.key.startswith(SKIP_PREFIXES):
                yield kind, w.key


def _get(at, kind, key):
    try:
        return getattr(at, kind)(key=key)
    except KeyError:
        return None


def _set_label(at, w, label: str) -> None:
    """Select an option by its label: AppTest maps a value to its label with the widget's
    format_func, which for ``dict.get``-style formatters returns None for a label."""
    from streamlit.runtime.state.common import TESTING_KEY
    fmts = at.session_state[TESTING_KEY]
    f, labels = fmts.get(w.id), set(w.options)
    if f is not None:
        fmts[w.id] = lambda v, f=f: v if isinstance(v, str) and v in labels else f(v)
    w.set_value(label).run()


def _exercise(at, where: str) -> int:
    """Set every option of every selector (then back), both ends of every slider, click every
    button; re-scan for widgets that appear on the way. Returns the number of interactions."""
    done, n = set(), 0
    for _ in range(3):
        todo = [(k, key) for k, key in _widgets(at) if key not in done]
        if not todo:
            break
        for kind, key in todo:
            done.add(key)
            w = _get(at, kind, key)
            if w is None:
                continue
            if kind == "button":
                w.click().run()
                n += 1
                no_exception(at, f"{where}: click {key}")
                continue
            if kind in ("selectbox", "radio"):
                labels = list(w.options)
                try:
                    orig = labels[w.index]
                except (ValueError, TypeError, IndexError):
                    orig = labels[0] if labels else None
                for lab in labels + [orig]:
                    w = _get(at, kind, key)
                    if w is None or lab is None:
                        break
                    _set_label(at, w, lab)
                    n += 1
                    no_exception(at, f"{where}: {key} = {lab!r}")
                continue
            if kind == "select_slider":
                orig, values = w.value, [w.options[0], w.options[-1]]
            elif kind == "slider":
                orig, values = w.value, [w.min, w.max]
            else:  # checkbox
                orig, values = w.value, [not w.value]
            for v in list(values) + [orig]:
                w = _get(at, kind, key)
                if w is None:
                    break
                w.set_value(v).run()
                n += 1
                no_exception(at, f"{where}: {key} = {v!r}")
    return n


@pytest.mark.slow
@pytest.mark.parametrize("ckpt", SHIPPED)
def test_click_every_selector_and_button(fresh, ckpt):
    at = fresh(ckpt)
    total = 0
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        no_exception(at, page)
        for key, v in LIMITS.items():  # keep the planner's episode short
            w = _get(at, "number_input", key)
            if w is not None:
                w.set_value(v).run()
        total += _exercise(at, f"{ckpt}/{page}")
        no_exception(at, page)
    assert total > 50
