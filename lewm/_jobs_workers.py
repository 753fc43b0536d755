"""The worker processes of :mod:`lewm.jobs` (training, data collection) and what the manager says about a
job that ended: they run in **spawned** processes, so they are module-level functions (pickled by
reference) that report through the job's queue (message kinds in :mod:`lewm.jobs`)."""
from __future__ import annotations

import os
import sys
import time
import traceback


def _set_threads(threads: int | None) -> None:
    if threads:
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[k] = str(threads)
    if threads:
        from .devices import set_threads  # refuses more threads than the address-space limit leaves room for
        set_threads(int(threads))


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _train_worker(cfg_dict: dict, data: str, out: str, steps: int | None, device: str | None,
                  threads: int | None, view_every: int, view_dirs: int, q, stop_ev, pause_ev) -> None:
    """Entry point of a training process."""
    try:
        _set_threads(threads)
        from .allocator import keep_freed_memory
        keep_freed_memory()  # a process of its own that ends with the run: keeping freed memory costs nothing
        from .checkpoint import CheckpointError
        from .config import LeWMConfig
        from .data import DataError
        from .diagnostics import collapse_meters, sigreg_view
        from .train import TrainingDiverged, train
    except BaseException as e:
        q.put(("error", _one_line(e) + "\n" + traceback.format_exc(limit=6)))
        return
    try:
        cfg = LeWMConfig.from_dict(cfg_dict)
        total = int(steps or cfg.train.steps)
        s = cfg.sigreg
        last_view = [0.0]

        def on_step(info) -> None:
            m = {k: float(v) for k, v in info.metrics.items() if isinstance(v, (int, float))}
            m["step"] = int(info.step)
            m["time"] = time.time()
            q.put(("step", m))
            now = time.perf_counter()
            due = info.step == 1 or info.step % max(view_every, 1) == 0 or info.step >= total
            if due and (now - last_view[0] > 0.2 or info.step >= total):
                last_view[0] = now
                z = info.latents.float()  # (B, T, D)
                v = sigreg_view(z.transpose(0, 1), num_dirs=view_dirs, seed=0, knots=s.knots, t_max=s.t_max)
                cm = collapse_meters(z)
                q.put(("view", {
                    "step": int(info.step), "sigreg": v.value, "statistic": v.statistic,
                    "bin_edges": v.bin_edges, "histograms": v.histograms, "grid": v.grid,
                    "reference_pdf": v.reference_pdf, "spectrum": cm.spectrum,
                    "effective_rank": cm.effective_rank, "top1_fraction": cm.top1_fraction,
                    "mean_std": cm.mean_std, "mean_cosine": cm.mean_cosine,
                    "latent_dim": int(z.shape[-1]),
                }))

        res = train(cfg, data, out, steps=steps, device=device, on_step=on_step, resume=False,
                    progress=False, stop_event=stop_ev, pause_event=pause_ev)
        q.put(("done", {"checkpoint": res.checkpoint, "step": int(res.step), "stopped": bool(res.stopped),
                        "metrics": {k: float(v) for k, v in res.metrics.items() if isinstance(v, (int, float))}}))
    except (DataError, CheckpointError, TrainingDiverged, ValueError) as e:
        q.put(("error", _one_line(e)))
    except BaseException as e:  # anything else: one line + the traceback for the log
        q.put(("error", _one_line(e) + "\n" + traceback.format_exc(limit=6)))


def _moved_note(asked: str, used: str) -> str:
    return (f"{os.path.basename(asked)} was written by another lab or process meanwhile (nothing is overwritten); "
            f"writing {os.path.basename(used)} instead")


def _collect_worker(env_name: str, episodes: int, out: str, image_size: int, policy: str, seed: int,
                    episode_len: int | None, mix_random: float, q) -> None:
    """Entry point of a data-collection process; progress via the progress-bar hook of ``collect``. A stop
    (SIGTERM from :meth:`lewm.jobs.Job.stop`, or the server's shutdown) removes the temporary file, as the
    CLI does, and ends as "stopped"."""
    from . import faults
    try:
        _set_threads(1)
        import io

        import tqdm.auto

        from . import collect as collect_mod
        from ._api_checks import free_file

        class _QueueBar(tqdm.auto.tqdm):  # reports every update through the queue
            def __init__(self, *a, **kw):
                kw["file"] = io.StringIO()
                kw["disable"] = False
                super().__init__(*a, **kw)
                q.put(("progress", (0, int(self.total or episodes))))

            def update(self, n=1):
                r = super().update(n)
                q.put(("progress", (int(self.n), int(self.total or episodes))))
                return r

        tqdm.auto.tqdm = _QueueBar  # collect() imports it at call time
        with faults.terminate_as_exception():  # SIGTERM unwinds collect(): its temporary file is removed
            where = [out]
            if os.path.lexists(out):  # another server / process published it since the job started
                where[0] = free_file(out, set())
                q.put(("moved", (where[0], _moved_note(out, where[0]))))
            wrote = collect_mod.collect(env_name, episodes, where[0], image_size=image_size, policy=policy,
                                        workers=1, seed=seed, episode_len=episode_len, progress=True,
                                        mix_random=mix_random, rename_if_taken=True)
            if wrote != where[0]:  # another server / process published that name while this one collected
                q.put(("moved", (wrote, _moved_note(where[0], wrote))))
                where[0] = wrote
        q.put(("done", {"path": where[0]}))
    except faults.Terminated:
        q.put(("done", {"path": None, "stopped": True}))
    except (ValueError, OSError) as e:
        q.put(("error", _one_line(e)))
    except BaseException as e:
        q.put(("error", _one_line(e) + "\n" + traceback.format_exc(limit=6)))


def ended_note(code: int | None) -> str:
    """Why a worker ended without a word (exit ``code``); a spawned worker that could not even start (exit code 1
    before its first message) most often re-imported a script that starts jobs at import time."""
    if not code:
        return "the worker process ended without a result"
    msg = f"the worker process ended unexpectedly (exit code {code})"
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if code == 1 and main:
        msg += (f" before it could report: spawned workers re-import the main script ({os.path.basename(main)}); "
                f"if it starts jobs at import time, guard that code with `if __name__ == \"__main__\":` "
                f"(the worker's stderr has the details)")
    return msg


def saved_note(out: str) -> str:
    """What a failed training left in its run folder ``out``: the last saved step, or that nothing was saved."""
    ck = os.path.join(out, "last.pt")
    if not os.path.isfile(ck):
        return f"nothing was saved in {out}"
    try:
        from .checkpoint import read_raw
        step = int(read_raw(ck).get("step", 0))
    except Exception:  # noqa: BLE001 - a damaged file: say it is there
        return f"{ck} is there but cannot be read"
    return (f"the last saved step is {step}, in {ck} (the CLI's `python -m lewm train --out {out}` with the same "
            f"data and settings resumes it)")
