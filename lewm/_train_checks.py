"""Argument checks of :func:`lewm.train.train` and :func:`lewm.train.lr_at` (the Python API): one clear
line naming the argument before any work, instead of an AttributeError / TypeError from deep inside,
a failure after the first step (``on_step=5``), or a silently wrong run (``resume="no"`` resumed).
Also the environment checks of the data against the config, a resumed run and an ``init`` checkpoint, and
where a run starts (:func:`start_from`: the checkpoint it resumes or continues, or a fresh start).
"""
from __future__ import annotations

import os
import warnings

from . import faults
from ._api_checks import plain_bool
from .config import LeWMConfig, TrainConfig
from .data import DataError
from .env_names import CANONICAL_ENVS, env_key

NON_ENV_DATA = ("synthetic_dot",)
"""Data of no environment that trains on purpose (lewm.synthetic): no warning for it."""
from .validate import Range, check_out_dir, check_value


class RunFolderBusy(faults.RunLocked, ValueError):
    """Another training (another process, or another thread of this one) writes into the same ``out``."""


def check_train_args(cfg, data, out, *, on_step, resume, progress, stop_event, pause_event, init) -> None:
    if not isinstance(cfg, LeWMConfig):
        hint = " (LeWMConfig.from_dict(d) builds one from a dict)" if isinstance(cfg, dict) else \
            " (e.g. lewm.config.get_preset('cpu-tiny'))"
        raise TypeError(f"train(cfg=...) must be a LeWMConfig, got {_kind(cfg)}{hint}")
    b, h = cfg.train.batch_size, cfg.model.history
    if b * h < 2:  # was BatchNorm's "Expected more than 1 value per channel" after the run folder was made
        raise ValueError(f"train(cfg=...): batch size {b} with history {h} gives one prediction per step, but the "
                         f"BatchNorm projector needs at least 2 latents per step; use a batch size >= 2 "
                         f"(--batch-size) or a history >= 2 (--history)")
    from ._range_edges import check_sigreg_sees_collapse
    check_sigreg_sees_collapse(cfg.sigreg)  # t_max / knots in range that blind SIGReg (was: sigreg 0.000, no word)
    _path(data, "train(data=...)", "an HDF5 episode file")
    _path(out, "train(out=...)", "a run folder")
    check_out_dir(os.fspath(out), flag="train(out=...)")  # a file (the dataset itself): refused before the work
    check_run_folder(os.fspath(out))
    # "no" was truthy: it resumed; a numpy bool is a bool (round 7)
    check_value("train(resume=...)", plain_bool(resume), None, bool)
    check_value("train(progress=...)", plain_bool(progress), None, bool)
    if resume:  # no last.pt but an earlier run's snapshots / log: kept, not deleted by a fresh start (round 27)
        from ._run_folder_edits import check_no_orphaned_run
        check_no_orphaned_run(os.fspath(out), cfg.train.ckpt_every)
    if on_step is not None and not callable(on_step):  # was: "'int' object is not callable" after step 1
        raise TypeError(f"train(on_step=...) must be a function taking a StepInfo, or None; got {_kind(on_step)}")
    for name, ev in (("stop_event", stop_event), ("pause_event", pause_event)):
        if ev is not None and not callable(getattr(ev, "is_set", None)):
            raise TypeError(f"train({name}=...) must have an is_set() method (e.g. threading.Event or "
                            f"multiprocessing.Event), or be None; got {_kind(ev)}")
    if init is not None:
        _path(init, "train(init=...)", "a training checkpoint (e.g. runs/a/last.pt), or None to start from scratch")


RUN_FILES = ("config.json", "metrics.jsonl", "last.pt")
"""The files a run writes into its folder (besides ``step_N.pt`` snapshots)."""


def check_run_folder(out: str) -> None:
    """Refuse, before any work, a run folder whose files the run would write through or into something else:
    a symbolic link named like a run's file (writing went into its target: the dataset became the run's
    config), a pipe or device (open() blocked for ever), and a folder holding a shipped or exported
    ``model.pt`` (or official ``weights.pt``) but no run's ``last.pt`` (a new run's ``last.pt`` then shadowed it
    for eval/report/export), or a ``config.json`` of another kind (an official release's)."""
    from .runs import _special_kind, file_kind
    if not os.path.isdir(out):
        return
    for name in RUN_FILES:
        p = os.path.join(out, name)
        if os.path.islink(p):
            raise ValueError(f"train(out=...) {p}: is a symbolic link to {os.readlink(p)}; a run writes its own "
                             f"files and would write into the link's target: remove the link, or choose another "
                             f"out folder")
        if (special := _special_kind(p)) is not None:
            raise ValueError(f"train(out=...) {p}: is {special}, not a regular file; remove it, or choose another "
                             f"out folder")
        if os.path.exists(p) and not os.path.isfile(p):
            raise ValueError(f"train(out=...) {p}: is a folder, not a run's file; choose another out folder")
    if not os.path.exists(os.path.join(out, "last.pt")):
        for name, what in (("model.pt", "a shipped or exported checkpoint"), ("weights.pt", "official LeWM weights")):
            if os.path.lexists(os.path.join(out, name)):
                raise ValueError(f"train(out=...) {out}: holds {name} ({what}) and no run's last.pt: a run there "
                                 f"would mix its files with that checkpoint's (eval/report/export of the folder "
                                 f"would no longer read {name}); choose another out folder")
        cfg_path = os.path.join(out, "config.json")
        kind = file_kind(cfg_path) if os.path.isfile(cfg_path) else None
        if kind is not None and kind != "a run's config (config.json)":
            raise ValueError(f"train(out=...) {cfg_path}: is {kind}, not a run's config; the run would overwrite "
                             f"it: choose another out folder")


def run_files_state(out: str) -> dict:
    """{name: (inode, mtime_ns, size) or None} of a run folder's files, to tell what a run wrote."""
    state = {}
    for name in RUN_FILES:
        try:
            st = os.stat(os.path.join(out, name))
            state[name] = (st.st_ino, st.st_mtime_ns, st.st_size)
        except (OSError, ValueError):
            state[name] = None
    return state


def remove_unsaved_run_files(out: str, before: dict) -> list[str]:
    """After a failed run: when it saved no checkpoint (``last.pt`` is as it was), remove the files it made
    (its ``config.json`` and ``metrics.jsonl``, when they were not there before: an earlier run's stay).
    Returns the names removed."""
    now = run_files_state(out)
    if now["last.pt"] is not None and now["last.pt"] != before.get("last.pt"):
        return []  # a checkpoint of this run: its files belong with it
    gone = []
    for name in ("config.json", "metrics.jsonl"):
        if before.get(name) is None and now[name] is not None:
            p = os.path.join(out, name)
            try:
                if os.path.isfile(p) and not os.path.islink(p):
                    os.remove(p)
                    gone.append(name)
            except OSError:
                pass
    return gone


def _path(p, where: str, what: str) -> None:
    if not isinstance(p, (str, os.PathLike)):
        raise TypeError(f"{where} must be {what}, got {_kind(p)}")
    if not str(os.fspath(p)).strip():
        raise ValueError(f"{where}: no path given (an empty name); expected {what}")


def acquire(lock: faults.RunLock) -> None:
    """``lock.acquire()``; a busy folder is a :class:`RunFolderBusy` (also a ValueError), which names a
    training of this very process (another thread) as such."""
    try:
        lock.acquire()
    except faults.RunLocked as e:
        msg = str(e)
        mine = f"(pid {os.getpid()})"
        if mine in msg:
            msg = msg.replace(f"another training {mine}", f"another training of this process {mine}, in another thread,")
        raise RunFolderBusy(msg.replace("choose another --out", "choose another out folder")) from None


def check_envs(cfg: LeWMConfig, data: str, data_env: str, init, init_cfg, resuming: bool, saved_cfg, ckpt_path) -> None:
    """The data is of the config's env (when it names one), of the resumed run's and of ``init``'s. An
    environment this library does not know (attribute 'env' = 'mars_rover') trains, with a warning: the
    checkpoint cannot be evaluated (was: eval refused it only after the training)."""
    if data_env and env_key(data_env) not in CANONICAL_ENVS and env_key(data_env) not in NON_ENV_DATA:
        warnings.warn(f"{data}: attribute 'env' is {data_env!r}, not an environment this library knows "
                      f"({', '.join(CANONICAL_ENVS)}): the model trains, but `eval` and the planner cannot run "
                      f"its checkpoint (fix the file's attribute if it is a misspelling)", stacklevel=2)
    if cfg.env and data_env and env_key(cfg.env) != env_key(data_env):  # was: saved as the data's env, silently
        raise DataError(f"{data}: holds {data_env!r} episodes (attribute 'env') but train(cfg=...) is for "
                        f"{cfg.env!r}; use data of {cfg.env!r}, or a config with env='' (taken from the data)")
    if init_cfg is not None and init_cfg.env and init_cfg.env != data_env:
        raise ValueError(f"--init {init} was trained on env {init_cfg.env!r} but {data} holds {data_env!r}: "
                         f"continue a run on data of its own environment")
    if resuming and saved_cfg.env and data_env and saved_cfg.env != data_env:
        raise ValueError(f"{ckpt_path} was trained on env {saved_cfg.env!r} but {data} holds {data_env!r}: "
                         f"resume it on data of its own environment, or pass --no-resume / another --out")


MAX_CLOCK_S = 1e9
"""The longest training time a checkpoint may record (about 31 years): more is an edited or damaged file."""


def resume_clock(loaded, resuming: bool, ckpt_path: str) -> float:
    """The training time (``elapsed_s`` of its metrics) the run at ``ckpt_path`` resumes from: 0 for a fresh
    run or one continued with ``init``. A recorded time that is not a number of seconds in [0, 1e9] is one
    CheckpointError naming the file (was: None or a list a TypeError traceback, "abc" "could not convert string
    to float", NaN blamed on ``lr_at(elapsed_s=...)``; a negative time or 1e300 continued silently: samples/s
    and the time budget's schedule wrong, a ``train.time_budget_s`` run stopped at once as "ran out")."""
    if not resuming or not loaded or not loaded[2].get("metrics"):
        return 0.0
    metrics = loaded[2]["metrics"]
    if "elapsed_s" not in metrics:
        return 0.0
    v = metrics["elapsed_s"]
    try:
        check_value("its recorded training time in seconds (metrics elapsed_s)", v, Range(0, MAX_CLOCK_S), float)
    except ValueError as e:
        from .errors import CheckpointError
        raise CheckpointError(f"{ckpt_path}: {e}: the file was edited or damaged, and a resumed run "
                              f"continues that clock (samples/s, train.time_budget_s); continue its weights with "
                              f"--init {ckpt_path} and another --out (a run continued with --init starts its own "
                              f"clock), or pass --no-resume to start over") from None
    return float(v)


def check_lr_args(step, cfg, elapsed_s) -> None:
    check_value("lr_at(step=...)", step, Range(lo=0), float)  # -1 / NaN gave a learning rate silently
    if not isinstance(cfg, TrainConfig):
        hint = " (pass its .train)" if isinstance(cfg, LeWMConfig) else ""
        raise TypeError(f"lr_at(cfg=...) must be a TrainConfig (e.g. get_preset('cpu-tiny').train){hint}, "
                        f"got {_kind(cfg)}")
    if elapsed_s is not None:
        check_value("lr_at(elapsed_s=...)", elapsed_s, None, float)


def _kind(x) -> str:
    if x is None or isinstance(x, (bool, int, float)):
        return repr(x)
    if isinstance(x, str):
        return repr(x[:60])
    return f"a {type(x).__name__}"


# ---------------------------------------------------------------------------------------------
# Where a run starts: a resumed / continued checkpoint, or a fresh start in the folder
# ---------------------------------------------------------------------------------------------
def start_from(loaded, model, opt, cfg: LeWMConfig, src, resuming: bool, data: str, out: str, rank0: bool) -> int:
    """Put a resumed (``resuming``) or continued (``--init``) checkpoint ``loaded`` = (model, config, meta)
    read from ``src`` into ``model`` and ``opt`` after checking it fits the run, print where the run
    starts (and what differs); start a fresh run's files over. Returns the start step."""
    from . import checkpoint
    from .config import changed_settings
    start, tc, metrics_path = 0, cfg.train, os.path.join(out, "metrics.jsonl")
    if loaded is not None:
        m2, cfg_saved, meta = loaded
        if cfg_saved.model != cfg.model:
            raise checkpoint.CheckpointError(architecture_differs(src, cfg_saved.model, cfg.model, data, resuming))
        if not resuming and meta["step"] >= tc.steps:
            raise ValueError(f"the init checkpoint {src} (--init, train(init=...)) is at step {meta['step']}: "
                             f"ask for more steps than that (--steps, train(steps=...); got {tc.steps})")
        if resuming and meta["step"] > tc.steps:
            raise ValueError(f"{src} is already at step {meta['step']}, past --steps {tc.steps}: ask for at "
                             f"least {meta['step']} steps, or pass --no-resume / another --out to start over")
        model.load_state_dict(m2.state_dict())
        if meta["optimizer"] is not None:
            checkpoint.load_optimizer(opt, meta["optimizer"], src)
        start = meta["step"]
        if rank0:
            print(f"{'resuming from' if resuming else 'continuing from'} {src} at step {start}")
            if meta["optimizer"] is None and start > 0:  # an export: AdamW's moments restart mid-schedule
                print(f"note: {src} is an exported checkpoint (no optimizer state): the optimizer starts fresh "
                      f"at step {start} (the learning-rate schedule goes on from there)")
            changed = changed_settings(cfg_saved, cfg)
            if cfg_saved.action_std and (cfg_saved.action_mean, cfg_saved.action_std) != (cfg.action_mean, cfg.action_std):
                was, now = (", ".join(f"{v:.4g}" for v in c.action_mean + c.action_std) for c in (cfg_saved, cfg))
                changed.append(f"the action statistics (mean, std), re-estimated on --data {data} (other data than "
                               f"the run's?): {was} -> {now}")  # by design (another --data, mostly), never silently
            if changed:  # allowed (a new stage may change the optimisation), but never silently
                print(f"note: {src} ran with other settings; continuing with the new ones: {', '.join(changed)}")
    if not rank0:
        return start
    from ._run_folder_edits import check_log_is_the_runs, check_snapshot_slots, note_config_edits
    check_snapshot_slots(out, start, tc)  # a foreign step_N.pt stopped the run at step N (round 27)
    if resuming:  # lines logged after the checkpoint would repeat their steps
        if (note := note_config_edits(out, loaded[1].to_dict(), src)) is not None:  # a hand edit, dropped silently
            print(note)
        check_log_is_the_runs(metrics_path, loaded[2], src)  # another run's log: refused, not continued
        faults.truncate_metrics(metrics_path, start)
        return start
    if os.path.exists(metrics_path):
        os.remove(metrics_path)
    _remove_earlier_snapshots(out)
    return start


def _remove_earlier_snapshots(out: str) -> None:
    """A run started over in ``out`` (``--no-resume``) removes the ``step_N.pt`` snapshots of the earlier
    run there (was: kept beside the new run's without a word, so a pick over ``step_*.pt`` mixed two
    runs), with one line naming them. Only checkpoint files (torch's zip) of that name are removed."""
    from ._run_folder_edits import snapshot_names
    names = snapshot_names(out)
    gone = []
    for n in names:
        p = os.path.join(out, n)
        try:
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                if f.read(4) != b"PK\x03\x04":
                    continue
            os.remove(p)
            gone.append(n)
        except OSError:
            continue
    if gone:
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        print(f"note: starting over in {out}: removed {len(gone)} snapshot(s) of the earlier run ({shown})")


# ---------------------------------------------------------------------------------------------
# recalibrate_batchnorm / recalibrate_from_data (round 23: None was an AttributeError, a batch
# without 'actions' a bare KeyError, batches=-5 / max_batches=-1 "0 frames" silently, 1.5 a TypeError,
# batch_size=0 the preset's batch size)
# ---------------------------------------------------------------------------------------------
def check_recalibrate_args(model, batches, max_batches) -> None:
    from . import _api_checks as api
    api.world_model("recalibrate_batchnorm", model, "encode", "predict")
    if batches is None or isinstance(batches, (str, bytes)) or not hasattr(batches, "__iter__"):
        raise TypeError(f"recalibrate_batchnorm(batches=...) must be an iterable of batch dicts with 'pixels' "
                        f"(B, T, 3, S, S) and 'actions' (B, T-1, K), got {_kind(batches)}")
    api.whole("recalibrate_batchnorm", "max_batches", max_batches, 0, none_ok=True)


def check_recalibrate_batch(i: int, b) -> None:
    """Batch ``i`` of ``recalibrate_batchnorm(batches=...)``: a dict with 'pixels' and 'actions'."""
    from collections.abc import Mapping
    if not isinstance(b, Mapping) or "pixels" not in b or "actions" not in b:
        got = f"keys {sorted(map(str, b))}" if isinstance(b, Mapping) else _kind(b)
        raise ValueError(f"recalibrate_batchnorm(batches=...): batch {i} must be a dict with 'pixels' (B, T, 3, S, S) "
                         f"and 'actions' (B, T-1, K) (as lewm.data.batch_iterator gives), got {got}")


def check_recalibrate_from_data_args(model, cfg, data, batches, batch_size, seed) -> tuple:
    """-> (batches, batch_size, seed) as plain ints (a numpy seed was torch's "an integer is required")."""
    from . import _api_checks as api
    fn = "recalibrate_from_data"
    api.world_model(fn, model, "encode", "predict")
    api.config(fn, cfg)
    api.path(fn, "data", data)
    return (api.whole(fn, "batches", batches, 1), api.whole(fn, "batch_size", batch_size, 1, none_ok=True),
            api.seed(fn, seed))


# ---------------------------------------------------------------------------------------------
# A run stopped before its first step (round 23: it saved an untrained last.pt at step 0, which eval /
# report / resume then took for the run's result): nothing is saved and its folder is left as it was
# ---------------------------------------------------------------------------------------------
def end_if_terminated(out: str, single: bool) -> None:
    """A SIGTERM / SIGHUP before the first step: end as terminated, saying that nothing was saved."""
    if single and (signum := faults.termination_pending()) is not None:
        faults.say(f"{faults.signal_name(signum)} before the first step of the run in {out}: nothing was saved")
        raise faults.Terminated(signum, said=True)


def leave_as_it_was(out: str, before: dict, made: bool) -> None:
    """Remove the files a run that saved nothing wrote (:func:`remove_unsaved_run_files`), and its folder when
    the run made it and it is empty."""
    remove_unsaved_run_files(out, before)
    if made and os.path.isdir(out) and not os.listdir(out):
        os.rmdir(out)


_FROM_DATA = {"image_size": "images of {v}x{v} pixels (key 'pixels')", "action_dim": "{v}-dim actions (key 'action')"}


def architecture_differs(src, saved, wanted, data, resuming: bool) -> str:
    """The one line for a resumed / continued checkpoint ``src`` whose model config ``saved`` is not the run's
    ``wanted``: each differing field with both values; a field the run takes from ``data`` (the image size, the
    action size) blamed on the data, not on the flags (was: "pass the same --preset ..." for a 16-px file)."""
    import dataclasses
    diff = [(k, v, getattr(wanted, k, None)) for k, v in dataclasses.asdict(saved).items() if getattr(wanted, k, None) != v]
    from_data = [(k, v, w) for k, v, w in diff if k in _FROM_DATA]
    if from_data:
        k, v, w = from_data[0]
        return (f"{src}: was trained on {_FROM_DATA[k].format(v=v)} but --data {data} has "
                f"{_FROM_DATA[k].format(v=w)}; {'resume' if resuming else 'continue'} it on data like its own "
                f"(collect at that size / of that environment)" + ("" if resuming else ", or train a new run without --init"))
    shown = ", ".join(f"{k} {v} (asked {w})" for k, v, w in diff[:4])
    return (f"{src}: holds a different architecture than the requested one ({shown}); "
            + ("use another --out folder or pass --no-resume" if resuming else
               "pass the same --preset / --latent-dim / --history / --set model.* as its run"))
