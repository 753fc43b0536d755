"""Surviving faults: termination signals, one training per folder, stale temporary files, resumed
metrics, worker processes whose parent died, and one-line reports of expected failures.

- ``terminate_as_exception``: SIGTERM raises :class:`Terminated` in the main thread, so ``finally``
  blocks run (partial files removed, worker processes ended, locks released) as for Ctrl-C.
- ``run_lock``: ``OUT/.lock`` holds the pid of the training writing into ``OUT``; a second one is
  refused, the lock of a dead pid is taken over.
- ``clean_stale_tmp``: checkpoint writes killed mid-way leave ``.tmp-*`` files; the next run
  (holding the lock) removes them.
- ``truncate_metrics``: a resumed run drops the metrics lines logged after its checkpoint, so the
  steps in ``metrics.jsonl`` stay strictly increasing.
- ``die_with_parent``: a worker process ends when its parent does (even on ``kill -9``).
- ``report_error``: the one line ``error: ...`` of ``python -m lewm``.

A leaf module: it imports from :mod:`lewm` only inside functions.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import sys
import threading

LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"


TERMINATE = threading.Event()
"""Set by the SIGTERM handler of ``terminate_as_exception``."""


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt: ``except Exception`` lets it pass)."""


class RunLocked(RuntimeError):
    """Another live process is training into the same folder."""


def is_out_of_memory(e: BaseException) -> bool:
    """A machine limit, not a bug: MemoryError, CUDA OOM, or the CPU allocator's refusal."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or (
        isinstance(e, RuntimeError) and "can't allocate memory" in str(e))


def one_line(e: BaseException) -> str:
    """The message of an expected failure as one line naming the file, what happened, what to do."""
    text = str(e)
    if isinstance(e, OSError):
        where = e.filename or ""
        if e.errno == errno.ENOSPC or "No space left on device" in text or "errno = 28" in text:
            return (f"disk full: no space left on the device{' writing ' + str(where) if where else ''}; "
                    f"free some space or choose another output place (partial files were removed)")
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


def report_error(e: BaseException) -> int:
    print(f"error: {one_line(e)}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def terminate_as_exception():
    """Inside: SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        TERMINATE.set()  # remembered: an exception raised inside a __del__ or a C callback is swallowed,
        raise Terminated()  # so long loops also poll ``check_terminated()``

    def unraisable(u):  # the handler's exception, swallowed inside a __del__/weakref callback: the flag
        if not isinstance(u.exc_value, Terminated):  # stays set and the loops poll it, so say nothing
            old_hook(u)

    TERMINATE.clear()
    old, old_hook = signal.signal(signal.SIGTERM, handler), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        sys.unraisablehook = old_hook


def check_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM arrived inside ``terminate_as_exception`` (for loops that
    must not miss it when the handler's own exception was swallowed)."""
    if TERMINATE.is_set():
        raise Terminated()


# ---------------------------------------------------------------------------------------------
# One training per folder
# ---------------------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read_lock(path: str) -> tuple[int, str]:
    try:
        with open(path) as f:
            d = json.loads(f.read() or "{}")
        return int(d.get("pid", 0)), str(d.get("host", ""))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0, ""  # unreadable or half-written: treated as stale


class RunLock:
    """``OUT/.lock`` = ``{"pid": ..., "host": ...}`` of the process training into ``OUT``.

    ``acquire`` creates it atomically (O_EXCL); if it exists and its pid is alive (on this host) it
    raises :class:`RunLocked` naming the pid, else the stale lock is taken over."""

    def __init__(self, folder: str):
        self.folder = folder
        self.path = os.path.join(folder, LOCK_NAME)
        self.held = False

    def acquire(self) -> "RunLock":
        os.makedirs(self.folder, exist_ok=True)
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid, host = _read_lock(self.path)
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
    """Remove the temporary files of killed writes (``checkpoint.save``'s ``.tmp-XXXXXXXX.pt``,
    ``write_atomic``'s ``.tmp-XXXXXXXX.part``; nothing else, whatever folder ``--out`` names) from
    ``folder``; return their names. Only call it while holding the folder's :class:`RunLock`."""
    import re
    ours = re.compile(r"^\.tmp-[A-Za-z0-9_]{8}\.(pt|part)$")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if ours.match(name) and os.path.isfile(os.path.join(folder, name)):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))
                removed.append(name)
    return removed


def truncate_metrics(path: str, last_step: int) -> int:
    """Keep the lines of ``metrics.jsonl`` with ``step <= last_step`` (and drop unreadable ones, e.g.
    a line cut by a kill); rewritten atomically. Returns the number of lines dropped."""
    if not os.path.exists(path):
        return 0
    keep, dropped = [], 0
    with open(path, errors="replace") as f:  # bytes that are not UTF-8 make a line unreadable, not the resume
        for line in f:
            try:
                ok = int(json.loads(line)["step"]) <= last_step
            except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: "step": 1e400
                ok = False
            if ok:
                keep.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        tmp = path + ".truncating"
        with open(tmp, "w") as f:
            f.writelines(keep)
        os.replace(tmp, path)
    return dropped


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


def write_atomic(path: str, text: str) -> str:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    a kill or a full disk leaves the old file (or none), never half a file."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".part", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def publish(tmp: str, path: str, *, replace: bool = True, flag: str = "--out") -> str:
    """Move the finished temporary file ``tmp`` to ``path``. ``replace=False`` (a command without
    ``--force``): ``path`` is created only if it still does not exist (``os.link`` fails on an
    existing name, atomically): two commands started at once into the same new file no longer
    both said "wrote" while the later one silently overwrote the other. The loser's result is
    kept in a sibling ``<name>-kept-<pid><ext>`` and a FileExistsError names both files."""
    if replace:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)  # atomic create-if-absent
        taken = False
    except FileExistsError:
        taken = True
    except OSError:  # a file system without hard links: re-check right before the replace
        taken = os.path.exists(path)
        if not taken:
            os.replace(tmp, path)
            return path
    if taken:
        root, ext = os.path.splitext(path)
        kept = f"{root}-kept-{os.getpid()}{ext}"
        os.replace(tmp, kept)  # not a temporary name: stale-file cleaning must not remove the result
        raise FileExistsError(f"{flag} {path}: was created by another command while this one ran; not "
                              f"overwritten: this result is in {kept} (compare them, then rename it, or rerun "
                              f"with --force)")
    os.remove(tmp)
    return path


# ---------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------
def quiet_worker_hangups(worker_id: int = 0) -> None:
    """A DataLoader ``worker_init_fn``: in the worker, a connection the main process dropped while
    it was stopping (SIGTERM / Ctrl-C raised inside the fd hand-over of a batch) is not printed.
    multiprocessing's resource_sharer thread reports it with ``sys.excepthook``: a
    ``ConnectionResetError`` traceback after the clean ``error: terminated`` line. Other errors
    keep their traceback."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, (ConnectionResetError, BrokenPipeError, EOFError)):
            return
        previous(kind, value, tb)
    sys.excepthook = hook


def die_with_parent(parent_pid: int) -> None:
    """In a worker process: get SIGKILL when the parent dies (Linux ``PR_SET_PDEATHSIG``), and exit
    now if the parent is already gone. Elsewhere only the second check runs."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:
        os._exit(1)
