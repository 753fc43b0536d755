"""The pickers every page shares: the sidebar's checkpoint (remembered in the URL's ``?ckpt=``, with
an upload), the checkpoint a page requires, and a page's dataset picker that checks the dataset
fits the checkpoint and offers to collect one that does. Clear errors, never a traceback."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import streamlit as st

from common import (ROOT, data_dir, data_dir_error, device, job_manager, runs_dir, runs_dir_error, runs_dir_note,
                    settings)
from cache import load_checkpoint
from discovery import (dataset_fits, dataset_info, dataset_label, given_data_notes, list_checkpoints, list_datasets,
                       mtime, rel, world_error)
from lewm import runs as lewm_runs
from lewm.checkpoint import CheckpointError, batchnorm_note
from lewm.data import DataError
from lewm.jobs import AlreadyRunning

import jobs_view  # app/jobs_view.py: a collection's progress and Stop
import refstore  # app/refstore.py: reference sets and stored maps
import safety  # app/safety.py: typed paths confined to the data folders, broken files


CKPT_KEY = "lab_checkpoint"


def sidebar_checkpoint() -> None:
    """The checkpoint selector shared by every page (in the sidebar)."""
    with st.sidebar:
        ckpts = list_checkpoints()
        labels = [lbl for lbl, _ in ckpts]
        paths = [p for _, p in ckpts]
        if ckpts:
            req = st.session_state.pop("_ckpt_request", None)  # a page asked to switch (see select_checkpoint)
            lost = st.session_state.get(_LOST)  # (the selected checkpoint that vanished, the one shown instead)
            if req in paths:
                st.session_state["sb_checkpoint"] = labels[paths.index(req)]
            elif req is not None:  # was dropped without a word
                st.warning(f"`{rel(req)}` no longer exists (deleted or moved): the sidebar keeps its checkpoint.",
                           icon=":material/link_off:")
            elif lost and lost[0] in paths and st.session_state.get(CKPT_KEY) == lost[1]:
                # the vanished checkpoint is back (rewritten, restored) and nothing else was picked: select it again
                st.session_state["sb_checkpoint"] = labels[paths.index(lost[0])]
                st.session_state.pop(_LOST)
                st.session_state.pop(_URL_NOTE, None)
                st.info(f"`{rel(lost[0])}` exists again: selected again.", icon=":material/restore:")
            elif st.session_state.get("sb_checkpoint") not in labels:
                # a new browser session: the checkpoint named in the URL (?ckpt=...), else the last one of
                # this session, else the first (given on the command line, else the best shipped agent)
                prev = st.session_state.get(CKPT_KEY)
                cur = _checkpoint_from_url(paths) or prev
                st.session_state["sb_checkpoint"] = labels[paths.index(cur) if cur in paths else 0]
                shown = paths[labels.index(st.session_state["sb_checkpoint"])]
                if prev and prev not in paths and cur == prev:  # picked in this session, then deleted or moved:
                    st.session_state[_LOST] = (prev, shown)  # not the URL's fault (was: "?ckpt=...: no such file")
                    st.session_state[_URL_NOTE] = (
                        f"The selected checkpoint `{rel(prev)}` no longer exists (deleted or moved); showing "
                        f"`{rel(shown)}` instead. It is selected again as soon as the file is back.", shown)
                else:
                    _note_unknown_url_checkpoint(paths, shown)
            choice = st.selectbox("Checkpoint", labels, key="sb_checkpoint",
                                  help="Shipped checkpoints (checkpoints/<env>/model.pt, best evaluated agent first) "
                                       "and your runs (runs/*/last.pt). Remembered in the page's URL.")
            st.session_state[CKPT_KEY] = paths[labels.index(choice)]
            if lost and st.session_state.get(_LOST) == lost and lost[1] != st.session_state[CKPT_KEY]:
                st.session_state.pop(_LOST)  # another checkpoint was picked meanwhile: never switch back
            _show_url_note(st.session_state[CKPT_KEY])
            if st.query_params.get(CKPT_PARAM) != rel(st.session_state[CKPT_KEY]):
                st.query_params[CKPT_PARAM] = rel(st.session_state[CKPT_KEY])
        else:
            st.caption("No checkpoint yet: train one on the Train page.")
            if st.query_params.get(CKPT_PARAM):
                st.warning(f"?{CKPT_PARAM}={st.query_params.get(CKPT_PARAM)}: not a known checkpoint; the lab has "
                           f"none yet, so no checkpoint is shown.")
            st.session_state[CKPT_KEY] = None
        with st.expander("Upload a checkpoint"):
            up = st.file_uploader("LeWM checkpoint (.pt)", type=["pt", "pth"], key="sb_upload")
            if up is not None and st.session_state.get("_uploaded_name") != (up.name, up.size):
                dest = lewm_runs.unique_file(os.path.join(runs_dir(), "uploads", lewm_runs.slugify(up.name, 60)))
                try:  # an upload that cannot be written or loaded is deleted, never left behind
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with open(dest, "wb") as f:
                        f.write(up.getbuffer())
                    load_checkpoint(dest)
                except Exception as e:  # noqa: BLE001 - whatever the file does, it goes
                    with contextlib.suppress(OSError):
                        os.remove(dest)
                    why = str(e).split(": ", 1)[-1] if isinstance(e, CheckpointError) else f"{type(e).__name__}: {e}"
                    st.error(f"{up.name}: not loaded ({why}); the upload was deleted.")
                else:
                    st.session_state["_uploaded_name"] = (up.name, up.size)
                    select_checkpoint(dest)
        st.caption(f"device: `{device()}`")
        if (note := runs_dir_note()) is not None:
            st.warning(note, icon=":material/create_new_folder:")


CKPT_PARAM = "ckpt"  # the URL query parameter that remembers the checkpoint across reloads


def _url_candidates(v: str) -> tuple[str, ...]:
    """Where ``?ckpt=v`` may point: itself when absolute; else relative to the repository, then to the runs
    folder (``?ckpt=rk/last.pt`` for a run of LEWM_LAB_RUNS; was: read from the repository only)."""
    if os.path.isabs(v):
        return (v,)
    return v, str(ROOT / v), os.path.join(runs_dir(), v)


def _checkpoint_from_url(paths: list[str]) -> str | None:
    """The known checkpoint named by ``?ckpt=`` (absolute, or relative to the repo or the runs folder), or None.
    A folder (a run's, a shipped agent's) stands for its last.pt, else its model.pt, as every CLI command reads it."""
    v = st.query_params.get(CKPT_PARAM)
    if not v:
        return None
    for cand in _url_candidates(v):
        a = os.path.abspath(cand)
        if os.path.isdir(a):
            a = next((f for f in (os.path.join(a, n) for n in ("last.pt", "model.pt")) if os.path.exists(f)), a)
        if a in paths:
            return a
    return None


_URL_NOTE = "_ckpt_url_note"  # (message, the checkpoint shown instead) while that checkpoint stays selected
_LOST = "_ckpt_lost"  # (the selected checkpoint that was deleted, the one shown instead) until it is back


def _note_unknown_url_checkpoint(paths: list[str], shown: str) -> None:
    """``?ckpt=`` naming no known checkpoint (a dataset, a missing file, an export outside the lab's folders):
    say what was asked and what is shown instead (was: another checkpoint shown without a word)."""
    v = st.query_params.get(CKPT_PARAM)
    if not v or _checkpoint_from_url(paths):
        return
    cands = [os.path.abspath(c) for c in _url_candidates(v)[-2:]]  # absolute, or the repo's and the runs folder's
    full = next((c for c in cands if os.path.exists(c)), cands[0])
    ckpt_in = next((n for n in ("last.pt", "model.pt") if os.path.isfile(os.path.join(full, n))), None)
    if os.path.isdir(full) and ckpt_in:  # a run folder is valid: this one is just not where the lab looks
        parent = os.path.dirname(full.rstrip(os.sep)) or full
        where = ("inside the lab's runs folder but not directly in it (the lab lists its runs/*/last.pt)"
                 if safety.is_inside(full, runs_dir()) else "outside the lab's runs folder")
        st.session_state[_URL_NOTE] = (
            f"?{CKPT_PARAM}={v}: a run folder (with {ckpt_in}) {where} `{runs_dir()}`; "
            f"showing `{rel(shown)}` instead. To open it, restart the lab with its parent folder as the runs "
            f"folder (LEWM_LAB_RUNS={parent} or --runs {parent}), or with --checkpoint "
            f"{os.path.join(full, ckpt_in)} (or LEWM_LAB_CHECKPOINT).", shown)
        return
    run_ckpt = os.path.join(os.path.dirname(full), "last.pt")
    why = (("no such file" + ("" if os.path.isabs(v) else f"; a relative path is read from the repository `{ROOT}` "
                              f"and from the runs folder `{runs_dir()}`")) if not os.path.exists(full) else
           "a folder with no last.pt or model.pt" if os.path.isdir(full) else
           (lewm_runs.file_kind(full) or "an empty or unreadable file") if not full.endswith((".pt", ".pth")) else
           "a file outside the lab's checkpoints" if not safety.is_inside(full, runs_dir()) else
           (f"a file inside the lab's runs folder that it does not list (it lists runs/*/last.pt), like a model "
            f"that `export` wrote beside its run" + (f"; this run is listed: use ?{CKPT_PARAM}="
                                                    f"{rel(os.path.dirname(full))}" if run_ckpt in paths else "")))
    st.session_state[_URL_NOTE] = (
        f"?{CKPT_PARAM}={v}: not a known checkpoint ({why}); showing `{rel(shown)}` instead. The lab lists "
        f"checkpoints/<env>/model.pt, runs/*/last.pt and uploads; start it with --checkpoint FILE (or "
        f"LEWM_LAB_CHECKPOINT) or upload the file to use another.", shown)


def _show_url_note(current: str) -> None:
    note = st.session_state.get(_URL_NOTE)
    if note and note[1] == current:
        st.warning(note[0], icon=":material/link_off:")
    elif note:
        del st.session_state[_URL_NOTE]  # another checkpoint was picked: the note is over


def select_checkpoint(path: str) -> None:
    """Make ``path`` the sidebar's checkpoint (the selectbox is updated on the rerun); a file that is gone is
    said on the page instead (was: the click did nothing)."""
    if not os.path.isfile(path):
        st.warning(f"`{rel(path)}` no longer exists (deleted or moved): the other pages keep "
                   f"`{rel(st.session_state.get(CKPT_KEY) or '')}`.", icon=":material/link_off:")
        return
    st.session_state["_ckpt_request"] = path
    st.session_state[CKPT_KEY] = path
    st.rerun()


def current_checkpoint() -> str | None:
    return st.session_state.get(CKPT_KEY)


def require_checkpoint():
    """(model, cfg, meta, path) of the sidebar checkpoint; an error/info message and stop otherwise."""
    path = current_checkpoint()
    if not path:
        st.info("No checkpoint is available yet. Train one on **Train (live)**, put a shipped checkpoint in "
                "`checkpoints/<env>/model.pt`, or upload one in the sidebar.")
        st.page_link("app_pages/train.py", label="Go to Train (live)", icon=":material/model_training:")
        st.stop()
    safety.note_file(rel(path))
    try:
        model, cfg, meta = load_checkpoint(path)
    except CheckpointError as e:
        st.error(str(e))
        st.stop()
    return model, cfg, meta, path


def checkpoint_caption(cfg, meta, path) -> None:
    st.caption(f"Checkpoint `{rel(path)}` · env **{cfg.env or '?'}** · {cfg.model.image_size}px · "
               f"D={cfg.model.latent_dim} · history {cfg.model.history} · step {meta['step']} · preset {cfg.preset}")
    note = batchnorm_note(meta)
    if note:
        st.warning(f"This checkpoint: {note}.")


def pick_dataset(key: str, cfg=None, need_state: bool = False, label: str = "Dataset",
                 allow_collect: bool = True, ckpt: str | None = None):
    """Select an HDF5 dataset; with ``cfg``, check it matches the checkpoint's env and image size.

    With ``cfg`` the matching datasets come first (the checkpoint's own reference set first of all),
    and when the checkpoint changes a selection that no longer matches moves to the first matching
    one. Returns (path, info) or (None, None) after showing why (st.error / st.info).
    """
    for note in given_data_notes():  # a checkpoint given as LEWM_LAB_DATA was dropped without a word
        st.warning(note, icon=":material/warning:")
    options = list_datasets()
    custom = st.session_state.get(f"{key}_custom")
    if custom and custom not in options:
        options = [custom] + options
    if cfg is not None:
        _follow_running_reference(cfg, key)
    _collected_for(key)
    req = st.session_state.pop(f"{key}_request", None)  # e.g. a dataset just collected for this view
    if req and req not in options:
        options = [req] + options
    own = refstore.reference_of(ckpt or current_checkpoint() or "") if cfg is not None else None
    if cfg is not None:  # prefer datasets that fit the checkpoint; its own reference set first
        options = sorted(options, key=lambda p: (not dataset_fits(p, cfg), p != own))
        tag = (cfg.env, cfg.model.image_size, ckpt or current_checkpoint())
        if req in options:
            st.session_state[key] = req
        elif st.session_state.get(f"{key}_for") != tag:  # a new checkpoint (or the first visit)
            cur = st.session_state.get(key)
            if cur not in options or not dataset_fits(cur, cfg):  # none fits: select none (was: the first of
                st.session_state[key] = next((p for p in options if dataset_fits(p, cfg)), None)  # another env)
        st.session_state[f"{key}_for"] = tag
    elif req in options:
        st.session_state[key] = req
    elif current_checkpoint() and st.session_state.get(f"{key}_for") != current_checkpoint():
        # first visit, or a new checkpoint while a shipped reference set is shown: the checkpoint's own
        own = refstore.reference_of(current_checkpoint())
        cur = st.session_state.get(key)
        if own in options and (cur is None or Path(cur).name == refstore.REFERENCE_NAME):
            st.session_state[key] = own
        st.session_state[f"{key}_for"] = current_checkpoint()
    if st.session_state.get(key) is not None and st.session_state.get(key) not in options:
        del st.session_state[key]  # a dataset that disappeared
    col1, col2 = st.columns([3, 2])
    with col1:
        if options:
            path = st.selectbox(label, options, format_func=dataset_label, key=key)
        else:
            path = None
            st.info("No dataset yet (looked in runs/data/, data/ and checkpoints/*/reference.h5).")
    with col2:
        typed = st.text_input("…or a path on this machine", key=f"{key}_path", placeholder="runs/data/file.h5",
                              help="Only inside the lab's data folders: " +
                                   ", ".join(safety.lab_allowed_dirs(settings(), str(ROOT))))
        if typed:
            try:  # never any file of the machine: only the lab's data folders (see app/safety.py)
                path = safety.confine(typed, safety.lab_allowed_dirs(settings(), str(ROOT)), str(ROOT))
            except safety.PathNotAllowed as e:
                st.error(str(e), icon=":material/block:")
                return None, None
    if cfg is not None and st.session_state.get(f"{key}_collect_job"):
        collect_reference_button(cfg, key)  # its progress bar
    elif cfg is not None and allow_collect and (path is None or not dataset_fits(path, cfg)) and \
            not any(dataset_fits(p, cfg) for p in options):
        st.info(f"No {cfg.env} dataset at {cfg.model.image_size}px is known yet (none ships with this checkpoint).")
        collect_reference_button(cfg, key)
    if path is None:
        return None, None
    safety.note_file(rel(path))
    try:
        info = dataset_info(path, mtime(path))
    except DataError as e:
        st.error(str(e))
        return None, None
    if cfg is not None:
        if cfg.env and info["env"] and info["env"] != cfg.env:
            st.error(f"{rel(path)}: this dataset comes from environment '{info['env']}' but the checkpoint "
                     f"was trained on '{cfg.env}'. Pick a {cfg.env} dataset (or collect one on the Data page).")
            return None, None
        if info["image_size"] != cfg.model.image_size:
            st.error(f"{rel(path)}: images are {info['image_size']}x{info['image_size']} but the checkpoint expects "
                     f"{cfg.model.image_size}x{cfg.model.image_size} (key 'pixels'). Collect at image size "
                     f"{cfg.model.image_size}.")
            return None, None
        werr = world_error(path, mtime(path), cfg.env, cfg.model.image_size) if info["has_state"] else None
        if werr:  # states the simulator cannot be in: render_state / planning would raise on them
            st.error(werr)
            return None, None
    if need_state and not info["has_state"]:
        st.error(f"{rel(path)}: no 'state' key; this view needs the true physical state of every frame.")
        return None, None
    return path, info


def _collected_for(key: str) -> None:
    """If the collect job started for the view ``key`` has finished, ask the view to select its file
    (before its selectbox is drawn)."""
    job_id = st.session_state.get(f"{key}_collect_job")
    if not job_id:
        return
    job = next((j for j in job_manager().jobs("collect") if j.id == job_id), None)
    s = job.snapshot() if job is not None else None
    if s is None or not s.active:
        st.session_state.pop(f"{key}_collect_job", None)
        if s is not None and s.status == "finished":
            st.session_state[f"{key}_request"] = s.out
        elif s is not None:
            st.session_state[f"{key}_collect_error"] = f"Collection into `{rel(s.out)}` {s.status}: {s.error or ''}"


def collect_reference_button(cfg, key: str) -> None:
    """Offer to collect a small dataset matching the checkpoint, in the background with a progress
    bar; when it is done, the view selects it (through ``{key}_request``: the selectbox of ``key``
    is already drawn on this run, so its state cannot be set here)."""
    from lewm.envs import list_envs, missing_packages
    if cfg.env not in list_envs():
        if missing_packages(cfg.env):  # was: no button and no word (an optional env whose packages are missing)
            st.info(f"{cfg.env} episodes cannot be collected here{missing_packages(cfg.env)}.")
        return
    mgr = job_manager()
    job_key = f"{key}_collect_job"
    job = next((j for j in mgr.jobs("collect") if j.id == st.session_state.get(job_key)), None)
    err = st.session_state.pop(f"{key}_collect_error", None)
    if err:
        st.error(err)
    if job is None:
        if (problem := data_dir_error()) is not None:  # was: start_collect's exception box on the click
            st.error(problem, icon=":material/folder_off:")
            return
        if st.button(f"Collect {REF_EPISODES} {cfg.env} episodes at {cfg.model.image_size}px now",
                     key=f"{key}_collect", help="In the background (a few seconds to a minute); the view uses them "
                                                "as soon as they are written."):
            try:
                job = mgr.start_collect(cfg.env, REF_EPISODES, _reference_out(cfg), image_size=cfg.model.image_size,
                                        seed=123, owner=jobs_view.owner())
            except AlreadyRunning as e:  # a second click: follow the first (was: a twin collection)
                job = e.job
            except (ValueError, TypeError, OSError) as e:  # the data folder changed under the page, a full disk
                st.error(f"Cannot collect the reference set: {e}", icon=":material/folder_off:")
                return
            st.session_state[job_key] = job.id
            st.rerun()
        return

    @safety.fragment(run_every=0.7 if job.snapshot().active else None)
    def _progress():
        s = job.snapshot()
        if jobs_view.collection_running(job, s, f"{key}_collect_stop"):
            st.session_state.pop(job_key, None)  # stopped: the offer to collect comes back
            st.rerun(scope="app")
        elif not s.active:  # finished or failed: the page re-runs and _collected_for selects the file / says why
            st.rerun(scope="app")
    _progress()


REF_EPISODES = 60


def _reference_out(cfg) -> str:
    """Where the reference set offered for a checkpoint like ``cfg`` is collected."""
    return os.path.abspath(os.path.join(data_dir(), f"{cfg.env}-{cfg.model.image_size}px-ref.h5"))


def _follow_running_reference(cfg, key: str) -> None:
    """A reference collection for ``cfg``'s env and image size already running (started from another page or
    browser session): follow it in the view ``key`` (its progress, then its file) instead of offering a second,
    identical one (was: looked up by the page's own session key only)."""
    if st.session_state.get(f"{key}_collect_job") or runs_dir_error() is not None:
        return
    out = _reference_out(cfg)
    job = next((j for j in job_manager().active("collect") if j.requested_out == out), None)
    if job is not None:
        st.session_state[f"{key}_collect_job"] = job.id
