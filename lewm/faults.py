"""Surviving faults: termination signals, one training per folder, stale temporary files, resumed
metrics, worker processes whose parent died, and one-line reports of expected failures.

- ``terminate_as_exception``: SIGTERM (and SIGHUP: the terminal closed) raises :class:`Terminated` in
  the main thread, so ``finally`` blocks run (partial files removed, worker processes ended, locks released) as for Ctrl-C.
  Inside ``deferred_termination`` (a training loop) the first one only sets a flag: the run stops at its
  step boundary and saves, as on Ctrl-C.
- ``run_lock``: ``OUT/.lock`` holds the pid of the training writing into ``OUT``; a second one is
  refused, the lock of a dead pid is taken over.
- ``clean_stale_tmp``: checkpoint writes killed mid-way leave ``.tmp-*`` files; the next run
  (holding the lock) removes them.
- ``truncate_metrics``: a resumed run drops the metrics lines logged after its checkpoint, so the
  steps in ``metrics.jsonl`` stay strictly increasing.
- ``die_with_parent``: a worker process ends when its parent does (even on ``kill -9``).
- ``report_error``: the one line ``error: ...`` of ``python -m lewm``.

Whole-or-nothing files (``write_atomic``, ``publish``) live in :mod:`lewm.atomic`, re-exported here.

A leaf module: it imports from :mod:`lewm` only inside functions.
"""
from __future__ import annotations

import contextlib
import errno
import json
import numbers
import os
import signal
import socket
import sys
import threading

from ._worker_signals import die_with_parent, quiet_worker_hangups  # noqa: F401  (re-exported)
from .atomic import (  # noqa: F401  (re-exported)
    TMP_PREFIX, DiskFull, WriteFailed, _binary_head, clean_dead_temps, limit_errno, limit_words, normal_mode, pid_alive,
    publish, remove_matching, write_atomic)

LOCK_NAME = ".lock"


TERMINATE = threading.Event()
"""Set by the SIGTERM / SIGHUP handler of ``terminate_as_exception``."""
_LAST_SIGNAL = [int(signal.SIGTERM)]  # the signal that set TERMINATE
TERMINATING = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)
"""The signals ``terminate_as_exception`` turns into :class:`Terminated`: SIGTERM, and SIGHUP (the
terminal closed, the ssh session dropped), whose default action killed a command without a word."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a BaseException, like KeyboardInterrupt: ``except Exception`` lets it
    pass). ``signum`` is the signal; ``exit_code`` the shell's 128 + signum (143, 129). ``said``: the code that
    raised it has already said what the signal left (the trainer's "saved ..."), so the CLI adds no line."""

    def __init__(self, signum: int = int(signal.SIGTERM), said: bool = False):
        super().__init__(signum)
        self.signum = int(signum)
        self.said = bool(said)

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """'SIGTERM', 'SIGHUP' ... (the number itself for an unknown one)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def say(line: str) -> None:
    """Print ``line`` on stderr. After a hangup (the terminal closed) writing to it fails with EIO:
    then stdout and stderr are sent to /dev/null, so that the command can still finish its work (save
    a checkpoint, remove its partial files) instead of failing on every later progress line."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            for stream in (sys.stdout, sys.stderr):
                os.dup2(null, stream.fileno())
            os.close(null)


class RunLocked(RuntimeError):
    """Another live process is training into the same folder."""


def is_out_of_memory(e: BaseException) -> bool:
    """A machine limit, not a bug: MemoryError, CUDA OOM, or the CPU allocator's refusal."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or (
        isinstance(e, RuntimeError) and "can't allocate memory" in str(e))


def one_line(e: BaseException) -> str:
    """The message of an expected failure as one line naming the file, what happened, what to do."""
    text = str(e)
    if isinstance(e, WriteFailed) and e.strerror:
        return e.strerror
    if isinstance(e, OSError):
        where = e.filename or ""
        if e.errno == errno.ENOSPC or "No space left on device" in text or "errno = 28" in text:
            return (f"disk full: no space left on the device{' writing ' + str(where) if where else ''}; "
                    f"free some space or choose another output place (partial files were removed)")
        no = limit_errno(e)  # the file-size limit (EFBIG), a quota, too many open files: was "[Errno 27] ..."
        if no is not None:
            what, todo = limit_words(no)
            return f"{what}{' at ' + str(where) if where else ''}; {todo} (partial files were removed)"
        if "No usable temporary directory" in text and _fsize_limited():
            what, todo = limit_words(errno.EFBIG)  # tempfile's words when every write fails on `ulimit -f`
            return f"no file can be written: {what}; {todo}"
        if e.strerror and where:
            hint = "; choose a place you can write" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else ""
            return f"{where}: {e.strerror}{hint}"
    if is_out_of_memory(e):
        return ("out of memory: the machine (or GPU) could not allocate the tensors this command needs; "
                "lower --batch-size / --samples / the model or image size (nothing was written)")
    if isinstance(e, KeyError):
        text = str(e.args[0]) if e.args else text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " ".join(lines) if lines else type(e).__name__


def _fsize_limited() -> bool:
    from .atomic import _rlimit
    return _rlimit("FSIZE") is not None


def report_error(e: BaseException) -> int:
    print(f"error: {one_line(e)}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def terminate_as_exception():
    """Inside: SIGTERM and SIGHUP raise :class:`Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if _DEFER[0] and not TERMINATE.is_set():  # a training loop stops at its step boundary and saves;
            _LAST_SIGNAL[0] = int(signum)  # a second signal raises at once
            TERMINATE.set()
            with contextlib.suppress(RuntimeError):  # a reentrant write to stderr
                say(f"\n{signal_name(signum)}: stopping after this step and saving the checkpoint "
                    f"({signal_name(signum)} again to stop at once)")
            return
        _LAST_SIGNAL[0] = int(signum)
        TERMINATE.set()  # remembered: an exception raised inside a __del__ or a C callback is swallowed,
        raise Terminated(signum)  # so long loops also poll ``check_terminated()``

    def unraisable(u):  # the handler's exception, swallowed inside a __del__/weakref callback: the flag
        if not isinstance(u.exc_value, Terminated):  # stays set and the loops poll it, so say nothing
            old_hook(u)

    TERMINATE.clear()
    old, old_hook = {s: signal.signal(s, handler) for s in TERMINATING}, sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sys.unraisablehook = old_hook
        TERMINATE.clear()  # handled: a later run in this process (the lab, a test) must not stop at once


_DEFER = [0]  # > 0 inside ``deferred_termination``


@contextlib.contextmanager
def deferred_termination(enabled: bool = True):
    """Inside (and inside ``terminate_as_exception``): the first SIGTERM / SIGHUP only sets ``TERMINATE``
    (:func:`termination_pending` says so), so that a training loop stops at its next step boundary and
    saves its checkpoint, as on Ctrl-C (was: SIGTERM raised mid-step and the steps since the last
    checkpoint were lost); a second one raises :class:`Terminated` at once. ``enabled=False``: a no-op
    (a data-parallel run, whose ranks must stop together, stops at once)."""
    if not enabled:
        yield
        return
    _DEFER[0] += 1
    try:
        yield
    finally:
        _DEFER[0] -= 1


def termination_pending() -> int | None:
    """The signal number of a SIGTERM / SIGHUP deferred by :func:`deferred_termination`, else None."""
    return _LAST_SIGNAL[0] if TERMINATE.is_set() else None


def check_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM / SIGHUP arrived inside ``terminate_as_exception`` (for loops
    that must not miss it when the handler's own exception was swallowed)."""
    if TERMINATE.is_set():
        raise Terminated(_LAST_SIGNAL[0])


# ---------------------------------------------------------------------------------------------
# One training per folder
# ---------------------------------------------------------------------------------------------
def _read_lock(path: str) -> tuple[int, str]:
    try:
        with open(path) as f:
            d = json.loads(f.read() or "{}")
        return int(d.get("pid", 0)), str(d.get("host", ""))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0, ""  # unreadable or half-written: treated as stale


class RunLock:
    """``OUT/.lock`` = ``{"pid": ..., "host": ...}`` of the process training into ``OUT``.

    ``acquire`` creates it atomically (O_EXCL); if it exists and its pid is alive (on this host), or it
    names another host (a shared filesystem: its pid cannot be checked here), it raises
    :class:`RunLocked` naming the pid, else the stale lock is taken over."""

    def __init__(self, folder: str):
        if not isinstance(folder, (str, os.PathLike)) or not str(os.fspath(folder)).strip():
            raise TypeError(f"RunLock(folder=...) must be a run folder's path, got {folder!r:.60}")
        self.folder = os.fspath(folder)
        self.path = os.path.join(folder, LOCK_NAME)
        self.held = False

    def acquire(self) -> "RunLock":
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):  # was: FileExistsError from makedirs
            raise ValueError(f"RunLock(folder=...) {self.folder}: is a file, expected a run folder")
        try:
            os.makedirs(self.folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file on the way: D.h5/run
            raise ValueError(f"RunLock(folder=...) {self.folder}: a part of the path is a file, not a folder; "
                             f"expected a run folder") from None
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if os.path.isdir(self.path) and not os.path.islink(self.path):  # was: "[Errno 21] Is a directory"
                    raise ValueError(f"{self.path}: is a folder where the run's lock file goes (made by hand?); "
                                     f"remove it (it locks nothing), or choose another out folder") from None
                pid, host = _read_lock(self.path)
                if pid and host and host != socket.gethostname():  # a shared filesystem: not checkable here
                    raise RunLocked(f"{self.folder}: locked by pid {pid} on {host} (another machine, whose "
                                    f"processes this one cannot see); if no training runs there into this "
                                    f"folder, delete {self.path}") from None
                if pid and pid_alive(pid) and host in ("", socket.gethostname()):
                    raise RunLocked(f"{self.folder}: another training (pid {pid}) is writing into this folder; "
                                    f"wait for it to finish, stop it, or choose another --out "
                                    f"(if no such process runs, delete {self.path})") from None
                with contextlib.suppress(FileNotFoundError):  # stale: the pid is gone
                    os.remove(self.path)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self.held = True
            return self
        raise RunLocked(f"{self.folder}: could not take the lock {self.path}; another process keeps taking it")

    def release(self) -> None:
        if self.held:
            self.held = False
            if _read_lock(self.path)[0] == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def clean_stale_tmp(folder: str) -> list[str]:
    """Remove the temporary files of killed writes (``checkpoint.save``'s and ``write_atomic``'s
    ``.tmp-<name>.<pid>-<token>.pt|part`` of a dead pid, and the older anonymous ``.tmp-XXXXXXXX.pt|part``;
    nothing else, whatever folder ``--out`` names) from ``folder``; return their names. Only call it while
    holding the folder's :class:`RunLock`."""
    import re
    ours = re.compile(r"^\.tmp-[A-Za-z0-9_]{8}\.(pt|part)$")  # the older anonymous names (no pid)
    return remove_matching(folder, ours, dead_only=False) + clean_dead_temps(folder)


def truncate_metrics(path: str, last_step: int) -> int:
    """Keep the lines of ``metrics.jsonl`` with ``step <= last_step`` (and drop unreadable ones, e.g.
    a line cut by a kill); rewritten atomically. Returns the number of lines dropped.

    Only a JSON-lines metrics log is rewritten: a dataset, a checkpoint, a JSON document or a text file
    with no ``step`` line is refused (ValueError naming it; every line of it was dropped: the file ended
    empty), and so is a ``last_step`` that is not a whole number >= 0 (-1 dropped every line)."""
    fn = "truncate_metrics"
    if isinstance(last_step, bool) or not isinstance(last_step, numbers.Integral):
        raise TypeError(f"{fn}(last_step=...) must be a whole number >= 0 (the checkpoint's step), "
                        f"got {last_step!r:.60}")
    if last_step < 0:
        raise ValueError(f"{fn}(last_step=...) must be >= 0 (the checkpoint's step), got {last_step}: "
                         f"every line would be dropped")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(path=...) must be a path (a string), got {path!r:.60}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{fn}(path=...) {path}: is a folder, expected a run's metrics.jsonl")
    if not os.path.exists(path):
        return 0
    _check_metrics_log(path, fn)
    keep, dropped = [], 0
    with open(path, errors="replace") as f:  # bytes that are not UTF-8 make a line unreadable, not the resume
        for line in f:
            ok = _line_step(line)
            ok = ok is not None and ok <= last_step
            if ok:
                keep.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        write_atomic(path, "".join(keep))
    return dropped


def _line_step(line: str) -> int | None:
    """The ``step`` of a metrics line; None for a line that is not one (cut by a kill, not JSON)."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError, OverflowError, IndexError):  # OverflowError: "step": 1e400
        return None


def _check_metrics_log(path: str, fn: str) -> None:
    """``path`` is a JSON-lines metrics log (or the run's own ``metrics.jsonl``, whatever a kill left in
    it), not a dataset, a checkpoint, a JSON document or another text file: those would be emptied."""
    from .runs import file_kind
    if _binary_head(path):
        raise ValueError(f"{fn}(path=...) {path}: is {file_kind(path) or 'a binary file'}, not a JSON-lines "
                         f"metrics log (like a run's metrics.jsonl); it was not touched")
    with open(path, errors="replace") as f:
        text = f.read()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:  # config.json, eval.json: one JSON document over several lines, each unreadable alone
            raise ValueError(f"{fn}(path=...) {path}: is {file_kind(path) or 'a JSON document'}, not a JSON-lines "
                             f"metrics log (like a run's metrics.jsonl); it was not touched")
    if lines and os.path.basename(path) != "metrics.jsonl" and all(_line_step(ln) is None for ln in lines):
        raise ValueError(f"{fn}(path=...) {path}: is a text file with no metrics line (a JSON object with a "
                         f"'step'), not a run's metrics.jsonl; it was not touched")


def torchrun_env() -> tuple[int, int, int]:
    """``(RANK, WORLD_SIZE, LOCAL_RANK)`` from torchrun's environment (0, 1, 0 when unset or empty).
    A value that is not a whole number in range is a ValueError naming the variable: was ``invalid
    literal for int()`` naming none, and for RANK only after the whole training had run."""
    got = {}
    for name, default, lo in (("RANK", 0, 0), ("WORLD_SIZE", 1, 1), ("LOCAL_RANK", 0, 0)):
        raw = os.environ.get(name, "").strip()
        try:
            got[name] = int(raw) if raw else default
        except ValueError:
            got[name] = None
        if got[name] is None or got[name] < lo:
            raise ValueError(f"environment variable {name}={os.environ.get(name)!r}: expected a whole number "
                             f">= {lo} (torchrun sets it); unset it for a single-process run")
    if got["RANK"] >= got["WORLD_SIZE"]:  # RANK=1 alone trained and then reported nothing
        raise ValueError(f"environment variable RANK={got['RANK']} must be below WORLD_SIZE={got['WORLD_SIZE']}; "
                         f"unset RANK for a single-process run, or launch with torchrun")
    return got["RANK"], got["WORLD_SIZE"], got["LOCAL_RANK"]


# ---------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------
