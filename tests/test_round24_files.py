"""Round 24 (writes under faults), files: Q2 a checkpoint save over the file-size limit, Q3 EFBIG /
EMFILE as one line naming the output, Q5 temporaries of killed writes removed by the next write of the
same output, Q9 a signal right after the temporary's creation, Q11 a refused final rename names the output."""
from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from lewm import atomic, checkpoint, faults
from lewm.config import get_preset
from lewm.model import LeWM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = get_preset("cpu-tiny").with_overrides(model={"image_size": 32})


def _tmps(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(".tmp-"))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _py(code: str, *, fsize: int | None = None, nofile: int | None = None, timeout: int = 60):
    """Run ``code`` in a fresh interpreter (the repo on its path) under the given limits -> (rc, stderr)."""
    def limits():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout, preexec_fn=limits, env={**os.environ, "PYTHONPATH": ROOT})
    return p.returncode, p.stderr


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ck") / "last.pt")
    torch.manual_seed(0)
    checkpoint.save(path, LeWM(CFG.model), CFG, 2)
    return path


# ----------------------------------------------------------------------------------- Q2 / Q3
def test_q2_checkpoint_over_the_file_size_limit_is_one_line_keeping_the_previous(ckpt, tmp_path):
    path = str(tmp_path / "last.pt")
    with open(ckpt, "rb") as f:
        before = f.read()
    open(path, "wb").write(before)
    code = f"""
        from lewm import checkpoint, faults
        from lewm.model import LeWM
        m, cfg, meta = checkpoint.load({path!r})
        try:
            checkpoint.save({path!r}, m, cfg, 4)
        except OSError as e:
            raise SystemExit(faults.report_error(e))
    """
    rc, err = _py(code, fsize=len(before) // 2)  # a real EFBIG inside torch.save (was a 38-line traceback)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: file too large: over this process's file-size limit ({len(before) // 2} "
                               f"bytes, `ulimit -f`; the disk has space) while saving {path}; the previous "
                               f"checkpoint there (step 2) is intact; raise the limit"), lines
    assert open(path, "rb").read() == before and _tmps(tmp_path) == []


def test_q3_export_over_the_file_size_limit_names_the_output(ckpt, tmp_path):
    out = str(tmp_path / "m.pt")
    p = subprocess.run([sys.executable, "-m", "lewm", "export", "--checkpoint", ckpt, "--out", out], cwd=ROOT,
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr  # was: "error: [Errno 27] File too large"
    assert lines[0].startswith("error: file too large: over this process's file-size limit (20000 bytes") \
        and f"while saving {out}; nothing was written there" in lines[0], lines
    assert os.listdir(tmp_path) == []


def test_q3_write_atomic_efbig_and_emfile_name_the_output_and_keep_the_old_file(tmp_path):
    out = str(tmp_path / "e.json")
    open(out, "w").write("old")
    code = f"""
        from lewm import faults
        try:
            faults.write_atomic({out!r}, "x" * 100000)
        except OSError as e:
            raise SystemExit(faults.report_error(e))
    """
    rc, err = _py(code, fsize=4096)
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: file too large: over this process's file-size limit (4096 bytes, `ulimit -f`; "
                          f"the disk has space) while writing {out}; nothing was written under that name (the "
                          f"previous file there is intact); raise the limit"), err
    assert open(out).read() == "old" and _tmps(tmp_path) == []
    code = f"""
        import os, resource
        from lewm import faults
        while True:  # use up every descriptor
            try:
                os.open(os.devnull, os.O_RDONLY)
            except OSError:
                break
        try:
            faults.write_atomic({out!r}, "new")
        except OSError as e:
            raise SystemExit(faults.report_error(e))
    """
    rc, err = _py(code, nofile=32)
    assert rc == 2 and err.count("\n") == 1, err  # was: "error: [Errno 24] Too many open files"
    assert err.startswith(f"error: too many open files (this process's limit of 32 (`ulimit -n`)) while writing "
                          f"{out}; nothing was written under that name (the previous file there is intact); raise "
                          f"the limit (e.g. `ulimit -n 4096`) or lower --workers"), err
    assert open(out).read() == "old" and _tmps(tmp_path) == []


def test_q3_one_line_maps_limits_without_a_file_name():
    line = faults.one_line(OSError(errno.EMFILE, "Too many open files"))
    assert line.startswith("too many open files (") and "ulimit -n" in line and "lower --workers" in line
    assert faults.one_line(OSError(errno.EDQUOT, "Disk quota exceeded", "q.h5")).startswith(
        "disk quota exceeded at q.h5; free some space")
    code = """
        from lewm import faults
        raise SystemExit(faults.report_error(FileNotFoundError(2, "No usable temporary directory found in ['/tmp']")))
    """
    rc, err = _py(code, fsize=0)  # bench --json with `ulimit -f 0`: tempfile's words were all it said
    assert rc == 2 and err.startswith("error: no file can be written: file too large: over this process's "
                                      "file-size limit (0 bytes"), err


# ----------------------------------------------------------------------------------- Q5 / Q9
def test_q5_the_next_write_of_an_output_removes_a_killed_writes_temporary(tmp_path, ckpt):
    out, pt = str(tmp_path / "e.json"), str(tmp_path / "m.pt")
    code = f"""
        import os, signal
        from lewm import atomic, checkpoint
        atomic.publish = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # killed before the rename
        atomic.write_atomic({out!r}, "killed")
    """
    assert _py(code)[0] == -signal.SIGKILL
    code = f"""
        import os, signal
        from lewm import atomic, checkpoint
        atomic.publish = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        m, cfg, meta = checkpoint.load({ckpt!r})
        checkpoint.save({pt!r}, m, cfg, 3)
    """
    assert _py(code)[0] == -signal.SIGKILL
    left = _tmps(tmp_path)
    assert len(left) == 2 and any(n.startswith(".tmp-e.json.") and n.endswith(".part") for n in left) and \
        any(n.startswith(".tmp-m.pt.") and n.endswith(".pt") for n in left), left
    live = tmp_path / f".tmp-e.json.{os.getppid()}-abcdef.part"  # a running writer's: stays
    other = tmp_path / f".tmp-f.json.{_dead_pid()}-abcdef.part"  # another output's: not this write's business
    live.write_text("live"), other.write_text("other")
    atomic.write_atomic(out, "ok")
    m, cfg, _ = checkpoint.load(ckpt)
    checkpoint.save(pt, m, cfg, 3)
    assert open(out).read() == "ok" and checkpoint.load(pt)[2]["step"] == 3
    assert _tmps(tmp_path) == sorted([live.name, other.name])
    assert faults.clean_stale_tmp(str(tmp_path)) == [other.name] and _tmps(tmp_path) == [live.name]  # a run's


@pytest.mark.parametrize("which", ["write_atomic", "save"])
def test_q9_a_signal_right_after_the_temporary_is_created_removes_it(tmp_path, ckpt, monkeypatch, which):
    real = os.open

    def open_then_signal(p, *a, **k):
        fd = real(p, *a, **k)
        if os.path.basename(str(p)).startswith(".tmp-"):
            raise faults.Terminated(signal.SIGTERM)  # what the SIGTERM handler raises at that bytecode
        return fd
    m, cfg, _ = checkpoint.load(ckpt)
    monkeypatch.setattr(atomic.os, "open", open_then_signal)
    with pytest.raises(faults.Terminated):
        if which == "save":
            checkpoint.save(str(tmp_path / "x.pt"), m, cfg, 1)
        else:
            atomic.write_atomic(str(tmp_path / "x.json"), "{}")
    assert os.listdir(tmp_path) == []  # was: .tmp-65l83myn.pt left, "partial outputs were removed" said


# ----------------------------------------------------------------------------------- Q11
def test_q11_a_refused_rename_names_the_output_not_the_temporary(tmp_path, ckpt, monkeypatch):
    out, pt = str(tmp_path / "e.json"), str(tmp_path / "last.pt")
    open(out, "w").write("old")
    m, cfg, _ = checkpoint.load(ckpt)
    checkpoint.save(pt, m, cfg, 4)

    def refuse(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted", src, None, dst)
    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(atomic.WriteFailed) as e:
        atomic.write_atomic(out, "new")
    line = faults.one_line(e.value)
    assert line.startswith(f"cannot replace {out} (Operation not permitted: the file is immutable or append-only")
    assert "the previous file there is intact" in line and ".tmp-" not in line
    with pytest.raises(atomic.WriteFailed) as e:
        checkpoint.save(pt, m, cfg, 8)
    line = faults.one_line(e.value)
    assert line.startswith(f"cannot replace {pt} (Operation not permitted") and ".tmp-" not in line
    assert "the previous checkpoint there (step 4) is intact" in line
    monkeypatch.undo()
    assert open(out).read() == "old" and checkpoint.load(pt)[2]["step"] == 4 and _tmps(tmp_path) == []


def test_q11_an_immutable_output_is_refused_before_the_work(tmp_path):
    out = str(tmp_path / "d.h5")
    open(out, "w").write("x")
    atomic.check_not_immutable(out, "--out")  # an ordinary file: accepted
    atomic.check_not_immutable(str(tmp_path / "new.h5"), "--out")
    if subprocess.run(["chattr", "+i", out], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (not root, or the file system has no such flag)")
    try:
        with pytest.raises(ValueError, match=rf"^--out {out}: the file is immutable \(chattr \+i\) and cannot be "
                                             rf"replaced; nothing was done"):
            atomic.check_not_immutable(out, "--out")
    finally:
        subprocess.run(["chattr", "-i", out])
