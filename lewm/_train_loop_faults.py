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
    from ._worker_signals import quiet_worker_hangups
    check_worker_fds(num_workers)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=num_workers,
                                         pin_memory=dev.type == "cuda", persistent_workers=True, timeout=timeout_s,
                                         prefetch_factor=_PREFETCH, worker_init_fn=quiet_worker_hangups)
    return _guarded(loader, num_workers, timeout_s)


class WorkerLost(ValueError):
    """A data-loader worker died under a training (the out-of-memory killer, a kill from outside, a crash): raised
    at a batch fetch, which is a step boundary, so the training saves its last finished step (round 28, W1)."""


_IN_FETCH, _PENDING = [False], [False]  # inside a batch fetch; a worker's SIGCHLD that arrived outside one


def _defer_worker_deaths() -> object | None:
    """After a loader's first ``iter()`` (which installs torch's SIGCHLD handler): let that handler run only inside
    a batch fetch. It raised "DataLoader worker (pid N) is killed by signal" wherever the main thread was, even in
    the middle of ``opt.step()``: a traceback, the steps since the checkpoint lost, and a hang on the way out. A
    death outside a fetch is remembered (:func:`_fetch` asks torch at the next one). Returns the handler to put
    back, or None (not the main thread, or no handler of torch's)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return None
    torch_handler = signal.getsignal(signal.SIGCHLD)
    if not callable(torch_handler) or getattr(torch_handler, "_lewm_deferred", False):
        return None

    def handler(signum, frame):
        if _IN_FETCH[0]:
            torch_handler(signum, frame)
        else:
            _PENDING[0] = True
    handler._lewm_deferred = True
    signal.signal(signal.SIGCHLD, handler)
    return torch_handler


_FETCH_SINCE: list = [None]  # when the batch fetch under way began (time.monotonic()), None outside one
_ENDED_STOPPED: set = set()  # workers the watchdog ended: stopped (kill -STOP) through a whole fetch timeout


def _fetch(it):
    import time
    _IN_FETCH[0], _FETCH_SINCE[0] = True, time.monotonic()
    try:
        if _PENDING[0]:
            _PENDING[0] = False
            torch._C._error_if_any_worker_fails()
        return next(it)
    finally:
        _IN_FETCH[0], _FETCH_SINCE[0] = False, None


def _watch_stopped(it, timeout_s: float, done) -> None:
    """A thread: a fetch that waits ``timeout_s`` on a worker stopped by a signal (state T: ``kill -STOP``) hangs
    inside the hand-over of a batch that worker had sent, where the loader's timeout does not reach (round 28, W4).
    Such a worker is ended (SIGKILL): the fetch then fails, and the training stops and saves."""
    import signal
    import time
    while not done.wait(1.0):
        since = _FETCH_SINCE[0]
        if since is None or time.monotonic() - since < timeout_s:
            continue
        for w in list(getattr(it, "_workers", None) or []):
            try:
                with open(f"/proc/{w.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError, TypeError):
                continue
            if state in ("T", "t"):
                _ENDED_STOPPED.add(w.pid)
                with contextlib.suppress(OSError):
                    os.kill(w.pid, signal.SIGKILL)


def _shut(it) -> None:
    shut = getattr(it, "_shutdown_workers", None)
    if shut is not None:
        with contextlib.suppress(Exception):
            shut()
    if getattr(it, "_worker_pids_set", False):  # a dead worker left registered: torch's SIGCHLD handler (put back
        with contextlib.suppress(Exception):  # after the run) raised its error later, anywhere in this process
            torch.utils.data._utils.signal_handling._remove_worker_pids(id(it))
            it._worker_pids_set = False


def _worker_death(it, e: Exception) -> str | None:
    """torch's "DataLoader worker (pid 7554) is killed by signal: Killed." or "... (pid(s) 7554) exited
    unexpectedly" (which one depends on where the death was noticed) as one wording, from the worker's exit code."""
    import re
    import signal
    import time
    text = str(e)
    m = re.search(r"pid(?:\(s\))? ([\d, ]+)", text) if text.startswith("DataLoader worker") else None
    pids = [int(p) for p in re.findall(r"\d+", m.group(1))] if m else []
    workers = getattr(it, "_workers", None) or []
    if isinstance(e, (ConnectionError, EOFError)):  # the reset can come while the killed worker is still exiting
        end = time.monotonic() + 2.0
        while all(w.is_alive() for w in workers) and time.monotonic() < end:
            time.sleep(0.05)
    for w in workers:
        if w.pid in pids or (not pids and not w.is_alive()):
            with contextlib.suppress(Exception):
                w.join(timeout=2)
            code = w.exitcode
            if w.pid in _ENDED_STOPPED:
                return (f"a data-loader worker (pid {w.pid}) stayed stopped (kill -STOP?) through a whole fetch "
                        f"timeout, so the training ended it")
            hint = " (the out-of-memory killer, a crash, or a kill from outside?)"
            if code is not None and code < 0:
                name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
                return f"a data-loader worker (pid {w.pid}) was killed by {name}{hint}"
            if code is not None:
                return f"a data-loader worker (pid {w.pid}) exited with code {code}{hint}"
    if not text.startswith("DataLoader worker"):
        return None  # no worker died: another failure
    return text.split(". ")[0].rstrip(".").replace("DataLoader worker", "a data-loader worker", 1)


def streaming_batches(ds, batch_size: int, sampler, num_workers: int, timeout_s: float = 120.0):
    """The batches of a dataset read from its file (``data.batch_iterator``: data past ``train.ram_limit_gb``),
    through a DataLoader with ``num_workers`` workers set up as :func:`worker_batches`' are: a worker killed from
    outside was a traceback (round 28, W1), a stopped one (SIGSTOP, a hung network disk) a hang for ever, and a
    SIGTERM or Ctrl-C of the process group killed the workers instead of letting the trainer stop and save."""
    from ._worker_signals import quiet_worker_hangups
    if num_workers <= 0:
        return iter(torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=True,
                                                pin_memory=torch.cuda.is_available()))
    check_worker_fds(num_workers)  # was: a hang under a small ulimit -n
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                                         pin_memory=torch.cuda.is_available(), drop_last=True,
                                         persistent_workers=True, timeout=timeout_s,
                                         worker_init_fn=quiet_worker_hangups)
    return _guarded(loader, num_workers, timeout_s)


def _as_raised_in_worker(e: Exception) -> Exception:
    """torch re-raises a worker's exception as "Caught DataError in DataLoader worker process 1. Original Traceback
    (most recent call last): ..." (a traceback in the one error line): the exception with its own message."""
    import re
    last = str(e).strip().splitlines()[-1]
    m = re.match(r"^[A-Za-z_][\w.]*: (.*)$", last)
    try:
        return type(e)(m.group(1) if m else last)
    except Exception:  # noqa: BLE001 (a type that wants other arguments: torch's own)
        return e


def _guarded(loader, num_workers: int, timeout_s: float | None):
    it, restore, watch = None, None, None
    try:
        while True:
            try:
                if it is None:
                    it = iter(loader)  # starting the workers can fail as well (EMFILE)
                    restore = restore or _defer_worker_deaths()
                    if timeout_s and watch is None:
                        import threading
                        watch = threading.Event()
                        threading.Thread(target=_watch_stopped, args=(it, timeout_s, watch), daemon=True,
                                         name="lewm-loader-watch").start()
                batch = _fetch(it)
            except Exception as e:
                text = str(e)
                if "in DataLoader worker process" in text and "Original Traceback" in text:
                    _shut(it)  # a worker's own exception (a streamed file that changed): its line, not torch's
                    it = loader = None
                    raise _as_raised_in_worker(e) from None
                # a dead worker, noticed by torch ("DataLoader worker (pid N) ...") or as the reset of the connection
                # that was handing over its batch (ConnectionResetError: the training then failed, unsaved)
                why = _worker_death(it, e) if "Original Traceback" not in text else None
                if why is not None:
                    _shut(it)
                    it = loader = None
                    gc.collect()
                    raise WorkerLost(f"--workers {num_workers}: {why}; --workers 0 loads the batches in the training "
                                     f"process") from None
                if not isinstance(e, (OSError, RuntimeError)):
                    raise
                starved = getattr(e, "errno", None) in (24, 23) or "Too many open files" in text
                if not (starved or "timed out" in text):
                    raise
                _shut(it)
                it = loader = None
                gc.collect()  # a half-started iterator's pipes closed now: the lock and run files can then go
                try:
                    import resource
                    limit = f" (ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
                except (ImportError, OSError, ValueError):
                    limit = ""
                why = "ran out of open files" if starved else f"gave no batch in {timeout_s or 0:.0f} s (stuck)"
                raise WorkerLost(f"--workers {num_workers}: a data-loader worker {why}{limit}; lower --workers or "
                                 f"raise the open-file limit") from None
            yield batch
    finally:  # a worker that died unseen must not stay registered with torch's handler, put back now
        if watch is not None:
            watch.set()
        if it is not None:  # persistent workers: ended with their stream (was: at exit, joined for ever after
            _shut(it)  # a SIGTERM, since they ignore it), and a dead one unregistered
        if restore is not None:
            import signal
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGCHLD, restore)
