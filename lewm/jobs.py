"""Background jobs for the browser lab (training runs, data collection) — no Streamlit inside.

A :class:`JobManager` owns every job of one server process (the app keeps exactly one in a
``st.cache_resource``). Each job runs in a **spawned** process (a trainer thread inside the web
server starves on a 2-core machine); the worker sends messages back through a
``multiprocessing.Queue``, a small pump thread per job drains them into the job's locked state,
and the web pages read consistent copies with :meth:`Job.snapshot`. Pause and stop go through
``multiprocessing.Event`` objects that :func:`lewm.train.train` polls. The worker functions live in
:mod:`lewm._jobs_workers`.

Worker → manager messages (tuples ``(kind, payload)``):

- ``("step", metrics)``    after every optimisation step (``loss``, ``pred_loss``, ``sigreg``, ``lr``,
  ``samples_per_s``, ``elapsed_s`` and, every ``log_every`` steps, ``effective_rank``);
- ``("view", dict)``       every ``view_every`` steps: SIGReg histograms of a few fixed random
  projections of the current batch (:func:`lewm.diagnostics.sigreg_view`) with each projection's
  Epps–Pulley statistic, and the covariance spectrum / effective rank
  (:func:`lewm.diagnostics.collapse_meters`);
- ``("progress", (done, total))`` data collection progress;
- ``("moved", (path, note))``  the collection is written to ``path`` instead (another server or process
  wrote the asked name meanwhile), with the note the page shows;
- ``("done", dict)`` / ``("error", message)`` once, at the end.

Every run gets its own fresh folder (created exclusively: an existing run or checkpoint is never
overwritten), so several browser sessions can train at the same time without touching each
other's files.

The pure helpers the pages also call live by concept: run folders and metrics files in
:mod:`lewm.runs`, rates and ETAs in :mod:`lewm.progress`, planning one step at a time in
:mod:`lewm.planning.stepwise`, the collapse verdict and demo latents in :mod:`lewm.diagnostics`.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .progress import _whole, downsample_indices, eta_seconds, recent_rate
from . import _api_checks as chk
from ._jobs_workers import _collect_worker, _train_worker, ended_note, saved_note
from .runs import unique_dir
from .validate import check_out_file

ACTIVE = ("starting", "running", "paused")
"""Statuses of a job whose process is (still) alive."""
TERMINAL = ("finished", "stopped", "failed")


class AlreadyRunning(RuntimeError):
    """A start identical to an active job of the same ``owner`` (a double click): ``job`` is that job."""

    def __init__(self, job: "Job"):
        what = "collection" if job.kind == "collect" else "training run"
        super().__init__(f"This {what} is already running (started "
                         f"{time.strftime('%H:%M:%S', time.localtime(job.started))})")
        self.job = job


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------
@dataclass
class JobSnapshot:
    """A consistent copy of a job's state for one page render."""

    id: str
    kind: str
    label: str
    status: str
    out: str
    group: str | None
    params: dict
    done: int
    total: int
    rate: float | None
    """Steps (training) or episodes (collection) per second, recent."""
    eta_s: float | None
    elapsed_s: float
    latest: dict
    """The newest metrics record (training)."""
    history: dict[str, np.ndarray]
    """Metric name -> values, downsampled to at most ``max_points`` (key 'step' gives the x axis)."""
    rank_history: dict[str, np.ndarray]
    """'step', 'effective_rank', 'sigreg', 'top1_fraction' from the periodic views."""
    view: dict | None
    """Newest SIGReg / spectrum view (see the module docstring)."""
    error: str | None
    result: dict | None
    started: float
    finished: float | None
    notes: list = field(default_factory=list)
    """What the page should say about the job besides its status (e.g. a collection written under a new name)."""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fraction(self) -> float:
        return min(max(self.done / self.total, 0.0), 1.0) if self.total else 0.0


class Job:
    """One background process and the state its messages build up (all access under ``_lock``)."""

    MAX_HISTORY = 20_000

    def __init__(self, kind: str, label: str, out: str, total: int, params: dict, group: str | None = None):
        if kind is None:  # job_kind takes None as "every kind"; a job is of one
            raise ValueError(f"Job(kind=...) must be one of {', '.join(map(repr, chk.JOB_KINDS))}, got None")
        chk.job_kind("Job", kind)
        for name, v, none_ok in (("label", label, False), ("group", group, True)):
            if not (isinstance(v, str) or (v is None and none_ok)):
                raise TypeError(f"Job({name}=...) must be a string{' or None' if none_ok else ''}, got {v!r:.60}")
        out = chk.path("Job", "out", out)
        total = chk.whole("Job", "total", total, 0)  # None was int()'s "argument must be a string ... not 'NoneType'"
        if not isinstance(params, dict):
            raise TypeError(f"Job(params=...) must be a dict (the job's settings), got {type(params).__name__}")
        self.id = f"{kind}-{uuid.uuid4().hex[:10]}"
        self.kind, self.label, self.out, self.total = kind, label, out, total
        self.params, self.group, self.requested_out = dict(params), group, out  # start_collect may rename out
        self._lock = threading.Lock()
        self.status = "starting"
        self.done = 0
        self.records: list[dict] = []
        self.views: list[dict] = []  # small per-view summaries (rank over time)
        self.view: dict | None = None
        self.error: str | None = None
        self.result: dict | None = None
        self.started = time.time()
        self.finished: float | None = None
        self.notes: list[str] = []
        self._stop_asked = False  # a worker that ends after stop() was stopped, not "failed ... exit code -15"
        self._progress_times: list[tuple[float, int]] = []
        self.process = None
        self.queue = None
        self.stop_event = None
        self.pause_event = None
        self._pump: threading.Thread | None = None
        self.owner: str | None = None  # who asked (a browser session); with ``request``: a twin start is refused
        self.request: str | None = None

    # ----------------------------------------------------------------- control
    def pause(self) -> None:
        if self.pause_event is not None and self.status in ("starting", "running"):
            self.pause_event.set()
            with self._lock:
                self.status = "paused"

    def resume(self) -> None:
        if self.pause_event is not None and self.status == "paused":
            self.pause_event.clear()
            with self._lock:
                self.status = "running"

    def stop(self) -> None:
        """Ask the worker to stop; training saves its checkpoint at the current step, a collection removes its
        temporary file (nothing is written)."""
        self._stop_asked = True
        if self.stop_event is not None:
            self.stop_event.set()
        if self.pause_event is not None:
            self.pause_event.clear()
        if self.kind != "train" and self.process is not None and self.process.is_alive():
            self.process.terminate()

    def kill(self, timeout: float = 5.0) -> None:
        """Stop, wait up to ``timeout`` s, then terminate the process."""
        self.stop()
        if self.process is not None:
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(2.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is over (True) or ``timeout`` s passed (False)."""
        t0 = time.time()
        while self.status in ACTIVE:
            if timeout is not None and time.time() - t0 > timeout:
                return False
            time.sleep(0.05)
        return True

    # ----------------------------------------------------------------- message pump
    def _apply(self, kind: str, payload: Any) -> None:
        if kind == "error":
            self._fail(str(payload))
            return
        with self._lock:
            if kind == "step":
                if self.status == "starting":
                    self.status = "running"
                self.records.append(payload)
                if len(self.records) > self.MAX_HISTORY:  # thin the oldest half, keep the newest dense
                    keep = downsample_indices(len(self.records), self.MAX_HISTORY // 2)
                    self.records = [self.records[i] for i in keep]
                self.done = int(payload["step"])
                self._progress_times.append((payload.get("time", time.time()), self.done))
                self._progress_times = self._progress_times[-200:]
            elif kind == "view":
                self.view = payload
                self.views.append({"step": payload["step"], "effective_rank": payload["effective_rank"],
                                   "sigreg": payload["sigreg"], "top1_fraction": payload["top1_fraction"],
                                   "mean_std": payload["mean_std"]})
            elif kind == "progress":
                if self.status == "starting":
                    self.status = "running"
                self.done, self.total = int(payload[0]), int(payload[1])
                self._progress_times.append((time.time(), self.done))
                self._progress_times = self._progress_times[-200:]
            elif kind == "done":
                self.result = payload
                self.status = "stopped" if payload.get("stopped") else "finished"
                if self.kind == "train":
                    self.done = int(payload.get("step", self.done))
                elif not payload.get("stopped"):
                    self.done = self.total
                self.finished = time.time()
            elif kind == "moved":
                self.out = str(payload[0])
                self.notes.append(str(payload[1]))

    def _fail(self, error: str, only_active: bool = False) -> None:
        """The job failed with ``error``; a training's names what its run folder holds (the last saved step, or
        nothing: was only "ended unexpectedly", and whether anything could be resumed was left to guess)."""
        if self.kind == "train" and "last good checkpoint" not in error:  # a divergence says it already
            first, nl, rest = error.partition("\n")
            error = f"{first.rstrip('.')}; {saved_note(self.out)}{nl}{rest}"
        with self._lock:
            if not only_active or self.status in ACTIVE:
                self.error, self.status, self.finished = error, "failed", time.time()

    def _pump_loop(self) -> None:
        q, proc = self.queue, self.process
        while True:
            try:
                kind, payload = q.get(timeout=0.2)
            except queue_mod.Empty:
                if not proc.is_alive():
                    # drain what is left, then decide
                    try:
                        while True:
                            self._apply(*q.get(timeout=0.5))
                    except queue_mod.Empty:
                        pass
                    with self._lock:
                        if self.status in ACTIVE and self._stop_asked:  # stopped before it could say so
                            self.status, self.finished = "stopped", time.time()
                        ended = self.status in ACTIVE
                    if ended:
                        self._fail(ended_note(proc.exitcode), only_active=True)
                    return
                continue
            except (EOFError, OSError):
                with self._lock:
                    if self.status in ACTIVE:
                        self.status, self.error, self.finished = "failed", "lost contact with the worker", time.time()
                return
            self._apply(kind, payload)
            if kind in ("done", "error"):
                proc.join(10)
                return

    # ----------------------------------------------------------------- read side
    def snapshot(self, max_points: int = 2000) -> JobSnapshot:
        max_points = _whole("Job.snapshot(max_points=...)", max_points, 2)  # was downsample_indices' message
        with self._lock:
            recs = list(self.records)
            views = list(self.views)
            view = self.view
            times = list(self._progress_times)
            status, done, total = self.status, self.done, self.total
            error, result, finished, notes = self.error, self.result, self.finished, list(self.notes)
        idx = downsample_indices(len(recs), max_points)
        keys = ("step", "loss", "pred_loss", "sigreg", "lr", "samples_per_s", "elapsed_s", "grad_norm")
        hist = {k: np.asarray([recs[i].get(k, np.nan) for i in idx], np.float64) for k in keys} if recs else \
            {k: np.zeros(0) for k in keys}
        er = [(r["step"], r["effective_rank"]) for r in recs if "effective_rank" in r]
        if er:
            hist["rank_step"], hist["effective_rank"] = (np.asarray(c, np.float64) for c in zip(*er))
        vidx = downsample_indices(len(views), max_points)
        rank_hist = {k: np.asarray([views[i][k] for i in vidx], np.float64)
                     for k in ("step", "effective_rank", "sigreg", "top1_fraction", "mean_std")} if views else {}
        rate = None
        if len(times) >= 2:
            t = np.asarray([a for a, _ in times])
            s = np.asarray([b for _, b in times])
            rate = recent_rate(s, t)
        if status in TERMINAL:
            rate = None
        end = finished or time.time()
        return JobSnapshot(
            id=self.id, kind=self.kind, label=self.label, status=status, out=self.out, group=self.group,
            params=dict(self.params), done=done, total=total, rate=rate,
            eta_s=eta_seconds(done, total, rate) if status in ("running",) else None,
            elapsed_s=end - self.started, latest=dict(recs[-1]) if recs else {}, history=hist,
            rank_history=rank_hist, view=view, error=error, result=result, started=self.started,
            finished=finished, notes=notes)


class JobManager:
    """All background jobs of one server process. Thread-safe; one per Streamlit server."""

    def __init__(self, runs_root: str, max_active_train: int = 2):
        self.runs_root = os.path.abspath(chk.path("JobManager", "runs_root", runs_root, folder=True))
        self.max_active_train = chk.whole("JobManager", "max_active_train", max_active_train, 1)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._ctx = mp.get_context("spawn")
        self._start_lock = threading.RLock()  # a twin check and its start are one step (two clicks 0.3 s apart)

    # ----------------------------------------------------------------- queries
    def jobs(self, kind: str | None = None, group: str | None = None) -> list[Job]:
        """Jobs, newest first (``kind``: 'train' or 'collect', None: all)."""
        chk.job_kind("jobs", kind)  # was: 'bogus' answered [] without a word
        with self._lock:
            js = list(self._jobs.values())
        js = [j for j in js if (kind is None or j.kind == kind) and (group is None or j.group == group)]
        return sorted(js, key=lambda j: j.started, reverse=True)

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def active(self, kind: str | None = None) -> list[Job]:
        chk.job_kind("active", kind)  # was named jobs(kind=...)
        return [j for j in self.jobs(kind) if j.status in ACTIVE]

    def groups(self, kind: str = "train") -> list[str]:
        chk.job_kind("groups", kind)  # was named jobs(kind=...)
        seen: list[str] = []
        for j in self.jobs(kind):
            if j.group and j.group not in seen:
                seen.append(j.group)
        return seen

    # ----------------------------------------------------------------- starting jobs
    def _launch(self, job: Job, target, args: tuple) -> Job:
        job.queue = self._ctx.Queue()
        full_args = args + (job.queue,)
        if job.kind == "train":
            job.stop_event, job.pause_event = self._ctx.Event(), self._ctx.Event()
            full_args = full_args + (job.stop_event, job.pause_event)
        job.process = self._ctx.Process(target=target, args=full_args, daemon=True, name=f"lewm-{job.id}")
        job.process.start()
        job._pump = threading.Thread(target=job._pump_loop, daemon=True, name=f"pump-{job.id}")
        job._pump.start()
        with self._lock:
            self._jobs[job.id] = job
        return job

    def twin(self, kind: str, owner: str | None, request: str | None) -> Job | None:
        """The active job of ``owner`` started with the same ``request`` (see :meth:`start_train`), or None."""
        if owner is None or request is None:
            return None
        return next((j for j in self.active(kind) if j.owner == owner and j.request == request), None)

    def _start(self, job: Job, owner: str | None, request: str, target, args: tuple) -> Job:
        job.owner, job.request = owner, request
        return self._launch(job, target, args)

    def can_start_train(self, n: int = 1) -> bool:
        return len(self.active("train")) + n <= self.max_active_train

    def start_train(self, cfg, data: str, *, steps: int | None = None, name: str | None = None,
                    device: str | None = None, threads: int | None = None, view_every: int = 10,
                    view_dirs: int = 6, group: str | None = None, label: str | None = None,
                    out_dir: str | None = None, owner: str | None = None, stamp: bool = False) -> Job:
        """Start training ``cfg`` on ``data`` in a fresh run folder under ``runs_root``.

        ``owner`` (e.g. a browser session's id): an active run of the same owner with the same config, data,
        steps, device, name, label and group is not started twice (:class:`AlreadyRunning`, a double click).
        ``stamp``: the folder is ``<YYYYmmdd-HHMMSS>-<name>`` (the stamp is not part of that comparison).

        ``steps`` / ``threads`` None: the config's steps / all cores but one. A bad argument is a
        ValueError (TypeError for a wrong type) naming it, before any folder is made; RuntimeError
        when ``max_active_train`` runs are already active.
        """
        from .config import LeWMConfig
        fn = "start_train"
        if not isinstance(cfg, LeWMConfig):
            raise TypeError(f"start_train(cfg=...) must be a LeWMConfig (lewm.config.get_preset(...)), "
                            f"got {type(cfg).__name__}")
        data = chk.path(fn, "data", data, file=True)  # an HDF5 episode file (read by the worker)
        steps = chk.whole(fn, "steps", steps, 1, 10**9, none_ok=True)  # None: cfg.train.steps; 0 is refused
        threads = chk.whole(fn, "threads", threads, 1, 1024, none_ok=True)  # -1 failed in the worker
        view_every, view_dirs = chk.whole(fn, "view_every", view_every, 1), chk.whole(fn, "view_dirs", view_dirs, 1, 64)
        name, group, label, owner = (chk.text(fn, k, v, none_ok=True) for k, v in
                                     (("name", name), ("group", group), ("label", label), ("owner", owner)))
        device = None if chk.text(fn, "device", device, none_ok=True) in (None, "auto") else device
        if device is not None:  # cuda on a machine without it: here, not in the worker
            chk.device(fn, device, "device")
        out_dir = chk.path(fn, "out_dir", out_dir, none_ok=True, new_folder=True)
        total = steps if steps is not None else cfg.train.steps
        request = json.dumps([cfg.to_dict(), os.path.abspath(data), total, device, name, label, group, out_dir],
                             sort_keys=True, default=str)
        with self._start_lock:
            if (twin := self.twin("train", owner, request)) is not None:
                raise AlreadyRunning(twin)
            if not self.can_start_train():
                raise RuntimeError(f"{self.max_active_train} training runs are already active on this server; "
                                   f"stop one or wait for it to finish")
            if stamp:
                name = time.strftime("%Y%m%d-%H%M%S") + (f"-{name}" if name else f"-{cfg.preset}")
            return self._start_train(cfg, data, total, name, device, threads, view_every, view_dirs, group, label,
                                     out_dir, owner, request)

    def _start_train(self, cfg, data, total, name, device, threads, view_every, view_dirs, group, label, out_dir,
                     owner, request) -> Job:
        if threads is None:  # leave a core to the web server; oversubscribed OpenMP crawls
            threads = max(1, (os.cpu_count() or 2) - 1)
        out = out_dir or unique_dir(self.runs_root, name or time.strftime("%Y%m%d-%H%M%S") + f"-{cfg.preset}")
        if out_dir is not None:
            os.makedirs(out, exist_ok=False)  # never reuse a folder (checked above; this only loses a race)
        params = {"preset": cfg.preset, "data": data, "steps": total, "lambda": cfg.sigreg.weight,
                  "lr": cfg.train.lr, "batch_size": cfg.train.batch_size, "history": cfg.model.history,
                  "device": device or "auto"}
        with open(os.path.join(out, "lab_job.json"), "w") as f:
            json.dump({**params, "label": label or os.path.basename(out), "group": group,
                       "started": time.time()}, f, indent=2)
        job = Job("train", label or os.path.basename(out), out, total, params, group)
        return self._start(job, owner, request, _train_worker, (cfg.to_dict(), os.path.abspath(data), out, total,
                                                                device, threads, view_every, view_dirs))

    def start_collect(self, env_name: str, episodes: int, out: str, *, image_size: int = 64,
                      policy: str = "expert", seed: int = 0, episode_len: int | None = None,
                      mix_random: float = 0.0, label: str | None = None, owner: str | None = None) -> Job:
        """Collect ``episodes`` episodes into the ``.h5`` file ``out`` (if it exists: into ``job.out``, a new name beside
        it, with a warning; ``job.requested_out`` is ``out``). A bad argument is a ValueError / TypeError naming it.
        ``owner``: an active collection of the same owner with the same settings into the same ``out`` is not
        started twice (:class:`AlreadyRunning`, a double click)."""
        fn = "start_collect"
        env_name, policy = chk.text(fn, "env_name", env_name), chk.text(fn, "policy", policy)
        episodes, image_size = chk.whole(fn, "episodes", episodes, 1), chk.whole(fn, "image_size", image_size, 8, 1024)
        seed, mix_random = chk.whole(fn, "seed", seed, 0, 2**63 - 1), chk.number(fn, "mix_random", mix_random, 0.0, 1.0)
        episode_len = chk.whole(fn, "episode_len", episode_len, 2, none_ok=True)
        label, owner = chk.text(fn, "label", label, none_ok=True), chk.text(fn, "owner", owner, none_ok=True)
        out = chk.path(fn, "out", out)
        if os.path.isdir(out) or not out.endswith(".h5"):  # a folder became 'folder-1', an HDF5 file without .h5
            raise ValueError(f"start_collect(out=...) must be an HDF5 file name ending in .h5 (the lab lists "
                             f"data/*.h5), got {out!r}{' (a folder)' if os.path.isdir(out) else ''}")
        asked = os.path.abspath(out)
        request = json.dumps([env_name, episodes, asked, image_size, policy, seed, episode_len, mix_random, label])
        with self._start_lock:
            if (twin := self.twin("collect", owner, request)) is not None:
                raise AlreadyRunning(twin)
            return self._start_collect(env_name, episodes, asked, image_size, policy, seed, episode_len,
                                       mix_random, label, owner, request)

    def _start_collect(self, env_name, episodes, asked, image_size, policy, seed, episode_len, mix_random, label,
                       owner, request) -> Job:
        fn = "start_collect"
        from .runs import DATASET
        writing = {j.out: j for j in self.active("collect")}
        out = chk.free_file(asked, set(writing))  # nor the out of a job starting now
        out = check_out_file(out, f"{fn}(out=...)", make_parent=True, writes=DATASET)
        chk.renamed_note(fn, asked, out)  # was: the second job wrote d-1.h5 without a word
        params = {"env": env_name, "episodes": episodes, "image_size": image_size, "policy": policy, "seed": seed}
        job = Job("collect", label or os.path.basename(out), out, episodes, params)
        job.requested_out = asked
        if out != asked:  # the page shows it (was: only the server's stderr had the warning)
            other = writing.get(asked)  # was "exists" when it was another collection's file still being written
            why = (f"is being written by another collection (started "
                   f"{time.strftime('%H:%M:%S', time.localtime(other.started))})" if other is not None and
                   not os.path.lexists(asked) else "exists")
            job.notes.append(f"{os.path.basename(asked)} {why} (nothing is overwritten); writing "
                             f"{os.path.basename(out)} instead")
        return self._start(job, owner, request, _collect_worker, (env_name, episodes, out, image_size, policy,
                                                                  seed, episode_len, mix_random))

    # ----------------------------------------------------------------- shutdown
    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job (training saves a checkpoint first) and end the processes."""
        for j in self.jobs():
            if j.status in ACTIVE:
                j.stop()
        t0 = time.time()
        for j in self.jobs():
            if j.process is not None:
                j.process.join(max(0.1, timeout - (time.time() - t0)))
                if j.process.is_alive():
                    j.process.terminate()
                    j.process.join(2.0)
