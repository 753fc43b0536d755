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
    try:
        while open_:
            if poll is not None:
                poll()
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
        for reader, proc in open_.items():
            proc.join(timeout=5)
            reader.close()
