"""Background jobs on the pages: the checks before a start (in the form's words, before any process or folder
is made), a dataset selection that vanished, the data folder, and a collection's progress with its Stop
button and notes."""
from __future__ import annotations

import os
import time
import uuid
import warnings

import streamlit as st

import common  # noqa: F401  (first: puts the repo on sys.path)
import discovery
import widgets
from lewm.jobs import ACTIVE


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
    if not before or before == path or os.path.lexists(before):  # a broken link: the picker's error names it
        return None
    now = f"showing {os.path.basename(path)}" if path else "no dataset is selected"
    return f"{os.path.basename(before)} (selected) no longer exists; {now}. Pick a dataset."


def owner() -> str:
    """This browser session's id for the job manager (a second click with the same settings while the first job
    runs is refused there, under its lock: was a twin job)."""
    return st.session_state.setdefault("_lab_owner", uuid.uuid4().hex)


def clock(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "?"


def current_collections(jobs: list, n: int = 3) -> list:
    """The collections to show, newest first: one per output file (the newest job's; was: an older job's "stopped:
    nothing was written" beside a newer "Collected ..." of the same file), at most ``n``, the active ones first."""
    seen, out = set(), []
    for j in jobs:  # newest first
        if j.out not in seen:
            seen.add(j.out)
            out.append(j)
    return sorted(out, key=lambda j: j.status not in ACTIVE)[:n]  # stable: newest first within each


def past_note(note: str, status: str) -> str:
    """A job's rename note once the job ended (was: "exists ...; writing X instead" long after it ended)."""
    note = note.replace(" is being written by ", " was being written by ").replace(" exists (", " existed (")
    return note.replace("; writing ", "; wrote " if status == "finished" else "; it was writing ")


def collection_running(job, s, key: str) -> bool:
    """A running collection's progress bar and Stop button, its notes (a new name) under it; True when Stop was
    pressed (the job is stopped; the caller reruns). ``s``: the job's snapshot."""
    if not s.active:
        return False
    c1, c2 = st.columns([6, 1])
    c1.progress(s.fraction, text=f"Collecting {s.params['episodes']} {s.params['env']} episodes → "
                                 f"`{discovery.rel(s.out)}` · {s.done}/{s.total} · ETA {widgets.fmt_s(s.eta_s)}")
    for note in s.notes:  # beside its own job (was: above every job's line)
        st.warning(note, icon=":material/drive_file_rename_outline:")
    if c2.button("Stop", icon=":material/stop:", key=key,
                 help="Stops the collection; nothing is written (its temporary file is removed)"):
        job.stop()
        return True
    return False


def collect_status(job, key_prefix: str) -> None:
    """One collection: its progress bar, notes and Stop button while it runs, then what it did and when it ended,
    with its notes in the past tense, in one line."""
    s = job.snapshot()
    where = f"`{discovery.rel(s.out)}`"
    if collection_running(job, s, f"{key_prefix}_stop_{s.id}"):
        st.rerun()
    if s.active:
        return
    notes = "".join(f" {past_note(n, s.status)}." for n in s.notes)
    ended = f" (ended {clock(s.finished)})"
    if s.status == "finished":
        st.success(f"Collected {s.total} episodes into {where} in {widgets.fmt_s(s.elapsed_s)}{ended}.{notes}")
    elif s.status == "stopped":
        st.info(f"Collection into {where} stopped at {s.done}/{s.total} episodes{ended}: nothing was written (the "
                f"temporary file was removed).{notes}", icon=":material/stop_circle:")
    elif s.status == "failed":
        st.error(f"Collection into {where} failed{ended}: {s.error}{notes}")
