"""lewm.jobs: the lab's background-job manager (spawned training process, pause/stop, no overwrite)
and its small pure helpers."""
import os
import time

import numpy as np
import pytest

from lewm import jobs
from lewm.config import get_preset


def test_downsample_keeps_ends_and_recent_points():
    idx = jobs.downsample_indices(10_000, 200)
    assert len(idx) <= 200 and idx[0] == 0 and idx[-1] == 9_999
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx[-100:], np.arange(9_900, 10_000))  # newest half dense
    assert np.array_equal(jobs.downsample_indices(5, 200), np.arange(5))


def test_unique_dir_and_file_never_reuse(tmp_path):
    a = jobs.unique_dir(str(tmp_path), "run one")
    b = jobs.unique_dir(str(tmp_path), "run one")
    assert a != b and os.path.isdir(a) and os.path.isdir(b) and os.path.basename(a) == "run-one"
    f = tmp_path / "d.h5"
    f.write_bytes(b"x")
    assert jobs.unique_file(str(f)) == str(tmp_path / "d-1.h5")
    (tmp_path / "d-1.h5.4242.tmp").write_bytes(b"")  # a collect into d-1.h5 is under way
    assert jobs.unique_file(str(f)) == str(tmp_path / "d-2.h5")


def test_eta_and_collapse_verdict():
    assert jobs.eta_seconds(50, 150, 10.0) == 10.0
    assert jobs.eta_seconds(50, 150, 0.0) is None
    assert jobs.collapse_verdict(0.01, 5.0, 16)[0]
    assert jobs.collapse_verdict(0.8, 1.2, 16)[0]
    assert not jobs.collapse_verdict(0.9, 10.0, 16)[0]


@pytest.mark.parametrize("kind", ["gaussian", "collapsed", "line", "scaled"])
def test_demo_latents_tell_the_sigreg_story(kind):
    from lewm.diagnostics import sigreg_view
    z = jobs.demo_latents(kind, n=512, dim=8)
    v = sigreg_view(z, num_dirs=4, seed=0)
    if kind == "gaussian":
        assert v.value < 2
    else:
        assert v.value > 5


def test_training_job_pause_resume_stop(tmp_path, syn_h5):
    m = jobs.JobManager(str(tmp_path / "runs"), max_active_train=1)
    cfg = get_preset("cpu-tiny").with_overrides(train={"ckpt_every": 10_000})
    try:
        j = m.start_train(cfg, syn_h5, steps=100_000, threads=1, view_every=5, name="pausable")
        with pytest.raises(RuntimeError, match="already active"):
            m.start_train(cfg, syn_h5, steps=10)
        t0 = time.time()
        while j.snapshot().done < 5 and time.time() - t0 < 60:
            time.sleep(0.2)
        assert j.status == "running", j.error
        j.pause()
        time.sleep(0.5)
        d0 = j.snapshot().done
        time.sleep(1.0)
        assert j.snapshot().done - d0 <= 1 and j.status == "paused"
        j.resume()
        time.sleep(1.0)
        assert j.snapshot().done > d0
        j.stop()
        assert j.wait(60)
        s = j.snapshot()
        assert s.status == "stopped" and os.path.exists(s.result["checkpoint"])
        assert s.view is not None and s.view["histograms"].shape[0] == 6
        assert len(s.history["loss"]) == len(s.history["step"]) > 0
        assert jobs.read_metrics(j.out)["step"][-1] >= 1
        assert os.path.basename(j.out) == "pausable"
        j2 = m.start_train(cfg, syn_h5, steps=3, threads=1, name="pausable")  # same name: a new folder
        assert j2.out != j.out and j2.wait(60) and j2.status == "finished"
    finally:
        m.shutdown()


def test_failed_job_reports_one_line(tmp_path):
    bad = tmp_path / "not.h5"
    bad.write_bytes(b"nope")
    m = jobs.JobManager(str(tmp_path / "runs"))
    try:
        j = m.start_train(get_preset("cpu-tiny"), str(bad), steps=3, threads=1)
        assert j.wait(60)
        assert j.status == "failed" and "not.h5" in j.error and "\n" not in j.error
    finally:
        m.shutdown()
