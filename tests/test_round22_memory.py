"""Round 22, the widget memory (fixer FE): a value the memory puts back that the page's widget now refuses (a
shorter dataset shrank the "Imagined steps" slider) is set to the widget's bound and said in one line, not an
exception box (N1); a change made inside a fragment (the slider, the colour radio) reaches the memory although
the fragment re-runs without lab.py (N2)."""
from __future__ import annotations

import os
import shutil
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("streamlit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))

import widget_memory  # noqa: E402
from _lab_assets import make_lab_assets  # noqa: E402


# ------------------------------------------------------------------ N2 (pure)
def test_note_records_a_fragment_change_under_the_memory_page():
    m = widget_memory.new_memory()
    widget_memory.remember(m, {}, [], "dynamics")
    state = {widget_memory.MEMORY_KEY: m, "dyn_horizon": 19}
    widget_memory.note(state, "dyn_horizon")  # the slider's on_change, in a fragment run
    assert m["values"]["dyn_horizon"] == ("dynamics", 19)
    # Streamlit has dropped the page's values before the next page's run: nothing overwrites the note
    assert widget_memory.remember(m, {}, [], "welcome") == {}
    assert widget_memory.remember(m, {}, [], "dynamics") == {"dyn_horizon": 19}
    widget_memory.note({}, "dyn_horizon")  # no memory yet: nothing to do, no error


# ------------------------------------------------------------------ N1 (pure)
def test_misfit_names_the_restored_key_and_its_bound():
    restored = {"dyn_episode": 3, "dyn_horizon": 19}
    assert widget_memory.misfit(restored, {"value": 19, "max_value": 5}) == (
        "dyn_horizon", 5, "Your earlier setting dyn_horizon = 19 is more than this page now allows (5): using 5.")
    assert widget_memory.misfit(restored, {"value": 3, "min_value": 4})[:2] == ("dyn_episode", 4)
    assert widget_memory.misfit(restored, {"value": 7, "max_value": 5}) is None  # not the memory's value
    assert widget_memory.misfit(restored, {}) is None


def _page_with_a_shrunk_slider():
    import streamlit as st

    import lab

    class Nav:
        def run(self):
            mx = st.session_state.get("mx", 20)
            st.slider("S", 1, mx, min(mx, 10), key="s")

    lab.run_page(st, Nav(), st.session_state.get("restored", {}))


def test_run_page_uses_the_bound_and_says_so():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_page_with_a_shrunk_slider, default_timeout=60)
    at.session_state["s"] = 19
    at.session_state["mx"] = 5
    at.session_state["restored"] = {"s": 19}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="s").value == 5
    assert [i.value for i in at.info] == ["Your earlier setting s = 19 is more than this page now allows (5): using 5."]


def test_a_refusal_not_caused_by_the_memory_is_shown():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_page_with_a_shrunk_slider, default_timeout=60)
    at.session_state["s"] = 19
    at.session_state["mx"] = 5
    at.session_state["restored"] = {}
    at.run()
    assert at.exception  # the page's own bug: not hidden


# ------------------------------------------------------------------ N1 (Dynamics, the report's t1.py)
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_lab_assets(str(tmp_path_factory.mktemp("lab22")))


def _cut(src: str, dst: str, frames: int, episodes: int) -> None:
    """The first ``episodes`` episodes of ``src`` cut to ``frames`` frames (the report's mkcut.py)."""
    import h5py
    with h5py.File(src) as f, h5py.File(dst, "w") as g:
        off, ln = f["ep_offset"][:], f["ep_len"][:]
        per_frame = [k for k in f if f[k].shape[:1] == (int(ln.sum()),)]
        idx = np.concatenate([np.arange(off[i], off[i] + min(frames, ln[i])) for i in range(episodes)])
        for k in f:
            if k in per_frame:
                g[k] = f[k][:][idx]
            elif k == "ep_len":
                g[k] = np.minimum(ln[:episodes], frames)
            elif k == "ep_offset":
                g[k] = np.concatenate([[0], np.cumsum(np.minimum(ln[:episodes], frames))[:-1]])
            else:
                g[k] = f[k][:][:episodes]
        for a, v in f.attrs.items():
            g.attrs[a] = v


def test_a_kept_horizon_above_a_shorter_dataset_is_clamped_with_a_note(lab_app, assets, tmp_path):
    make, runs, _ = lab_app
    data = os.path.join(runs, "data", "tr32.h5")
    shutil.copy(assets["tr"], data)
    os.makedirs(os.path.join(runs, "run1"))
    shutil.copy(assets["ckpt"], os.path.join(runs, "run1", "last.pt"))
    at = make("dynamics", ckpt=os.path.join(runs, "run1", "last.pt"))
    top = int(at.slider(key="dyn_horizon").max)
    assert top > 5
    at.slider(key="dyn_horizon").set_value(top).run()
    at.switch_page("app_pages/welcome.py").run()
    cut = str(tmp_path / "cut30.h5")
    _cut(assets["tr"], cut, 30, 3)
    shutil.copy(cut, data)  # the same file name, now 3 episodes of 30 frames
    at.switch_page("app_pages/dynamics.py").run()
    assert not at.exception, [e.value for e in at.exception]  # was StreamlitValueAboveMaxError
    sl = at.slider(key="dyn_horizon")
    assert (sl.value, sl.max) == (5, 5)
    assert f"Imagined steps {top} is more than this episode allows (5): using 5." in [i.value for i in at.info]
