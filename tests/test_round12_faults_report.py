"""Reliability round 12 (issue 16): SIGTERM / SIGHUP during eval threw the finished episodes away, two reports
into one folder at once, ``faults.write_atomic`` over a dataset or a checkpoint, ``faults.publish`` on missing or
folder paths, and ``report --force --no-html`` leaving the earlier report's page beside the new JSON."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time

import pytest

from lewm import faults
from lewm.cli import main

from _report import _tiny_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
FAST = ["--episodes", "5", "--samples", "8", "--topk", "2", "--iterations", "1", "--budget", "5", "--threads", "1"]
REPORT = ["--quick", "--episodes", "2", "--max-frames", "40", "--decoder-steps", "0", "--horizon", "2",
          "--landscape-goals", "0"]


@pytest.fixture
def ckpt(tmp_path):
    p = str(tmp_path / "model.pt")
    shutil.copy(SHIPPED, p)
    return p


def _bytes(p) -> bytes:
    with open(p, "rb") as f:
        return f.read()


# ------------------------------------------------------------------------------------------ eval
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_eval_terminated_keeps_the_finished_episodes(sig, code, ckpt, tmp_path, capsys, monkeypatch):
    """s3 / s4: SIGTERM or SIGHUP removed every finished episode; Ctrl-C kept them."""
    import lewm.evaluate as ev
    real, calls = ev.run_episode, []

    def episode(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), sig)
            time.sleep(5)
        return real(*a, **k)
    monkeypatch.setattr(ev, "run_episode", episode)
    out = tmp_path / "r.json"
    assert main(["eval", "--checkpoint", ckpt, "--out", str(out), *FAST]) == code
    res = json.loads(out.read_text())
    assert res["interrupted"] is True and res["episodes"] == 2 and res["episodes_requested"] == 5
    assert res["signal"] == signal.Signals(sig).name and len(res["per_episode"]) == 2
    err = capsys.readouterr().err
    assert f"terminated ({signal.Signals(sig).name}" in err and "after 2 of 5 episodes" in err
    assert not faults.TERMINATE.is_set()


# ---------------------------------------------------------------------------------- faults API
def test_write_atomic_refuses_a_dataset_or_a_checkpoint(syn_h5, ckpt, tmp_path):
    """w1 / w2: the dataset or checkpoint became the text."""
    data = str(tmp_path / "d.h5")
    shutil.copy(syn_h5, data)
    for p, words in ((data, "HDF5"), (ckpt, "checkpoint")):
        before = _bytes(p)
        with pytest.raises(ValueError, match=re.escape(f"write_atomic(path=...) {p}: is ") + f".*{words}.*not touched"):
            faults.write_atomic(p, "x")
        assert _bytes(p) == before
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    txt = tmp_path / "r.json"  # valid: a text file is still replaced
    txt.write_text("{}")
    faults.write_atomic(str(txt), '{"a": 1}')
    assert json.loads(txt.read_text()) == {"a": 1}


def test_publish_names_a_missing_source_a_missing_folder_and_a_folder_target(tmp_path):
    """p1 / p2 / p3: FileNotFoundError / IsADirectoryError naming both paths."""
    tmp = tmp_path / "p.tmp"
    tmp.write_text("x")
    missing = str(tmp_path / "nonexist.tmp")
    with pytest.raises(ValueError, match=re.escape(f"publish(tmp=...) {missing}: no such file")):
        faults.publish(missing, str(tmp_path / "p2.txt"))
    target = str(tmp_path / "nodir" / "x.txt")
    with pytest.raises(ValueError, match=re.escape(f"publish(path=...) {target}: its folder ") + ".*does not exist"):
        faults.publish(str(tmp), target)
    (tmp_path / "adir").mkdir()
    with pytest.raises(ValueError, match=re.escape(f"publish(path=...) {tmp_path / 'adir'}: is a folder")):
        faults.publish(str(tmp), str(tmp_path / "adir"))
    assert tmp.read_text() == "x" and os.listdir(tmp_path / "adir") == []
    faults.publish(str(tmp), str(tmp_path / "ok.txt"))  # valid
    assert (tmp_path / "ok.txt").read_text() == "x" and not tmp.exists()


# ----------------------------------------------------------------------------------------- report
def test_two_reports_into_one_folder_keep_both(syn_h5, tmp_path, capsys, monkeypatch, one_thread):
    """k1: both printed '-> X/report.json'; one report silently replaced the other."""
    import lewm.report._output as output
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "rep"
    real = output.write_atomic

    def race(path, text, **k):  # the other report finishes first, after this one's start check
        if path.endswith("report.json") and not os.path.exists(path):
            with open(path, "w") as f:
                f.write('{"theirs": true}')
        return real(path, text, **k)
    monkeypatch.setattr(output, "write_atomic", race)
    argv = ["report", "--checkpoint", ckpt, "--data", syn_h5, "--out", str(out), *REPORT, "--no-html"]
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err[-1].startswith("error: --out ") and "was created by another command" in err[-1]
    assert "report-kept-" in err[-1]
    assert json.loads((out / "report.json").read_text()) == {"theirs": True}
    kept = [n for n in os.listdir(out) if n.startswith("report-kept-")]
    assert len(kept) == 1 and "frames_encoded" in json.loads((out / kept[0]).read_text())
    monkeypatch.setattr(output, "write_atomic", real)
    assert main(argv + ["--force"]) == 0  # valid: --force replaces it
    assert "frames_encoded" in json.loads((out / "report.json").read_text())


def test_report_force_no_html_removes_the_earlier_page(syn_h5, tmp_path, capsys, one_thread):
    """r18: report.html of the earlier report stayed beside the new report.json."""
    from lewm.report._output import _remove_stale_html
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "rep"
    out.mkdir()
    page = out / "report.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>LeWM report</title></head></html>")
    (out / "report.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    argv = ["report", "--checkpoint", ckpt, "--data", syn_h5, "--out", str(out), *REPORT, "--no-html", "--force"]
    assert main(argv) == 0
    assert not page.exists() and (out / "notes.txt").read_text() == "mine"
    assert f"removed {page}" in capsys.readouterr().out
    assert "frames_encoded" in json.loads((out / "report.json").read_text())
    other = out / "report.html"  # a file of that name that is not a report page is left, with a note
    other.write_text("my own page")
    _remove_stale_html(str(other), print)
    assert other.read_text() == "my own page" and "left as it is" in capsys.readouterr().out
