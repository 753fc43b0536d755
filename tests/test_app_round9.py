"""Round 9 of the hostile tester (the lab): a pipe named *.h5 hung every page, short episodes,
states outside the world, a non-object planner in eval.json, 400-digit integers in metrics.jsonl,
bad LEWM_LAB_THREADS / LEWM_LAB_DEVICE, a read-only runs folder, one-episode probes and state names
that clash with the colour options: each is now a st.error / st.warning, never an exception box."""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "app"))
from _lab_assets import lab_pages  # noqa: E402

APP = os.path.join(ROOT, "app", "lab.py")
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
REF = os.path.join(ROOT, "checkpoints", "two_room", "reference.h5")


# ----------------------------------------------------------------------------- library
def test_open_h5_refuses_a_pipe_instead_of_blocking(tmp_path):
    from lewm.data import DataError, validate_file
    fifo = str(tmp_path / "fifo.h5")
    os.mkfifo(fifo)
    out = {}

    def read():
        try:
            validate_file(fifo)
        except DataError as e:
            out["err"] = str(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "validate_file blocked on a pipe"
    assert out["err"].startswith(fifo) and "not a regular file" in out["err"]


def test_read_metrics_takes_400_digit_integers_like_1e400(tmp_path):
    from lewm.runs import read_metrics
    big = "1" * 400
    (tmp_path / "metrics.jsonl").write_text(f'{{"step": 1, "loss": 0.5}}\n{{"step": {big}, "loss": 0.4}}\n'
                                            f'{{"step": 2, "loss": -{big}}}\n')
    h = read_metrics(str(tmp_path))
    assert h["step"].tolist() == [1.0, 2.0]  # the line at step "inf" is dropped, as for 1e400
    assert h["loss"][0] == 0.5 and h["loss"][1] == -np.inf


# ----------------------------------------------------------------------------- the pages (AppTest)
def _copy(runs: str, name: str, edit) -> str:
    import h5py
    p = os.path.join(runs, "data", name)
    shutil.copy(REF, p)
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


def _replace(f, key, value):
    del f[key]
    f[key] = value


def _one_episode(f):
    """Keep episode 0 only, and name its states like the colour options 'episode' and 'time step'."""
    n = int(f["ep_len"][0])
    for k in ("pixels", "state", "action"):
        _replace(f, k, f[k][:n])
    for k in ("ep_len", "ep_offset", "ep_random", "ep_seed", "ep_success", "goal_state"):
        _replace(f, k, f[k][:1])
    f.attrs["state_names"] = "episode,time step"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    runs = str(tmp_path / "runs")
    os.makedirs(os.path.join(runs, "data"))
    with lab_pages(APP, runs, monkeypatch, SHIPPED) as make:
        yield make, runs


def _clean(at, where):
    assert not at.exception, (where, [e.value for e in at.exception])


def test_states_outside_the_world_are_refused_by_the_pickers(lab):
    """States x100 (off the map) or inside the wall crashed render_state on the Planner and Dynamics pages."""
    make, runs = lab
    far = _copy(runs, "far.h5", lambda f: _replace(f, "state", f["state"][()] * 100))

    def wall(f):
        s = f["state"][()]
        s[:, 0] = 112.0
        _replace(f, "state", s)
    inwall = _copy(runs, "wall.h5", wall)
    for page, key in (("planner", "plan_data"), ("dynamics", "dyn_data"), ("latent", "latent_data")):
        at = make(page)
        for p in (far, inwall):
            at.selectbox(key=key).set_value(p).run()
            _clean(at, (page, p))
            assert any(e.value.startswith(p) and "outside the two_room world" in e.value for e in at.error), \
                (page, [e.value for e in at.error])


def test_planner_short_episode_and_a_planner_that_is_not_an_object(lab):
    """A 1-frame episode: number_input(min 1 > max 0) raised; eval.json {"planner": 5}: TypeError."""
    make, runs = lab
    ck = os.path.join(runs, "copy", "last.pt")
    os.makedirs(os.path.dirname(ck))
    shutil.copy(SHIPPED, ck)
    with open(os.path.join(runs, "copy", "eval.json"), "w") as f:
        json.dump({"planner": 5, "success_rate": 0.5}, f)
    short = _copy(runs, "short.h5", lambda f: _replace(f, "ep_len", np.r_[1, f["ep_len"][1:]]))
    at = make("planner", ck)
    _clean(at, "planner: 5")
    assert any("'planner' is int 5, expected an object" in w.value for w in at.warning), [w.value for w in at.warning]
    at.selectbox(key="plan_data").set_value(short).run()
    at.radio(key="plan_source").set_value("From the dataset").run()
    _clean(at, "short episode")
    assert any(w.value.startswith("Episode 0 of ") and "has 1 frame(s)" in w.value for w in at.warning)
    at.number_input(key="plan_ep").set_value(1).run()  # a full episode: start and goal as before
    _clean(at, "episode 1")
    assert not any("frame(s)" in w.value for w in at.warning)


def test_latent_page_one_episode_and_clashing_state_names(lab):
    """One episode: the probes split by row (optimistic) while the page said 'split by episode';
    state_names 'episode,time step' duplicated the colour options and hid the state columns."""
    make, runs = lab
    one = _copy(runs, "one.h5", _one_episode)
    at = make("latent")
    at.selectbox(key="latent_data").set_value(one).run()
    _clean(at, "one episode")
    assert any("split is by row" in w.value and "optimistic" in w.value for w in at.warning)
    assert not any("(split by episode)" in m.value for m in at.markdown)
    opts = at.selectbox(key="latent_color").options
    assert opts == ["state: episode", "state: time step", "episode", "time step"]
    at.selectbox(key="latent_color").set_value("state: time step").run()
    _clean(at, "colour by a state")


@pytest.mark.parametrize("env,value,shown", [("LEWM_LAB_THREADS", "abc", "warning"), ("LEWM_LAB_THREADS", "0", "warning"),
                                             ("LEWM_LAB_DEVICE", "bogus", "error"), ("LEWM_LAB_DEVICE", "cuda:99", "error")])
def test_bad_lab_settings_are_named(lab, monkeypatch, env, value, shown):
    make, _ = lab
    monkeypatch.setenv(env, value)
    at = make("welcome")
    _clean(at, (env, value))
    msgs = [m.value for m in (at.warning if shown == "warning" else at.error)]
    assert any(m.startswith(env) and value in m and "--device" not in m for m in msgs), msgs


def test_read_only_runs_folder_and_metrics_without_steps(lab, monkeypatch):
    """Start training into a read-only runs folder: OSError errno 30 from unique_dir was an exception box.
    A metrics.jsonl without 'step' drew an empty chart without a word."""
    from lewm.jobs import JobManager
    from lewm.synthetic import write_synthetic_h5
    make, runs = lab
    os.makedirs(os.path.join(runs, "nostep"))
    with open(os.path.join(runs, "nostep", "metrics.jsonl"), "w") as f:
        f.write('{"loss": 0.5}\n{"loss": 0.4}\n')
    syn = os.path.join(runs, "data", "syn.h5")
    write_synthetic_h5(syn, episodes=24, length=40, image_size=32)

    def read_only(self, *a, **k):
        raise OSError(30, "Read-only file system", os.path.join(runs, "x"))
    monkeypatch.setattr(JobManager, "start_train", read_only)
    at = make("train")
    _clean(at, "no step")
    assert any("no line has a numeric 'step'" in w.value for w in at.warning), [w.value for w in at.warning]
    at.text_input(key="train_data_path").set_value(syn).run()
    at.number_input(key="train_steps").set_value(10)
    next(b for b in at.button if b.label == "Start training").click().run()
    _clean(at, "read-only")
    assert any(e.value.startswith(f"Cannot write into `{runs}`: Read-only file system") for e in at.error), \
        [e.value for e in at.error]
    assert "train_job" not in at.session_state
    at = make("collapse")  # the collapse comparison starts two runs the same way
    at.text_input(key="collapse_data_path").set_value(syn).run()
    at.number_input(key="collapse_steps").set_value(20)
    at.button(key="collapse_start").click().run()
    _clean(at, "collapse read-only")
    assert any(e.value.startswith(f"Cannot write into `{runs}`") for e in at.error), [e.value for e in at.error]
