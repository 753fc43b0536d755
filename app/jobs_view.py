"""Background jobs on the pages: the checks before a start (in the form's words, before any process or folder
is made), a dataset selection that vanished, the data folder, and a collection's progress with its Stop
button and notes."""
from __future__ import annotations

import os
import warnings

import streamlit as st

import common  # noqa: F401  (first: puts the repo on sys.path)
import discovery
import widgets


def data_fits(path: str, base, history: int, batch: int, batch_key: str | None = None) -> str | None:
    """Why a run would fail on this data at once, in the form's words; None when it fits: one prediction per step
    (batch 1 with History 1: the BatchNorm projector needs 2 latents), no window of history x frameskip frames,
    or a batch larger than the training windows. ``batch_key``: the form's batch input, whose 0 means the
    preset's value. Checked before the worker starts (it said it after the start, with the CLI's flag names)."""
    from lewm.data import DataError, WindowDataset
    if batch * history < 2:
        return (f"Batch size {batch} with History {history}: the BatchNorm projector needs at least 2 latents per "
                f"step; use Batch size ≥ 2 (or History ≥ 2).")
    fs = base.model.frameskip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skipped short episodes: the run itself says so
            ds = WindowDataset(path, history, fs, split="train", val_fraction=base.train.val_fraction,
                               seed=base.train.seed, max_ram_bytes=0)  # indexes only: no pixel read
    except DataError as e:
        return f"{e} (History (frames) {history} x the preset's frameskip {fs}: use a smaller History or longer episodes)"
    if batch > len(ds):
        whose = "" if batch_key is None or int(st.session_state.get(batch_key) or 0) else \
            " (the preset's; 0 = the preset's value)"
        return (f"Batch size {batch}{whose} is larger than the {len(ds)} training windows of {discovery.rel(path)}: "
                f"use at most {len(ds)}, or more data.")
    return None


def selected(key: str) -> str | None:
    """The dataset the picker ``key`` had selected before this run (read before the picker is drawn)."""
    return st.session_state.get(key)


def vanished(before: str | None, path: str | None) -> str | None:
    """The selected dataset ``before`` is gone and the picker moved to ``path``: say so (was: another dataset
    shown, or trained on, without a word). None when nothing vanished."""
    if not before or before == path or os.path.exists(before):
        return None
    now = f"showing {os.path.basename(path)}" if path else "no dataset is selected"
    return f"{os.path.basename(before)} (selected) no longer exists; {now}. Pick a dataset."


def collection_running(job, s, key: str) -> bool:
    """A running collection's notes (a new name), progress bar and Stop button; True when Stop was pressed
    (the job is stopped; the caller reruns). ``s``: the job's snapshot."""
    for note in s.notes:
        st.warning(note, icon=":material/drive_file_rename_outline:")
    if not s.active:
        return False
    c1, c2 = st.columns([6, 1])
    c1.progress(s.fraction, text=f"Collecting {s.params['episodes']} {s.params['env']} episodes → "
                                 f"`{discovery.rel(s.out)}` · {s.done}/{s.total} · ETA {widgets.fmt_s(s.eta_s)}")
    if c2.button("Stop", icon=":material/stop:", key=key,
                 help="Stops the collection; nothing is written (its temporary file is removed)"):
        job.stop()
        return True
    return False


def collect_status(job, key_prefix: str) -> None:
    """One collection: its progress bar and Stop button while it runs, then what it did; its notes (a new name)."""
    s = job.snapshot()
    where = f"`{discovery.rel(s.out)}`"
    if collection_running(job, s, f"{key_prefix}_stop_{s.id}"):
        st.rerun()
    if s.active:
        return
    if s.status == "finished":
        st.success(f"Collected {s.total} episodes into {where} in {widgets.fmt_s(s.elapsed_s)}.")
    elif s.status == "stopped":
        st.info(f"Collection into {where} stopped at {s.done}/{s.total} episodes: nothing was written (the "
                f"temporary file was removed).", icon=":material/stop_circle:")
    elif s.status == "failed":
        st.error(f"Collection into {where} failed: {s.error}")
