"""Reliability round 12 (issue 16): valid inputs refused in round 11 (a numpy bool flag, numpy scalar metrics,
``?ckpt=`` naming a run folder), the lab's Data page with LEWM_LAB_RUNS naming a file, and the collection
commands (a dataset written under a checkpoint's ``.pt`` name; scripts/collect_agent.py's Ctrl-C / SIGTERM and
its advice naming a ``--protocol`` it does not have)."""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import sys

import numpy as np
import pytest
import torch

from lewm import checkpoint
from lewm._api_checks import flag
from lewm.collect import collect
from lewm.config import get_preset
from lewm.model import LeWM
from lewm.train import train

from _cli_errors import one_error_line
from test_scripts_round10 import _run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
CFG = get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 8})


@pytest.fixture(scope="module")
def run1(syn_h5, tmp_path_factory):
    """A cpu-tiny run of 1 step, trained with numpy bools as its flags (tr2): its folder."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    out = str(tmp_path_factory.mktemp("r12") / "run1")
    try:
        res = train(CFG, syn_h5, out, steps=1, progress=np.False_, resume=np.True_)
    finally:
        torch.set_num_threads(n)
    assert res.checkpoint == os.path.join(out, "last.pt")
    return out


# ------------------------------------------------------------------------------- numpy bools and scalars
def test_numpy_bools_are_bools_and_strings_are_still_refused(run1, syn_h5, tmp_path):
    assert os.path.isfile(os.path.join(run1, "last.pt"))  # tr2: train(progress=np.False_) ran
    assert flag("f", "x", np.False_) is False and flag("f", "x", np.True_) is True
    for bad in ("no", 1, np.int64(1)):
        with pytest.raises(TypeError, match=r"f\(x=\.\.\.\) must be True or False"):
            flag("f", "x", bad)
    with pytest.raises(ValueError, match=r"train\(progress=\.\.\.\) must be true or false"):
        train(CFG, syn_h5, str(tmp_path / "r"), steps=1, progress="no")
    assert not os.path.exists(tmp_path / "r")


def test_save_takes_numpy_scalar_metrics_as_numbers(tmp_path):
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny")
    m = LeWM(cfg.model)
    metrics = {"loss": np.float32(0.5), "step": np.int64(3), "hist": [np.float64(1.5), (np.int32(2),)],
               "ok": np.True_}
    path = checkpoint.save(str(tmp_path / "k2.pt"), m, cfg, metrics=metrics, half=np.False_)
    got = checkpoint.load(path)[2]["metrics"]
    assert got == {"loss": 0.5, "step": 3, "hist": [1.5, [2]], "ok": True}
    assert type(got["loss"]) is float and type(got["step"]) is int
    with pytest.raises(TypeError, match=r"save\(metrics=\.\.\.\)\['x'\] must be a number"):  # not a number: refused
        checkpoint.save(str(tmp_path / "k3.pt"), m, cfg, metrics={"x": object()})
    assert not os.path.exists(tmp_path / "k3.pt")


# ------------------------------------------------------------------------------- a dataset under a .pt name
@pytest.mark.parametrize("name", ["x.pt", "x.PTH", "x.ckpt"])
def test_collect_refuses_a_checkpoint_name_for_a_dataset(name, tmp_path, capsys):
    from lewm.cli import main
    out = tmp_path / name
    with pytest.raises(ValueError, match=r"collect\(out=\.\.\.\) .*checkpoint's.*x\.h5"):
        collect("two_room", 1, str(out), episode_len=5, image_size=16, workers=1, progress=False)
    capsys.readouterr()
    assert main(["collect", "--env", "two_room", "--episodes", "1", "--episode-len", "5", "--image-size", "16",
                 "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--out" in line and name in line and "x.h5" in line
    assert not os.path.exists(out)


def test_collect_agent_refuses_a_checkpoint_name(tmp_path, capsys):
    out = tmp_path / "a12.pt"
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", SHIPPED, "--out", str(out), "--episodes", "1",
                                                "--budget", "2"])
    line = one_error_line(err)
    assert rc == 2 and "--out" in line and "a12.h5" in line and not os.path.exists(out)


# ------------------------------------------------------------------------------- collect_agent.py
@pytest.mark.parametrize("content,words", [('{"solver": "bogus"}', "no 'planner' object"),
                                           ("nonsense{", "not readable JSON")])
def test_collect_agent_advice_fits_the_script(content, words, tmp_path, capsys):
    ck = tmp_path / "ck"
    ck.mkdir()
    shutil.copy(SHIPPED, ck / "model.pt")
    (ck / "eval.json").write_text(content)
    rc, _, err = _run(capsys, "collect_agent", ["--checkpoint", str(ck), "--out", str(tmp_path / "a.h5"),
                                                "--episodes", "1", "--budget", "2"])
    line = one_error_line(err)
    assert rc == 2 and words in line and "eval.json" in line and "fix it or remove it" in line, line
    assert "--protocol" not in line and not os.path.exists(tmp_path / "a.h5")


@pytest.mark.parametrize("how,rc,words", [("int", 130, "interrupted"), ("term", 143, "terminated (SIGTERM)")])
def test_collect_agent_interrupted_in_one_line(how, rc, words, tmp_path, capsys, monkeypatch):
    import lewm.planning.episode as episode

    def stop(*a, **k):
        if how == "int":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)  # the script's handler turns it into faults.Terminated
        raise AssertionError("SIGTERM did not stop the script")

    monkeypatch.setattr(episode, "run_episode", stop)
    old = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "s.h5"
    got, _, err = _run(capsys, "collect_agent", ["--checkpoint", SHIPPED, "--out", str(out), "--episodes", "2",
                                                 "--budget", "2"])
    lines = [x for x in err.splitlines() if x.strip()]
    assert got == rc and len(lines) == 1 and words in lines[0], err
    assert "Traceback" not in err and not os.listdir(tmp_path)  # nothing partial left
    assert signal.getsignal(signal.SIGTERM) == old  # the handler is uninstalled


# ------------------------------------------------------------------------------- the lab (AppTest)
def test_lab_ckpt_may_name_a_run_folder(lab_app):
    make, runs, _ = lab_app
    run = os.path.join(runs, "ru n é")
    os.makedirs(run)
    shutil.copy(SHIPPED, os.path.join(run, "last.pt"))
    at = make("welcome", run)
    assert not at.exception, [e.value for e in at.exception]
    assert not [w.value for w in at.warning if w.value.startswith("?ckpt=")]
    assert at.session_state["sb_checkpoint"] == "ru n é (run)"


def test_lab_data_page_with_a_file_as_runs_folder_says_so_in_one_line(lab_app, tmp_path):
    from _lab_assets import page_with_setting
    bad = str(tmp_path / "d.h5")
    open(bad, "wb").close()
    at = page_with_setting(lab_app, "LEWM_LAB_RUNS", bad, "data")
    errs = [e.value for e in at.error if "LEWM_LAB_RUNS" in e.value]
    assert len(errs) == 1 and bad in errs[0] and "is a file, expected a folder" in errs[0], errs


# ---------------------------------------------------------------------------------------------
# round 12, fixed at the end of session 16: w4, w9, f5, k11
# ---------------------------------------------------------------------------------------------
def test_round12_write_atomic_runlock_and_save_refuse_in_one_line(tmp_path):
    import numpy as np
    from lewm import faults
    p = str(tmp_path / "w.txt")
    with pytest.raises(ValueError, match=r"write_atomic\(path=\.\.\.\) .*ends in '/'"):
        faults.write_atomic(p + "/", "x")
    for bad in ("no", 1):
        with pytest.raises(TypeError, match=r"write_atomic\(replace=\.\.\.\) must be True or False"):
            faults.write_atomic(p, "x", replace=bad)
    assert not os.path.exists(p)
    assert faults.write_atomic(p, "x", replace=np.True_) == p and open(p).read() == "x"
    with pytest.raises(TypeError, match=r"RunLock\(folder=\.\.\.\)"):
        faults.RunLock(None)


def test_round12_save_refuses_an_optimizer_state_without_its_keys(tmp_path):
    from lewm import checkpoint
    from lewm.config import get_preset
    from lewm.model import LeWM
    cfg = get_preset("cpu-tiny").with_overrides(model={"image_size": 32})
    p = str(tmp_path / "k.pt")
    with pytest.raises(ValueError, match=r"save\(optimizer=\.\.\.\) .*'state' and 'param_groups'"):
        checkpoint.save(p, LeWM(cfg.model), cfg, optimizer={"bogus": 1})
    assert not os.path.exists(p)
    m = LeWM(cfg.model)
    opt = __import__("torch").optim.AdamW(m.parameters())
    checkpoint.save(p, m, cfg, optimizer=opt.state_dict())
    assert os.path.exists(p)


def test_no_command_is_an_error_not_a_success(capsys):
    """Round 12 (c1): a script's empty $CMD ran `python -m lewm` and passed for success."""
    from lewm.cli import main
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "error: no COMMAND given" in err and "collect" in err


def test_sighup_while_starting_up_says_one_line(tmp_path):
    """Round 12 (s7): a SIGHUP during the imports ended with only the shell's 'Hangup'."""
    import signal
    import subprocess
    import sys
    import time
    root = pathlib.Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-m", "lewm", "collect", "--env", "two_room", "--episodes", "1",
                          "--image-size", "32", "--out", str(tmp_path / "x.h5")], cwd=root,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.6)  # inside torch's imports (or, on a fast machine, the command: its own handler speaks)
    p.send_signal(signal.SIGHUP)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGHUP and "SIGHUP" in err, (p.returncode, err)
    assert not (tmp_path / "x.h5").exists()



def test_the_lab_lists_an_upper_case_h5(tmp_path, monkeypatch):
    """Round 12 (lab-up): `collect --out x.H5` writes such a name; the lab listed only *.h5."""
    pytest.importorskip("streamlit")
    root = pathlib.Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "app"))
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path))
    (tmp_path / "data").mkdir()
    for name in ("UP.H5", "low.h5", "notes.txt"):
        (tmp_path / "data" / name).write_bytes(b"")
    import discovery
    names = {os.path.basename(p) for p in discovery.list_datasets()}
    assert {"UP.H5", "low.h5"} <= names and "notes.txt" not in names
