"""Round 14 b, the lab's jobs: b1 b2 b7 b8 b9 b10 b12 b15 b16 b21 b22 (a vanished dataset selection, an
unusable data folder, batch 1 with history 1, the Collapse lab's batch check, Stop for a collection, a stopped
collection, two servers on one file, the rename note, a script without a __main__ guard, the saved step)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

from lewm import jobs
from lewm.config import get_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from _lab_assets import make_lab_assets_one_thread
    return make_lab_assets_one_thread(str(tmp_path_factory.mktemp("assets")))


def _with_data(runs, assets):
    for k in ("tr", "syn"):
        shutil.copy(assets[k], os.path.join(runs, "data"))
    shutil.copytree(os.path.dirname(assets["ckpt"]), os.path.join(runs, "run1"))
    return os.path.join(runs, "run1", "last.pt")


def _page_with(lab_app, assets, page: str, key: str, name: str, run: bool = True):
    """The lab's ``page`` with the data file ``name`` chosen in the selectbox ``key`` -> (the app, the file's path)."""
    make, runs, _ = lab_app
    path = os.path.join(runs, "data", name)
    at = make(page, _with_data(runs, assets))
    chosen = at.selectbox(key=key).select(path)
    if run:
        chosen.run()
    return at, path


def _page_on_syn(lab_app, assets, page: str, steps: int, batch: int):
    """The lab's ``page`` ('train' or 'collapse') with syn32.h5 chosen and its steps and batch fields set."""
    at, _ = _page_with(lab_app, assets, page, f"{page}_data", "syn32.h5", run=False)
    at.number_input(key=f"{page}_steps").set_value(steps)
    at.number_input(key=f"{page}_batch").set_value(batch)
    return at


def _button(at, label):
    return at.button[[b.label for b in at.button].index(label)]


def _manager():
    sys.path.insert(0, os.path.join(ROOT, "app"))
    import common
    return common.job_manager()


# ---------------------------------------------------------------------------------------------
# b7: batch 1 with history 1 is refused before any work (CLI, Python, the Train page)
# ---------------------------------------------------------------------------------------------
def test_b7_train_batch_1_history_1_is_refused_before_the_run_folder(assets, tmp_path):
    from lewm.train import train
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 1}, train={"batch_size": 1})
    out = str(tmp_path / "b1h1")
    with pytest.raises(ValueError, match=r"train\(cfg=\.\.\.\): batch size 1 with history 1 .*BatchNorm .*>= 2"):
        train(cfg, assets["syn"], out, steps=2, progress=False)
    assert not os.path.exists(out)
    r = subprocess.run([sys.executable, "-m", "lewm", "train", "--data", assets["syn"], "--preset", "cpu-tiny",
                        "--steps", "2", "--batch-size", "1", "--history", "1", "--out", out, "--threads", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "batch size 1 with history 1" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not os.path.exists(out)
    # batch 1 with history 2 (two predictions per step) is valid: not refused by the check
    from lewm._train_checks import check_train_args
    ok = get_preset("cpu-tiny").with_overrides(model={"history": 2}, train={"batch_size": 1})
    check_train_args(ok, assets["syn"], out, on_step=None, resume=False, progress=False, stop_event=None,
                     pause_event=None, init=None)


def test_b7_train_page_refuses_batch_1_with_history_1(lab_app, assets):
    at = _page_on_syn(lab_app, assets, "train", steps=30, batch=1)
    _button(at, "Start training").click().run()
    assert not at.exception
    errs = [e.value for e in at.error]
    assert any("Batch size 1 with History 1" in e and "Batch size ≥ 2" in e for e in errs), errs
    assert _manager().jobs() == []


# ---------------------------------------------------------------------------------------------
# b1, b15: a selected dataset that vanished
# ---------------------------------------------------------------------------------------------
def test_b1_train_refuses_a_dataset_deleted_before_the_start(lab_app, assets):
    at, syn = _page_with(lab_app, assets, "train", "train_data", "syn32.h5")
    at.number_input(key="train_steps").set_value(20)
    os.remove(syn)
    _button(at, "Start training").click().run()
    assert not at.exception
    errs = [e.value for e in at.error]
    assert any("syn32.h5 (selected) no longer exists" in e and "Pick a dataset" in e for e in errs), errs
    assert _manager().jobs() == []  # nothing trained on tr32.h5, which the user never chose


def test_b15_data_page_says_the_browsed_dataset_vanished(lab_app, assets):
    at, tr = _page_with(lab_app, assets, "data", "data_browse", "tr32.h5")
    os.remove(tr)
    at.run()
    assert not at.exception
    warns = [w.value for w in at.warning]
    assert any(w.startswith("tr32.h5 (selected) no longer exists; showing syn32.h5") for w in warns), warns


# ---------------------------------------------------------------------------------------------
# b2: runs/data is a file
# ---------------------------------------------------------------------------------------------
def test_b2_data_folder_that_is_a_file_is_one_error_and_collect_is_refused(lab_app, assets):
    make, runs, _ = lab_app
    ck = _with_data(runs, assets)
    shutil.rmtree(os.path.join(runs, "data"))
    with open(os.path.join(runs, "data"), "w") as f:
        f.write("x")
    at = make("data", ck)
    assert not at.exception
    errs = [e.value for e in at.error if "LEWM_LAB_RUNS/data" in e.value]
    assert len(errs) == 1 and "is a file, expected the data folder" in errs[0], [e.value for e in at.error]
    assert _button(at, "Collect").disabled
    assert _manager().jobs() == []


# ---------------------------------------------------------------------------------------------
# b8: the Collapse lab checks the batch against the data before starting
# ---------------------------------------------------------------------------------------------
def test_b8_collapse_refuses_a_batch_larger_than_the_windows(lab_app, assets):
    at = _page_on_syn(lab_app, assets, "collapse", steps=20, batch=1024)
    at.run()
    at.button(key="collapse_start").click().run()
    assert not at.exception
    errs = [e.value for e in at.error]
    assert any(e.startswith("Batch size 1024 is larger than the") and "use at most" in e and "--batch-size" not in e
               for e in errs), errs
    assert _manager().jobs() == []


# ---------------------------------------------------------------------------------------------
# b9, b10, b16: Stop for a collection, "stopped" and no temporary file; the rename note on the page
# ---------------------------------------------------------------------------------------------
def test_b9_b10_b16_data_page_stop_and_rename_note(lab_app, assets):
    make, runs, _ = lab_app
    ck = _with_data(runs, assets)
    at = make("data", ck)
    at.number_input(key="data_episodes").set_value(5000)
    at.selectbox(key="data_image_size").select(32)
    at.text_input(key="data_fname").set_value("tr32")  # exists: written as tr32-1.h5
    _button(at, "Collect").click().run()
    assert not at.exception
    warns = [w.value for w in at.warning]
    assert any("tr32.h5 exists (nothing is overwritten); writing tr32-1.h5 instead" in w for w in warns), warns
    (job,) = _manager().jobs("collect")
    t0 = time.time()
    while job.snapshot().done < 2 and time.time() - t0 < 90:
        time.sleep(0.2)
    assert job.status == "running", job.error
    at.run()
    stop = [b for b in at.button if b.key == f"data_stop_{job.id}"]
    assert stop, [b.key for b in at.button]
    stop[0].click().run()
    assert job.wait(30)
    at.run()
    s = job.snapshot()
    assert s.status == "stopped" and s.error is None and 2 <= s.done < 5000
    assert not glob.glob(os.path.join(runs, "data", ".tmp-*")) and not os.path.exists(job.out)
    infos = [i.value for i in at.info]
    assert any("stopped at" in i and "nothing was written" in i for i in infos), infos
    assert not [e.value for e in at.error if "exit code" in e.value]


def test_b10_stop_while_the_worker_starts_is_stopped(tmp_path):
    m = jobs.JobManager(str(tmp_path / "runs"))
    try:
        j = m.start_collect("two_room", 3, str(tmp_path / "runs" / "data" / "x.h5"), image_size=32)
        j.stop()  # before the worker has even imported anything
        assert j.wait(60)
        assert j.status == "stopped" and j.error is None, (j.status, j.error)
    finally:
        m.shutdown()


# ---------------------------------------------------------------------------------------------
# b12: another server published the same name meanwhile
# ---------------------------------------------------------------------------------------------
def test_b12_a_name_taken_by_another_process_meanwhile_gets_the_next_name(tmp_path, assets):
    data = tmp_path / "runs" / "data"
    m = jobs.JobManager(str(tmp_path / "runs"))
    try:
        out = str(data / "same.h5")
        os.makedirs(data, exist_ok=True)
        j = m.start_collect("two_room", 2, out, image_size=32)
        shutil.copy(assets["tr"], out)  # another server's collection published first
        assert j.wait(120)
        s = j.snapshot()
        assert s.status == "finished", s.error
        assert s.out == str(data / "same-1.h5") and os.path.exists(s.out)
        assert any("same.h5 was written by another lab or process meanwhile" in n and "same-1.h5" in n
                   for n in s.notes), s.notes
    finally:
        m.shutdown()


def test_b12_publish_beside_a_file_published_during_the_collection(tmp_path):
    """The race at the end (the other process published while this one collected): the result moves to a
    free name, nothing is lost or overwritten."""
    from lewm import _jobs_workers, collect as collect_mod
    out = str(tmp_path / "same.h5")
    tmp = str(tmp_path / ".tmp-same.h5.1")
    open(tmp, "wb").write(b"mine")
    open(out, "wb").write(b"theirs")
    path = collect_mod.publish_dataset(tmp, out, False, None, rename=True)  # collect(rename_if_taken=True)
    assert path == str(tmp_path / "same-1.h5") and open(path, "rb").read() == b"mine"
    assert open(out, "rb").read() == b"theirs" and not os.path.exists(tmp)
    note = _jobs_workers._moved_note(out, path)  # what the worker tells the page
    assert "meanwhile" in note


# ---------------------------------------------------------------------------------------------
# b21: a script without a __main__ guard
# ---------------------------------------------------------------------------------------------
def test_b21_a_script_without_a_main_guard_is_named_in_the_error(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {ROOT!r})\n"
        "from lewm.jobs import JobManager\n"
        f"m = JobManager({str(tmp_path / 'runs')!r})\n"
        f"j = m.start_collect('two_room', 2, {str(tmp_path / 'runs' / 'data' / 'same.h5')!r}, image_size=32)\n"
        "j.wait(120)\n"
        "print('ERROR:', j.error)\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    line = [x for x in r.stdout.splitlines() if x.startswith("ERROR:")][0]
    assert "exit code 1" in line and "noguard.py" in line and 'if __name__ == "__main__":' in line, line


# ---------------------------------------------------------------------------------------------
# b22: the preset's checkpoint interval; a failed run names its last saved step
# ---------------------------------------------------------------------------------------------
def test_b22_killed_training_names_the_last_saved_step(tmp_path, assets):
    import signal
    m = jobs.JobManager(str(tmp_path / "runs"))
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 1}, train={"ckpt_every": 5, "log_every": 1})
    try:
        j = m.start_train(cfg, assets["syn"], steps=100_000, threads=1, name="killed")
        t0 = time.time()
        while not os.path.exists(os.path.join(j.out, "last.pt")) and time.time() - t0 < 90:
            time.sleep(0.2)
        time.sleep(0.3)
        os.kill(j.process.pid, signal.SIGKILL)
        assert j.wait(30)
        assert j.status == "failed" and "exit code -9" in j.error, j.error
        assert "the last saved step is " in j.error and os.path.join(j.out, "last.pt") in j.error, j.error
        assert "\n" not in j.error
    finally:
        m.shutdown()


def test_b22_train_page_uses_the_presets_checkpoint_interval(lab_app, assets, monkeypatch):
    make, runs, _ = lab_app
    ck = _with_data(runs, assets)
    mgr = _manager()
    seen = {}

    def fake_start(cfg, data, **kw):
        seen["ckpt_every"] = cfg.train.ckpt_every
        raise RuntimeError("not started in this test")

    monkeypatch.setattr(mgr, "start_train", fake_start)
    at = make("train", ck)
    at.selectbox(key="train_data").select(os.path.join(runs, "data", "tr32.h5"))
    at.number_input(key="train_steps").set_value(100_000)
    _button(at, "Start training").click().run()
    assert seen == {"ckpt_every": get_preset("cpu-tiny").train.ckpt_every}  # was steps / 4 = 25 000
