"""A running training owns the files it writes: ``export`` / ``eval`` / ``collect`` / ``bench`` outputs so named are
refused while it runs.

A training holds ``RUN/.lock`` (:class:`lewm.faults.RunLock`) while it writes ``last.pt``,
``metrics.jsonl``, ``config.json`` and ``step_N.pt`` in ``RUN``. ``export --force --out RUN/last.pt``
(or an eval / bench / collect output so named) was accepted there: both commands said done, and the
later write silently replaced the other's (round 24, Q6). Other files in a run folder (``eval.json``,
a report) are not the training's and stay allowed.
"""
from __future__ import annotations

import os
import re
import socket

_TRAINING_WRITES = re.compile(r"^(last\.pt|metrics\.jsonl|config\.json|step_\d+\.pt)$")


def training_holding(path: str) -> int | None:
    """The pid of the live training (another process, on this host) that holds the run lock of the
    folder of ``path`` and writes a file so named there; else None."""
    from .faults import LOCK_NAME, _read_lock, pid_alive
    if not isinstance(path, (str, os.PathLike)) or not _TRAINING_WRITES.match(os.path.basename(os.fspath(path))):
        return None
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    pid, host = _read_lock(os.path.join(folder, LOCK_NAME))
    if not pid or pid == os.getpid() or host not in ("", socket.gethostname()):
        return None  # no lock, ours, or another machine's (RunLock itself refuses that one for a training)
    return pid if pid_alive(pid) else None


def check_not_training_output(path: str | None, flag: str = "--out") -> None:
    """Refuse (ValueError: one line, before any work) to write ``path`` while a training writes it."""
    pid = training_holding(path) if path else None
    if pid is not None:
        raise ValueError(f"{flag} {path}: a training (pid {pid}) is writing this run folder and would replace "
                         f"{os.path.basename(path)} (or this command would replace its file); wait for it to "
                         f"finish or stop it, or choose another {flag}; nothing was written")
