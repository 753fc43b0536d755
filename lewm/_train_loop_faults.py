"""Faults of the machine during a training's loop (lewm/train.py): the run folder removed or renamed under a
running training, and data-loader worker processes that the open-file limit (``ulimit -n``) starves.
"""
from __future__ import annotations

import contextlib
import gc
import os

import torch

_HOMES: dict[str, tuple[int, int]] = {}  # abspath of a run folder -> (st_dev, st_ino) of the one this run holds
_PREFETCH = 4  # batches each loader worker keeps ready
_FDS_PER_WORKER, _FDS_BASE = 10, 14  # measured (2 workers: 32 failed, 40 ran; 1 worker: 28 failed): the batches
# in flight (each tensor crosses to the main process as a descriptor) and the loader's pipes and sockets


def hold_run_folder(out: str) -> str:
    """Make the run folder ``out`` (if needed) and remember which folder it is (:func:`check_run_folder`)."""
    os.makedirs(out, exist_ok=True)
    st = os.stat(out)
    _HOMES[os.path.abspath(out)] = (st.st_dev, st.st_ino)
    return out


def check_run_folder(out: str, step: int) -> None:
    """Refuse to write into ``out`` once it is no longer the folder this training holds (removed, renamed, or
    another put in its place): was a half run folder re-created in silence (no config.json, no lock, the early
    metrics gone) or, renamed, a ``metrics.jsonl: No such file or directory`` that did not say why."""
    home = _HOMES.get(os.path.abspath(out))
    if home is None:
        return
    try:
        st = os.stat(out)
        now = (st.st_dev, st.st_ino)
    except OSError:
        now = None
    if now != home:
        raise FileNotFoundError(f"the run folder {out} disappeared at step {step} (removed or renamed while this "
                                f"training ran); stopped without writing there again (no half run folder is "
                                f"re-created): its checkpoints went with the folder; put it back, or start anew")


def open_metrics(path: str, step: int):
    """``open(path, "a")`` for the metrics line of ``step``, once the run folder is checked (:func:`check_run_folder`)."""
    check_run_folder(os.path.dirname(path), step)
    return open(path, "a")


def check_worker_fds(num_workers: int, flag: str = "--workers") -> None:
    """Before starting ``num_workers`` loader workers: enough file descriptors for their batches in flight
    (each tensor crosses as a descriptor). The soft limit is raised to the hard one when that suffices; below
    it, one line before any step (was: an error blaming the run folder then a hang, or a worker spinning in
    ``accept`` for ever while SIGTERM waited for a step boundary that never came)."""
    if num_workers <= 0:
        return
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 16
    need = in_use + _FDS_BASE + num_workers * _FDS_PER_WORKER
    if soft == resource.RLIM_INFINITY or need <= soft:
        return
    if hard == resource.RLIM_INFINITY or need <= hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))
            return
        except (OSError, ValueError):
            pass
    fit = max(0, (soft - in_use - _FDS_BASE) // _FDS_PER_WORKER)
    raise ValueError(f"{flag} {num_workers}: too many open files for the data-loader workers (the open-file "
                     f"limit, ulimit -n, is {soft}; about {need} are needed): lower {flag} (to {fit} here) or raise "
                     f"the limit; nothing was trained")


def worker_batches(stream: torch.utils.data.IterableDataset, num_workers: int, dev: torch.device,
                   timeout_s: float = 120.0):
    """Batches of ``stream`` gathered by ``num_workers`` loader workers (after :func:`check_worker_fds`). A
    worker that runs out of open files, or gives no batch in ``timeout_s`` (a batch of the in-RAM arrays takes
    milliseconds), ends the run in one line with the workers shut down (was: a hang for ever)."""
    from .faults import quiet_worker_hangups
    check_worker_fds(num_workers)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=num_workers,
                                         pin_memory=dev.type == "cuda", persistent_workers=True, timeout=timeout_s,
                                         prefetch_factor=_PREFETCH, worker_init_fn=quiet_worker_hangups)
    return _guarded(loader, num_workers, timeout_s)


def _guarded(loader, num_workers: int, timeout_s: float):
    it = None
    while True:
        try:
            it = iter(loader) if it is None else it  # starting the workers can fail as well (EMFILE)
            batch = next(it)
        except (OSError, RuntimeError) as e:
            text = str(e)
            starved = getattr(e, "errno", None) in (24, 23) or "Too many open files" in text
            if not (starved or "timed out" in text):
                raise
            shut = getattr(it, "_shutdown_workers", None)
            if shut is not None:
                with contextlib.suppress(Exception):
                    shut()
            it = loader = None
            gc.collect()  # a half-started iterator's pipes closed now: the lock and run files can then go
            try:
                import resource
                limit = f" (ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
            except (ImportError, OSError, ValueError):
                limit = ""
            why = "ran out of open files" if starved else f"gave no batch in {timeout_s:.0f} s (stuck)"
            raise ValueError(f"--workers {num_workers}: a data-loader worker {why}{limit}; lower --workers or "
                             f"raise the open-file limit") from None
        yield batch
