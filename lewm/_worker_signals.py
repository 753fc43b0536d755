"""Signals in the worker processes of a training's data loader and of ``collect`` (a leaf module: standard library
only, so :mod:`lewm.data` reaches it without an import cycle; re-exported by :mod:`lewm.faults`)."""
from __future__ import annotations

import contextlib
import os
import signal
import sys


def quiet_worker_hangups(worker_id: int = 0) -> None:
    """A DataLoader ``worker_init_fn``: in the worker, a connection the main process dropped while
    it was stopping (SIGTERM / Ctrl-C raised inside the fd hand-over of a batch) is not printed.
    multiprocessing's resource_sharer thread reports it with ``sys.excepthook``: a
    ``ConnectionResetError`` traceback after the clean ``error: terminated`` line. Other errors
    keep their traceback. A SIGHUP (the terminal closed: it reaches the whole process group) is
    ignored, and so is a SIGTERM sent to the whole process group: the main process stops at the step
    boundary and saves, then ends its workers (killed by it, a worker made the next batch fail with
    "DataLoader worker exited unexpectedly"). So is a SIGINT (Ctrl-C reaches the whole process group): a worker ran
    the handler it inherited from the trainer and printed "Ctrl-C: stopping after this step and saving last.pt",
    which only the main process does (round 28, W2)."""
    for name in ("SIGHUP", "SIGTERM", "SIGINT"):
        if hasattr(signal, name):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
    die_with_parent(os.getppid())  # ignoring SIGTERM, it must still end with the training (even on kill -9)
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
