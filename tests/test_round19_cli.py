"""Round 19 (command line): a killed collect worker, Ctrl-C while starting up, an interrupted report's
held-out file, warnings as one line, an unknown option named first, "expects a number"."""
import glob
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import warnings

import h5py
import pytest

from lewm import cli
from lewm import collect as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _killed_worker(*args):
    """A collect worker the out-of-memory killer ends in the middle of its work."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_collect_worker_stops_the_collect_and_removes_its_temporary_file(tmp_path, monkeypatch):
    from lewm import _collect_pool as pool
    real = pool.start
    monkeypatch.setattr(pool, "start", lambda ctx, target, arg_sets, procs:
                        real(ctx, target, arg_sets[:1], procs) + real(ctx, _killed_worker, arg_sets[1:], procs))
    out = str(tmp_path / "k.h5")
    t0 = time.monotonic()
    with pytest.raises(pool.WorkerDied, match=r"a collect worker died \(killed by SIGKILL: out of memory\?\); "
                                              r"nothing was written"):
        C.collect("two_room", 6, out, image_size=32, workers=2, episode_len=20, progress=False)
    assert time.monotonic() - t0 < 60  # was: waited for ever
    assert not os.path.exists(out) and not glob.glob(str(tmp_path / ".tmp-*"))
    assert mp.active_children() == []
    assert isinstance(pool.WorkerDied("x"), OSError)  # the CLI's one line `error: ...`, exit 2


def test_two_workers_still_collect_the_same_file(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    C.collect("two_room", 3, a, image_size=32, workers=1, episode_len=20, progress=False)
    C.collect("two_room", 3, b, image_size=32, workers=2, episode_len=20, progress=False)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert (fa["pixels"][:] == fb["pixels"][:]).all() and (fa["ep_seed"][:] == fb["ep_seed"][:]).all()


def test_ctrl_c_while_starting_up_is_one_line_and_exit_130(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-m", "lewm", "collect", "--env", "two_room", "--episodes", "4",
                          "--out", str(tmp_path / "s.h5")], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # lewm's own imports done; torch is being imported
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted" in err.strip().splitlines()[-1]


def test_the_package_loads_its_config_names_on_first_use():
    """Round 19's C5 gap: while ``lewm/__init__`` imported numpy (~0.3 s) Python's own Ctrl-C handler was
    still in place. The package now imports nothing heavy, so ``python -m lewm`` installs its handler
    right after the interpreter's own start-up."""
    r = subprocess.run([sys.executable, "-c", "import sys, lewm; assert 'numpy' not in sys.modules; "
                        "from lewm import get_preset, PRESETS; import lewm as L; "
                        "assert get_preset('cpu-tiny') is not None and 'paper' in PRESETS and L.LeWMConfig; "
                        "assert 'TrainConfig' in dir(L)"],
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_the_command_gets_pythons_ctrl_c_handler_back(monkeypatch):
    seen = []

    def startup(signum, frame):
        pass
    startup.lewm_startup = True
    old = signal.signal(signal.SIGINT, startup)
    try:
        monkeypatch.setattr(C, "run_collect", lambda a: seen.append(signal.getsignal(signal.SIGINT)) or 0)
        assert cli.main(["collect", "--env", "two_room", "--episodes", "1", "--out", "z.h5"]) == 0
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [signal.default_int_handler]


def test_warnings_are_one_line(tmp_path):
    script = ("import sys, warnings\n"
              "import lewm.cli as cli, lewm.collect as C\n"
              "def warns(a):\n"
              "    warnings.warn('x.h5: 5 evaluation pairs\\nasked, 3 there', UserWarning)\n"
              "    return 0\n"
              "C.run_collect = warns\n"
              "rc = cli.main(['collect', '--env', 'two_room', '--episodes', '1', '--out', 'z.h5'])\n"
              "assert warnings.formatwarning is not cli._one_line_warning  # put back after main\n"
              "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: x.h5: 5 evaluation pairs asked, 3 there\n"


@pytest.mark.parametrize("argv, unknown", [(["bench", "--help-me"], "--help-me"),
                                           (["train", "--help-all"], "--help-all"),
                                           (["train", "--data", "x.h5", "--bogus=3"], "--bogus=3")])
def test_an_unknown_option_is_named_before_missing_arguments(argv, unknown, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: unrecognized arguments: {unknown} (see: python -m lewm {argv[0]} --help)" in err
    assert "required" not in err


def test_missing_arguments_still_named_with_known_or_abbreviated_options(capsys):
    assert cli.main(["train", "--dat", "x.h5", "--steps", "3"]) == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_expects_a_number(capsys):
    assert cli.main(["collect", "--env", "two_room", "--episodes", "1", "--out", "z.h5", "--mix-random", "0x1"]) == 2
    assert "--mix-random expects a number, got '0x1'" in capsys.readouterr().err
    assert cli.main(["collect", "--env", "two_room", "--episodes", "x", "--out", "z.h5"]) == 2
    assert "--episodes expects an integer, got 'x'" in capsys.readouterr().err


def _heldout(path):
    from lewm.report.data_source import HELDOUT_MARK
    with h5py.File(path, "w") as f:
        f.attrs[HELDOUT_MARK] = 1


def test_an_interrupted_reports_heldout_file_does_not_refuse_the_rerun(tmp_path):
    from lewm.errors import OutputExistsError
    from lewm.report.build import check_report_folder
    ck, out = str(tmp_path / "run" / "last.pt"), tmp_path / "rp"
    out.mkdir()
    _heldout(out / "heldout.h5")
    check_report_folder(str(out), ck, None, False, "--out", "--force")  # only the leftover: collected again
    (out / "report.json").write_text("{}")
    with pytest.raises(OutputExistsError, match=r"holds an earlier report \(report.json, heldout.h5\); pass --force"):
        check_report_folder(str(out), ck, None, False, "--out", "--force")


def test_an_interrupted_report_removes_the_heldout_file_it_collected(tmp_path, monkeypatch, capsys):
    import lewm.report.cli as rc
    out = tmp_path / "rp"

    def interrupted(checkpoint, data, out_, **kw):
        os.makedirs(out_, exist_ok=True)
        _heldout(os.path.join(out_, "heldout.h5"))
        raise KeyboardInterrupt
    monkeypatch.setattr(rc, "make_report", interrupted)
    argv = ["report", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--out", str(out), "--device", "cpu"]
    assert cli.main(argv) == 130
    assert not (out / "heldout.h5").exists()
    assert capsys.readouterr().err.strip() == "interrupted"


def test_c13_disk_space_in_units_that_show_the_numbers(tmp_path, monkeypatch):
    """C13: on a small disk the estimate read 'about 0.00 GiB ... only 0.00 GiB are free'."""
    import shutil
    from collections import namedtuple
    import lewm.collect as C
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 << 20, 10 << 20, 400 << 10))
    with pytest.raises(ValueError, match=r"about 1\.90 MiB \(estimate\) but only 0\.39 MiB are free"):
        C._check_space(str(tmp_path / "d.h5"), int(1.9 * 2**20))
