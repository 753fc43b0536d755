"""Round 14 (session 17): regressions found after round 13's fixes that no module's own test file holds."""
from __future__ import annotations

import signal

from lewm import collect, faults
from lewm.cli import main


def test_a_terminated_collect_is_not_told_about_training(tmp_path, monkeypatch, capsys):
    """a8: 'a training run resumes from its last checkpoint' after a SIGTERM to collect."""
    def stop(a):
        raise faults.Terminated(int(signal.SIGTERM))
    monkeypatch.setattr(collect, "run_collect", stop)
    assert main(["collect", "--env", "two_room", "--episodes", "1", "--out", str(tmp_path / "c.h5")]) == 143
    err = capsys.readouterr().err
    assert "terminated (SIGTERM); nothing was written" in err and "training" not in err


def test_the_planner_page_executes_what_the_agent_ships_with(lab_app):
    """The Reacher agent ships plan_from='best' (its eval.json): the Planner page starts there; Two-Room's mean."""
    import os
    make, _, _ = lab_app
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for env, want in (("reacher", "best"), ("two_room", "mean")):
        at = make("planner", os.path.join(root, "checkpoints", env, "model.pt"))
        assert not at.exception, [e.value for e in at.exception]
        assert at.radio(key="plan_from").value == want
