"""The worker processes of :func:`lewm.collect.collect` (``workers >= 2``): each sends its messages through a
pipe of its own, whose only writer it is, so a worker that dies (``kill -9``, the OOM killer), even in the middle
of a message, is seen at once as the end of its pipe (was: one shared queue, on which the parent waited for ever
for the rest of a message that never came)."""
from __future__ import annotations

import os


class PipeSender:
    """What a worker ``put``s its messages into: its end of its own pipe."""

    def __init__(self, conn):
        self.conn = conn

    def put(self, item) -> None:
        self.conn.send(item)


class WorkerDied(ChildProcessError):
    """A collect worker ended without finishing its episodes (killed, most often by the out-of-memory killer)."""


def _death_note(proc) -> str:
    proc.join(timeout=2)
    code = proc.exitcode
    if code is not None and code < 0:
        import signal
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"killed by {name}" + (": out of memory?" if -code == signal.SIGKILL else "")
    elif code is not None:
        how = f"exit code {code}"
    else:
        how = "its pipe closed"
    return f"a collect worker died ({how}); nothing was written"


STOPPED_S = 60.0
"""How long a worker may stay stopped (``kill -STOP``) while the collect runs before the collect gives up on it."""


def check_not_stopped(procs, stopped: dict, limit_s: float = STOPPED_S) -> None:
    """A worker stopped by a signal (``kill -STOP PID``: state T) sends nothing until continued, and the collect
    waited for it for ever (round 28, W4). One stopped for ``limit_s`` while this process runs: :class:`WorkerDied`.
    (Ctrl-Z stops the whole group, this process too: then nothing is counted.)"""
    import time
    now = time.monotonic()
    for proc in procs:
        try:
            with open(f"/proc/{proc.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, TypeError):
            continue
        if state not in ("T", "t"):
            stopped.pop(proc.pid, None)
            continue
        if now - stopped.setdefault(proc.pid, now) >= limit_s:
            raise WorkerDied(f"a collect worker (pid {proc.pid}) has been stopped for {limit_s:.0f} s (kill -STOP?) "
                             f"and would keep the collect waiting for ever; nothing was written: run it again")


def _continue(pid: int) -> None:
    import signal
    try:
        os.kill(pid, signal.SIGCONT)
    except OSError:
        pass


def start(ctx, target, arg_sets: list[tuple], procs: list) -> list:
    """Start one process per argument tuple, ``target(*args, sender, parent_pid)``, each appended to ``procs`` as
    it starts (the caller stops them on failure). Returns ``[(process, reader)]``; the parent keeps no copy of the
    writers, so a dead worker's pipe ends."""
    started = []
    for args in arg_sets:
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(target=target, daemon=True, args=(*args, PipeSender(writer), os.getpid()))
        try:
            p.start()
        finally:
            writer.close()
        procs.append(p)
        started.append((p, reader))
    return started


def messages(started: list, poll=None):
    """Yield the workers' messages ``(kind, payload)`` until every worker sent ``("done", ...)``; a worker whose
    pipe ends before that raises :class:`WorkerDied`. ``poll()`` runs about once a second (Ctrl-C checks)."""
    from multiprocessing.connection import wait
    open_ = {reader: proc for proc, reader in started}
    stopped: dict[int, float] = {}  # pid -> when it was first seen stopped
    try:
        while open_:
            if poll is not None:
                poll()
            check_not_stopped(open_.values(), stopped)
            for reader in wait(list(open_), timeout=1.0):
                try:
                    kind, payload = reader.recv()
                except (EOFError, OSError):  # its only writer is gone: the worker died before "done"
                    raise WorkerDied(_death_note(open_[reader])) from None
                if kind == "done":
                    del open_[reader]
                    reader.close()
                yield kind, payload
    finally:
        for reader, proc in open_.items():  # stopped (an error, a signal): the workers first, then their pipes (a
            if proc.is_alive():  # worker writing into a closed pipe printed its BrokenPipeError traceback)
                proc.terminate()
                _continue(proc.pid)  # a stopped worker acts on its SIGTERM only once continued
        for reader, proc in open_.items():
            proc.join(timeout=5)
            reader.close()
