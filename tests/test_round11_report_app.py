"""Reliability round 11 (issue 16): the report (a non-JavaScript --plotly-js, re-running into a report's folder,
flags taken as truthy strings, a cycle in the JSON), the collection policies and diagnostics, the job manager
(an unknown kind, a renamed collection output) and the lab (an unknown ``?ckpt=``, a runs folder that did not
exist). Each refusal is one ValueError / TypeError naming the argument, before any work; valid calls still work."""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import warnings

import numpy as np
import pytest

from _report import _tiny_checkpoint

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PLOTLY = os.path.join(ROOT, "checkpoints", "plotly.min.js")
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
REPORT_KW = dict(episodes=2, quick=True, max_frames=40, decoder_steps=0, horizon=2, landscape_goals=0, html=False,
                 progress=False)


# ----------------------------------------------------------------------------- lewm.report
def test_plotly_js_must_be_a_javascript_file(syn_h5, tmp_path, capsys):
    """--plotly-js d.h5 wrote a page that loaded an HDF5 file as plotly.js (no chart ever drew)."""
    from lewm.cli import main
    from lewm.report.build import check_plotly_js
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    for bad, words in ((syn_h5, "is an HDF5 episode file"), (ckpt, "is a checkpoint")):
        with pytest.raises(ValueError, match=re.escape(f"plotly_js {bad}: ") + ".*" + words):
            check_plotly_js(bad, str(tmp_path))
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match=r"plotly_js .*notes.txt: expected a JavaScript file \(a name ending in .js"):
        check_plotly_js(str(txt), str(tmp_path))
    check_plotly_js(PLOTLY, str(tmp_path))  # the shipped bundle, and a URL, still pass
    check_plotly_js("https://cdn.plot.ly/plotly-2.35.2.min.js", str(tmp_path))
    out = tmp_path / "rep"
    assert main(["report", "--checkpoint", ckpt, "--data", syn_h5, "--out", str(out), "--plotly-js", syn_h5]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --plotly-js ") and "HDF5" in err[0] and not out.exists()


def test_report_refuses_an_earlier_report_unless_force(syn_h5, tmp_path, capsys, one_thread):
    """A second report into the same --out replaced the first one's report.json without --force."""
    from lewm.cli import main
    from lewm.errors import OutputExistsError
    from lewm.report import make_report
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "rep"
    rep = make_report(ckpt, syn_h5, str(out), **REPORT_KW)
    before = (out / "report.json").read_bytes()
    with pytest.raises(OutputExistsError, match=re.escape(f"make_report(out=...) {out}: holds an earlier report "
                                                          f"(report.json); pass force=True")):
        make_report(ckpt, syn_h5, str(out), **REPORT_KW)
    argv = ["report", "--checkpoint", ckpt, "--data", syn_h5, "--out", str(out), "--quick", "--episodes", "2",
            "--max-frames", "40", "--decoder-steps", "0", "--horizon", "2", "--landscape-goals", "0", "--no-html"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --out {out}: holds an earlier report") and "--force" in err[0]
    assert (out / "report.json").read_bytes() == before  # untouched
    assert main(argv + ["--force"]) == 0
    assert json.loads((out / "report.json").read_text())["frames_encoded"] == rep["frames_encoded"]


@pytest.mark.parametrize("kw, exc, arg", [
    ({"progress": "no"}, TypeError, "progress"),  # was: taken as True
    ({"quick": "yes"}, TypeError, "quick"),
    ({"html": 1}, TypeError, "html"),
    ({"force": "no"}, TypeError, "force"),
    ({"device": 5}, TypeError, "device"),  # was: "--device 5 is not a device"
    ({"device": "nope"}, ValueError, "device"),
])
def test_make_report_refuses_bad_flags_before_the_work(syn_h5, tmp_path, kw, exc, arg):
    from lewm.report import make_report
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    with pytest.raises(exc, match=re.escape(f"make_report({arg}=...)")):
        make_report(ckpt, syn_h5, str(tmp_path / "rep"), **{**REPORT_KW, **kw})
    assert not (tmp_path / "rep").exists()


def test_report_helpers_name_their_argument(syn_h5, tmp_path):
    from lewm.report import pick_episodes
    from lewm.report.data_source import reference_beside
    from lewm.report.summary import clean
    with pytest.raises(TypeError, match=re.escape("pick_episodes(cfg=...) must be a LeWMConfig")):
        pick_episodes(syn_h5, None, 3)  # was: AttributeError 'NoneType' has no attribute 'model'
    _, cfg = _tiny_checkpoint(tmp_path / "m.pt")
    assert len(pick_episodes(syn_h5, cfg, 3)[0]) == 3
    with pytest.raises(TypeError, match=re.escape("reference_beside(checkpoint=...)")):
        reference_beside(None)
    assert reference_beside(SHIPPED).endswith("reference.h5")
    x: dict = {"a": [1, 2]}
    x["self"] = x
    with pytest.raises(ValueError, match=re.escape("clean: report['self'] refers back")):
        clean(x)  # was: RecursionError
    shared = [1.0, float("nan")]
    assert clean({"a": shared, "b": (shared, {"c": shared})}) == {"a": [1.0, None], "b": [[1.0, None], {"c": [1.0, None]}]}


# ----------------------------------------------------------------------------- policies, diagnostics
def test_policies_and_diagnostics_name_their_argument():
    from lewm.diagnostics.health import latent_health
    from lewm.diagnostics.perturbations import renderer_for
    from lewm.envs import make
    from lewm.envs.policies import make_policy
    env = make("two_room", image_size=32)
    with pytest.raises(TypeError, match="make_policy: env must be an environment"):
        make_policy(None, "expert")  # was: AttributeError 'NoneType' has no attribute 'name'
    with pytest.raises(TypeError, match="make_policy: rng must be a numpy Generator"):
        make_policy(env, "expert", rng=5)
    p = make_policy(env, "expert", rng=np.random.default_rng(0))
    obs = env.reset(seed=0)
    with pytest.raises(TypeError, match=r"TwoRoomExpert\(env\): env must be the environment .* got tuple"):
        p(obs)  # was: "'tuple' object has no attribute 'get_state'"
    p.reset(env)
    assert p(env).shape == (2,)
    with pytest.raises(ValueError, match="latents z must be numbers"):
        latent_health([[1, 2], [3, "a"]])
    assert latent_health(np.random.default_rng(0).normal(size=(50, 4))).status == "healthy"
    with pytest.raises(ValueError, match=re.escape("renderer_for('two_room'): image_size must be")):
        renderer_for("two_room", 7)  # was: None, as for an unknown env
    assert renderer_for("mars_rover", 32) is None and renderer_for("two_room", 32) is not None


# ----------------------------------------------------------------------------- lewm.jobs
def test_jobs_refuses_an_unknown_kind_and_says_when_collect_renames(tmp_path):
    from lewm.jobs import JobManager
    m = JobManager(str(tmp_path / "runs"))
    with pytest.raises(ValueError, match=re.escape("jobs(kind=...) must be one of 'train', 'collect'")):
        m.jobs(kind="bogus")  # was: []
    assert m.jobs("collect") == [] and m.active("train") == []
    out = tmp_path / "d.h5"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = m.start_collect("two_room", 2, str(out), image_size=32, episode_len=3)
        assert a.out == a.requested_out == str(out)
        with pytest.warns(UserWarning, match=re.escape(f"start_collect(out=...) {out}: exists") + ".*d-1.h5"):
            b = m.start_collect("two_room", 2, str(out), image_size=32, episode_len=3)
        assert b.requested_out == str(out) and b.out == str(tmp_path / "d-1.h5")
        assert a.wait(120) and b.wait(120) and a.status == b.status == "finished", (a.error, b.error)
    finally:
        m.shutdown()


# ----------------------------------------------------------------------------- the lab (AppTest)
def test_lab_says_when_ckpt_names_no_known_checkpoint_and_when_it_made_the_runs_folder(lab_app, tmp_path):
    import streamlit as st
    make, runs, monkeypatch = lab_app
    ref = os.path.join(ROOT, "checkpoints", "two_room", "reference.h5")
    at = make("welcome", ref)  # a dataset named as the checkpoint
    assert not at.exception, [e.value for e in at.exception]
    notes = [w.value for w in at.warning if w.value.startswith("?ckpt=")]
    assert len(notes) == 1 and ref in notes[0] and "an HDF5 episode file" in notes[0] and "showing" in notes[0], notes
    at = make("welcome", str(tmp_path / "nope.pt"))
    assert any("nope.pt: not a known checkpoint (no such file)" in w.value for w in at.warning)
    at = make("welcome", SHIPPED)  # a known one: no note
    assert not [w.value for w in at.warning if w.value.startswith("?ckpt=")]
    from streamlit.testing.v1 import AppTest
    new = str(tmp_path / "typo" / "runs")
    monkeypatch.setenv("LEWM_LAB_RUNS", new)
    st.cache_resource.clear()
    at = AppTest.from_file(os.path.join(ROOT, "app", "lab.py"), default_timeout=120)
    at.run()  # the page view that made the folder says so, once
    assert os.path.isdir(new) and not at.exception
    assert any(w.value.startswith(f"LEWM_LAB_RUNS={new}: the folder did not exist; it was created") for w in at.warning)
    at = make("welcome", SHIPPED)  # the folder exists now: nothing to say
    assert not any("did not exist" in w.value for w in at.warning)
    shutil.rmtree(os.path.dirname(new))
