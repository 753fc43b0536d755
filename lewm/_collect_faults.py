"""Faults while a dataset file is written (collect, scripts/collect_agent.py): a write the file system refuses
(a file-size limit, a full disk, a quota) inside HDF5, and a signal that arrives while the result is published.
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading

_REFUSED = {  # errno -> (its text in HDF5's messages, what it means, what to do)
    errno.EFBIG: ("errno = 27", "file too large (a file-size limit, `ulimit -f`?)",
                  "raise the limit, or write fewer episodes or smaller images"),
    errno.ENOSPC: ("errno = 28", "disk full: no space left on the device",
                   "free some space or choose another place"),
    errno.EDQUOT: ("errno = 122", "disk quota exceeded", "free some space in your quota or choose another place"),
}
WRITTEN: list = []
"""``[path, identity]`` of the dataset this process published last (:func:`published`)."""


def write_refused(e: BaseException, out: str, flag: str | None = "--out"):
    """The one-line error (a :class:`lewm.faults.DiskFull`, reported as it is) for a write of the dataset ``out``
    that the file system refused; None for any other error."""
    from .faults import DiskFull
    if isinstance(e, DiskFull) or not isinstance(e, (OSError, RuntimeError)):
        return None
    text = str(e)
    for code, (needle, what, todo) in _REFUSED.items():
        if getattr(e, "errno", None) == code or needle in text or os.strerror(code) in text:
            name = f"{flag} {out}" if flag else out
            return DiskFull(code, f"{what} while writing {name}; nothing was written (its temporary file was "
                                  f"removed); {todo}")
    return None


@contextlib.contextmanager
def h5_temp(tmp: str, out: str, flag: str | None = "--out"):
    """``h5py.File(tmp, "x")`` for the temporary file of the dataset ``out``. On any error inside (or when
    closing), the file's descriptor is first pointed at /dev/null, so that HDF5 can flush and close its objects
    (a refused write left them open: 130 lines of ``__dealloc__`` tracebacks, then a segfault at exit); a refused
    write is raised as one line naming ``out`` (:func:`write_refused`). The caller removes ``tmp``. Write through
    dataset objects held for the whole write: a temporary one (``f["pixels"][i] = ...``) flushes in its
    ``__dealloc__``, where an error is swallowed."""
    import h5py
    f = h5py.File(tmp, "x")  # never truncates a file it did not make
    try:
        fd = f.id.get_vfd_handle()
    except Exception:  # another driver: no descriptor to redirect
        fd = None
    try:
        yield f
        f.flush()  # a refused write fails here, every object still open (inside close it left them half closed)
        f.close()
    except BaseException as e:
        if fd is not None:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
        with contextlib.suppress(Exception):  # now into /dev/null: every object closes
            f.close()
        err = write_refused(e, out, flag)
        if err is not None:
            raise err from None
        raise


@contextlib.contextmanager
def signals_held():
    """Inside (main thread only): Ctrl-C, SIGTERM and SIGHUP wait; on leaving, the first one that arrived goes to
    the handler that was in force (KeyboardInterrupt / :class:`lewm.faults.Terminated` as usual). Around a
    publish: a signal never falls between the rename and the record of what was published."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    sigs = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    old = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            h = old[got[0]]
            if callable(h):
                h(got[0], None)
            elif h == signal.SIG_DFL:
                os.kill(os.getpid(), got[0])


def record_written(path: str) -> None:
    """Remember that this process published the dataset ``path`` (:func:`published`)."""
    from .collect import file_identity
    WRITTEN[:] = [path, file_identity(path)]


def published() -> str | None:
    """The dataset this process published last, if it is still the file there (else None)."""
    from .collect import file_identity
    if WRITTEN and WRITTEN[1] is not None and file_identity(WRITTEN[0]) == WRITTEN[1]:
        return WRITTEN[0]
    return None
