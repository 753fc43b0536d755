"""Round 22 (FF): N3 a double click starts no twin job (Data, Train; refused in the job manager under its lock),
N4 no "nan" before the first step and a run stopped at step 0 is called untrained, N5 one collection note per file,
beside its job, in the past tense once it ended."""
from __future__ import annotations

import os
import re
import shutil
import sys
import time
from types import SimpleNamespace

import pytest

from lewm import jobs
from lewm.config import get_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

ALREADY = re.compile(r"This (collection|training run) is already running \(started \d\d:\d\d:\d\d\)")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from _lab_assets import make_lab_assets_one_thread
    return make_lab_assets_one_thread(str(tmp_path_factory.mktemp("assets")))


def _manager():
    import common
    return common.job_manager()


def _button(at, label):
    return at.button[[b.label for b in at.button].index(label)]


# ---------------------------------------------------------------------------------------------
# N3: the job manager refuses a twin of the same owner; another owner gets the next name, said truthfully
# ---------------------------------------------------------------------------------------------
def test_n3_manager_refuses_a_twin_collection_of_the_same_owner(tmp_path):
    m = jobs.JobManager(str(tmp_path / "runs"))
    out = str(tmp_path / "runs" / "data" / "x.h5")
    try:
        a = m.start_collect("two_room", 400, out, image_size=32, owner="s1")
        with pytest.raises(jobs.AlreadyRunning) as e:
            m.start_collect("two_room", 400, out, image_size=32, owner="s1")  # the second click, at once
        assert ALREADY.match(str(e.value)) and e.value.job is a
        assert len(m.jobs("collect")) == 1
        b = m.start_collect("two_room", 400, out, image_size=32, owner="s2")  # another session: a new name
        assert b.out.endswith("x-1.h5")
        assert b.notes and b.notes[0].startswith("x.h5 is being written by another collection (started ")
        assert "writing x-1.h5 instead" in b.notes[0] and " exists" not in b.notes[0]
        c = m.start_collect("two_room", 401, out, image_size=32, owner="s1")  # other settings: not a twin
        assert c.out.endswith("x-2.h5")
    finally:
        m.shutdown()


def test_n3_manager_refuses_a_twin_training_run(tmp_path, syn_h5):
    m = jobs.JobManager(str(tmp_path / "runs"), max_active_train=2)
    cfg = get_preset("cpu-tiny").with_overrides(train={"ckpt_every": 10_000})
    try:
        a = m.start_train(cfg, syn_h5, steps=100_000, threads=1, name="dup", stamp=True, owner="s1")
        assert re.fullmatch(r"\d{8}-\d{6}-dup", os.path.basename(a.out))
        time.sleep(1.1)  # another stamp: still the same run
        with pytest.raises(jobs.AlreadyRunning) as e:
            m.start_train(cfg, syn_h5, steps=100_000, threads=1, name="dup", stamp=True, owner="s1")
        assert ALREADY.match(str(e.value)) and e.value.job is a and len(m.jobs("train")) == 1
        assert m.twin("train", "s2", a.request) is None  # another session's identical run is its own
    finally:
        m.shutdown()


def test_n3_data_page_second_collect_click_is_refused(lab_app):
    make, runs, _ = lab_app
    at = make("data")
    at.number_input(key="data_episodes").set_value(600)
    at.selectbox(key="data_image_size").select(32)
    _button(at, "Collect").click().run()
    _button(at, "Collect").click().run()  # the same settings while the first runs
    assert not at.exception
    errs = [e.value for e in at.error]
    assert any(ALREADY.match(e) and "600 two_room episodes into two_room-32px-600ep.h5" in e for e in errs), errs
    assert len(_manager().jobs("collect")) == 1
    assert not any("-1.h5" in w.value for w in at.warning)


# ---------------------------------------------------------------------------------------------
# N4: "—" before the first step; Stop at step 0 says the checkpoint is untrained
# ---------------------------------------------------------------------------------------------
def test_n4_train_page_step_0_shows_dashes_and_calls_the_stop_untrained(lab_app, assets):
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data"))
    at = make("train")
    at.selectbox(key="train_data").select(os.path.join(runs, "data", "tr32.h5"))
    at.number_input(key="train_steps").set_value(100_000)
    at.text_input(key="train_name").set_value("dup")
    _button(at, "Start training").click().run()
    _button(at, "Start training").click().run()  # N3 on the Train page
    assert not at.exception
    assert any(ALREADY.match(e.value) and "dup" in e.value for e in at.error), [e.value for e in at.error]
    (job,) = _manager().jobs("train")
    vals = {m.label: m.value for m in at.metric}
    assert job.snapshot().done == 0 and "nan" not in " ".join(map(str, vals.values())), vals
    assert vals["loss"] == vals["prediction"] == vals["SIGReg loss"] == vals["samples/s"] == "—", vals
    job.stop()  # still starting: stopped at step 0
    assert job.wait(120), job.status
    at.run()
    s = job.snapshot()
    assert s.status == "stopped" and s.result["step"] == 0, (s.status, s.error)
    warns = [w.value for w in at.warning]
    assert any("Run stopped at step 0, before its first training step" in w and "no checkpoint was written" in w
               for w in warns), warns  # round 23 P11: a step-0 stop saves nothing at all
    assert not at.success and not [b for b in at.button if b.label.startswith("Use this checkpoint")]


def test_n4_fmt_num():
    import widgets
    assert widgets.fmt_num(None, ".4f") == widgets.fmt_num(float("nan"), ".4f") == "—"
    assert widgets.fmt_num(0.28081, ".4f") == "0.2808"


# ---------------------------------------------------------------------------------------------
# N5: one status per output file (the newest job's), notes in the past tense once the job ended
# ---------------------------------------------------------------------------------------------
def test_n5_one_collection_per_file_newest_first_active_first():
    import jobs_view
    j = [SimpleNamespace(out="/d/a.h5", status="finished"), SimpleNamespace(out="/d/a-1.h5", status="finished"),
         SimpleNamespace(out="/d/a.h5", status="stopped"), SimpleNamespace(out="/d/b.h5", status="running")]
    got = jobs_view.current_collections(j)  # newest first in, as JobManager.jobs gives them
    assert got == [j[3], j[0], j[1]]  # the stopped older a.h5 job is superseded by the finished one


def test_n5_past_tense_notes():
    import jobs_view
    n = "x.h5 is being written by another collection (started 10:00:00) (nothing is overwritten); writing x-1.h5 instead"
    assert jobs_view.past_note(n, "finished") == ("x.h5 was being written by another collection (started 10:00:00) "
                                                   "(nothing is overwritten); wrote x-1.h5 instead")
    assert jobs_view.past_note("x.h5 exists (nothing is overwritten); writing x-1.h5 instead", "stopped") == \
        "x.h5 existed (nothing is overwritten); it was writing x-1.h5 instead"


def test_n5_data_page_shows_the_newest_job_per_file_with_its_note(lab_app, assets):
    make, runs, _ = lab_app
    shutil.copy(assets["tr"], os.path.join(runs, "data"))
    m = _manager()
    out = os.path.join(runs, "data", "tr32.h5")  # exists: written as tr32-1.h5
    old = m.start_collect("two_room", 2, os.path.join(runs, "data", "n.h5"), image_size=32)
    old.stop()
    assert old.wait(60) and old.status == "stopped"
    new = m.start_collect("two_room", 2, os.path.join(runs, "data", "n.h5"), image_size=32)
    ren = m.start_collect("two_room", 2, out, image_size=32)
    assert new.wait(120) and ren.wait(120) and new.status == ren.status == "finished", (new.error, ren.error)
    at = make("data").run()
    assert not at.exception
    infos, oks = [i.value for i in at.info], [s.value for s in at.success]
    assert not [i for i in infos if "stopped at" in i], infos  # superseded by the newer job of n.h5
    assert any("/n.h5` in" in s and "(ended " in s for s in oks), oks
    assert any("/tr32-1.h5` in" in s and "tr32.h5 existed (nothing is overwritten); wrote tr32-1.h5 instead" in s
               for s in oks), oks
    assert not [w.value for w in at.warning if "writing tr32-1.h5" in w.value]
