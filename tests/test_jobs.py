"""lewm.jobs: the lab's background-job manager (spawned training process, pause/stop, no overwrite)."""
import os
import time

import pytest

from lewm import jobs
from lewm.runs import read_metrics
from lewm.config import get_preset


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
        assert read_metrics(j.out)["step"][-1] >= 1
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
        assert "nothing was saved in" in j.error  # round 14 (b22): what a failed training left
    finally:
        m.shutdown()
