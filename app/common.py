"""Shared helpers of the LeWM lab pages: settings, job manager, cached loading, pickers, plots.

Layout and presentation only: every number shown comes from a ``lewm`` function.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

APP_DIR = Path(__file__).resolve().parent
ROOT = APP_DIR.parent
for _p in (str(ROOT), str(APP_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from lewm import jobs as lewm_jobs  # noqa: E402  (after the sys.path fix)
from lewm import runs as lewm_runs  # noqa: E402
from lewm.checkpoint import CheckpointError, batchnorm_note  # noqa: E402
from lewm.data import DataError  # noqa: E402

import refstore  # noqa: E402  (app/refstore.py: reference sets and stored maps)
import safety  # noqa: E402  (app/safety.py: typed paths confined to the data folders, broken files)



def _limit_torch_threads() -> None:
    """Use half the cores in the web server process (1 on a 2-core machine): oversubscribed OpenMP
    (server + training workers + others) made one CEM plan 3-40x slower here. LEWM_LAB_THREADS overrides."""
    import torch
    n = int(os.environ.get("LEWM_LAB_THREADS") or max(1, (os.cpu_count() or 2) // 2))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


_limit_torch_threads()

# the figures live in lewm.figures (shared with `python -m lewm report`; pages import it); the names
# are re-exported here for code that still says common.fig_...
from lewm.figures import (COLORS, TEMPLATE, animation_figure, fig_grid_warp, fig_image,  # noqa: E402,F401
                          fig_landscape, fig_losses, fig_series, fig_sigreg_hist, fig_spectrum, png_uri, upscale)
from lewm.figures import base as _base  # noqa: E402,F401

PAGES = {  # page file -> (title, icon); the order of the navigation
    "app_pages/welcome.py": ("Welcome", ":material/school:"),
    "app_pages/data.py": ("Data", ":material/dataset:"),
    "app_pages/train.py": ("Train (live)", ":material/model_training:"),
    "app_pages/collapse.py": ("Collapse lab", ":material/compress:"),
    "app_pages/latent.py": ("Latent space", ":material/scatter_plot:"),
    "app_pages/dynamics.py": ("Dynamics", ":material/timeline:"),
    "app_pages/planner.py": ("Planner", ":material/route:"),
}


# ---------------------------------------------------------------------------------------------
# Settings: `streamlit run app/lab.py -- --checkpoint X --data Y --runs DIR` or LEWM_LAB_* env vars
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def settings() -> dict:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--data", default=None)
    p.add_argument("--runs", default=None)
    p.add_argument("--device", default=None)
    try:
        a, _ = p.parse_known_args(sys.argv[1:])
    except SystemExit:  # pragma: no cover - never fatal
        a = argparse.Namespace(checkpoint=None, data=None, runs=None, device=None)
    env = os.environ.get

    def paths(v):
        return [x for x in (v or "").split(os.pathsep) if x]

    return {
        "checkpoints": paths(env("LEWM_LAB_CHECKPOINT")) + paths(a.checkpoint),
        "data": paths(env("LEWM_LAB_DATA")) + paths(a.data),
        "runs": os.path.abspath(env("LEWM_LAB_RUNS") or a.runs or str(ROOT / "runs")),
        "device": env("LEWM_LAB_DEVICE") or a.device or "auto",
    }


def runs_dir() -> str:
    return settings()["runs"]


def data_dir() -> str:
    return os.path.join(runs_dir(), "data")


def device() -> str:
    from lewm.train import resolve_device
    return str(resolve_device(settings()["device"]))


def _release(manager) -> None:
    manager.shutdown()


@st.cache_resource(show_spinner=False, on_release=_release)
def job_manager() -> lewm_jobs.JobManager:
    """One job manager per server process: runs outlive browser sessions and reloads."""
    return lewm_jobs.JobManager(runs_dir(), max_active_train=2)


# ---------------------------------------------------------------------------------------------
# Discovery of checkpoints and datasets
# ---------------------------------------------------------------------------------------------
def rel(path: str) -> str:
    try:
        return os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(str(ROOT)) else path
    except ValueError:
        return path


def shipped_success(path: str) -> float | None:
    """Success rate from the ``eval.json`` beside a checkpoint, or None."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "eval.json")) as f:
            v = json.load(f).get("success_rate")
        return None if v is None else float(v)
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def list_checkpoints() -> list[tuple[str, str]]:
    """(label, path): given on the command line, shipped (checkpoints/*/model.pt, best evaluated
    success first, so the lab opens on the best agent), runs (newest first)."""
    out: list[tuple[str, str]] = []
    for p in settings()["checkpoints"]:
        out.append((f"{Path(p).parent.name}/{Path(p).name} (given)", os.path.abspath(p)))
    shipped = sorted(glob.glob(str(ROOT / "checkpoints" / "*" / "model.pt")))
    shipped.sort(key=lambda p: -(shipped_success(p) or -1.0))  # stable: alphabetical among equals
    for p in shipped:
        sr = shipped_success(p)
        out.append((f"{Path(p).parent.name} (shipped" + (f", {100 * sr:.0f}% success)" if sr is not None else ")"), p))
    uploads = os.path.join(runs_dir(), "uploads")
    runs = [p for p in glob.glob(os.path.join(runs_dir(), "*", "last.pt")) if Path(p).parent != Path(uploads)]
    runs += glob.glob(os.path.join(uploads, "*.pt"))
    for p in sorted(runs, key=lambda x: os.path.getmtime(x) if os.path.exists(x) else 0, reverse=True):
        is_upload = Path(p).parent == Path(uploads)
        out.append((f"upload: {Path(p).name}" if is_upload else f"{Path(p).parent.name} (run)", p))
    seen, uniq = set(), []
    for label, p in out:
        if p not in seen:
            seen.add(p)
            uniq.append((label, p))
    return uniq


def list_datasets() -> list[str]:
    """HDF5 files: given on the command line, runs/data/, data/ of the repo (newest first), then the
    reference sets shipped beside the checkpoints (checkpoints/*/reference.h5)."""
    given = [os.path.abspath(p) for p in settings()["data"]]
    found = glob.glob(os.path.join(data_dir(), "*.h5")) + glob.glob(str(ROOT / "data" / "*.h5"))
    found = sorted(found, key=lambda x: os.path.getmtime(x) if os.path.exists(x) else 0, reverse=True)
    refs = sorted(glob.glob(str(ROOT / "checkpoints" / "*" / refstore.REFERENCE_NAME)))
    out = []
    for p in given + found + refs:
        if p not in out:
            out.append(p)
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def dataset_info(path: str, mtime: float) -> dict:
    """lewm.data.validate_file without the big arrays (raises DataError)."""
    from lewm.data import validate_file
    info = validate_file(path)
    info = dict(info)
    info["ep_len"] = np.asarray(info["ep_len"])
    info["ep_offset"] = np.asarray(info["ep_offset"])
    return info


def evaluated_planner(ckpt: str) -> dict:
    """The planner settings a checkpoint was evaluated with (``eval.json`` beside it), or {}."""
    path = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "eval.json")
    try:
        with open(path) as f:
            return dict(json.load(f).get("planner") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


# ---------------------------------------------------------------------------------------------
# Cached heavy objects
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=6)
def _load_checkpoint(path: str, stamp: float, dev: str):
    from lewm import checkpoint
    model, cfg, meta = checkpoint.load(path, device=dev)
    model.requires_grad_(False)  # shared by all sessions: the gradient planner only needs grads on actions
    return model, cfg, meta


def load_checkpoint(path: str):
    """(model, cfg, meta) or raises CheckpointError with a one-line message."""
    return _load_checkpoint(os.path.abspath(path), mtime(path), device())


def run_with_progress(fn, text: str, est_s: float, phase=None):
    """Run ``fn()`` in a helper thread while a progress bar says what it does, the time spent and an
    estimate (``est_s``); ``phase()`` may return a better text as it goes. Returns fn's result (or
    raises its exception). The thread never calls ``st.*``."""
    import threading
    import time
    box: dict = {}

    def work():
        try:
            box["out"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the script thread
            box["err"] = e

    th = threading.Thread(target=work, daemon=True, name="lab-progress")
    t0 = time.perf_counter()
    th.start()
    th.join(0.3)
    if th.is_alive():
        bar = st.progress(0.0, text=text)
        while th.is_alive():
            el = time.perf_counter() - t0
            label = (phase() if phase else None) or text
            bar.progress(min(el / max(est_s, 1e-3), 0.99),
                         text=f"{label} · {el:.0f} s of about {max(est_s, el + 1):.0f} s")
            th.join(0.25)
        bar.empty()
    if "err" in box:
        raise box["err"]
    return box["out"]


_ENCODED: dict = {}  # (ckpt, stamp, data, stamp, max_frames) -> EncodedDataset, shared by all sessions
_ENCODED_MAX = 4
ENCODE_S_PER_FRAME = 0.003  # measured on 2 CPU cores (one torch thread): ~2.5 ms per 64 px frame


def encoded_dataset(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int):
    """The dataset's latents, embeddings, states and pixels (lewm.diagnostics.encode_dataset), computed
    once per checkpoint, dataset and frame count behind a progress bar, then kept in memory."""
    key = (ckpt, ckpt_stamp, data, data_stamp, int(max_frames))
    if key in _ENCODED:
        return _ENCODED[key]
    from lewm.diagnostics import encode_dataset
    model, _, _ = load_checkpoint(ckpt)
    try:
        n = min(int(max_frames), int(dataset_info(data, data_stamp)["num_frames"]))
    except DataError:
        n = int(max_frames)
    enc = run_with_progress(
        lambda: encode_dataset(model, data, max_frames=max_frames, keep_pixels=True, seed=0, with_embeddings=True),
        f"Encoding {n:,} frames of `{rel(data)}` with the checkpoint's encoder", ENCODE_S_PER_FRAME * n + 0.5)
    while len(_ENCODED) >= _ENCODED_MAX:
        _ENCODED.pop(next(iter(_ENCODED)))
    _ENCODED[key] = enc
    return enc


@st.cache_resource(show_spinner=False, max_entries=8)
def _pca_map(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int):
    from lewm.diagnostics import fit_latent_map
    return fit_latent_map(encoded_dataset(ckpt, ckpt_stamp, data, data_stamp, max_frames).latents, method="pca", seed=0)


_UMAPS: dict = {}  # args -> fitted LatentMap (UMAP), shared by all sessions


@st.cache_data(show_spinner=False, max_entries=32)
def file_sha(path: str, stamp: float) -> str:
    return refstore.fingerprint(path)


def _umap_cache_file(ckpt_sha: str, data_sha: str, n: int) -> str:
    return os.path.join(runs_dir(), "cache", f"umap-{refstore.map_key(ckpt_sha, data_sha, n)}.npz")


def stored_umap(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int) -> np.ndarray | None:
    """UMAP coordinates of these encoded frames stored on disk: shipped beside a reference set
    (checkpoints/<name>/reference_umap.npz) or computed earlier in the lab (runs/cache/); None if none."""
    enc = encoded_dataset(ckpt, ckpt_stamp, data, data_stamp, max_frames)
    ck, ds = file_sha(ckpt, ckpt_stamp), file_sha(data, data_stamp)
    for p in (os.path.join(os.path.dirname(os.path.abspath(data)), refstore.UMAP_NAME),
              _umap_cache_file(ck, ds, len(enc.latents))):
        c = refstore.load_map(p, enc.frame_index, ck, ds)
        if c is not None:
            return c
    return None


def compute_umap(*args):
    """Fit UMAP on the encoded frames behind a progress bar (importing umap-learn costs ~35 s the first
    time, the fit ~1 s per 100 latents here), keep it in memory and store its coordinates on disk."""
    from lewm.diagnostics import fit_latent_map
    args = tuple(args)
    if args in _UMAPS:
        return _UMAPS[args]
    enc = encoded_dataset(*args)
    n = len(enc.latents)
    imported = "umap" in sys.modules
    est = (0.0 if imported else 35.0) + 2.0 + 0.012 * n

    def phase():
        return (f"Fitting UMAP on {n:,} latents (its layout epochs run after the neighbour graph)"
                if "umap" in sys.modules else "Importing umap-learn (numba compiles; ~35 s the first time)")

    m = run_with_progress(lambda: fit_latent_map(enc.latents, method="umap", seed=0), phase(), est, phase)
    _UMAPS[args] = m
    try:
        ck, ds = file_sha(args[0], args[1]), file_sha(args[2], args[3])
        refstore.save_map(_umap_cache_file(ck, ds, n), m.coords, enc.frame_index, ck, ds)
    except OSError:
        pass
    return m


def has_latent_map(*args) -> bool:
    """Whether ``get_latent_map(*args)`` costs nothing: PCA always; UMAP once fitted in this server."""
    return args[-1] == "pca" or tuple(args[:-1]) in _UMAPS


def get_latent_map(*args):
    """``get_latent_map(ckpt, stamp, data, stamp, max_frames, method)``: the fitted 2-D map (PCA: cached,
    milliseconds; UMAP: fitted once per server behind a progress bar)."""
    *key, method = args
    return _pca_map(*key) if method == "pca" else compute_umap(*key)


@st.cache_resource(show_spinner=False, max_entries=4)
def nearest_frames(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int):
    from lewm.diagnostics import NearestFrames
    enc = encoded_dataset(ckpt, ckpt_stamp, data, data_stamp, max_frames)
    return NearestFrames(enc.latents, enc.pixels)


@st.cache_resource(show_spinner="Fitting the probe…", max_entries=8)
def probe_result(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int, kind: str,
                 features: str = "latent"):
    """``features``: 'latent' (the planning latent z) or 'embedding' (the encoder's CLS embedding)."""
    from lewm.diagnostics import probe
    enc = encoded_dataset(ckpt, ckpt_stamp, data, data_stamp, max_frames)
    x = enc.embeddings if features == "embedding" else enc.latents
    return probe(x, enc.state, enc.state_names, kind=kind, groups=enc.episode, seed=0)


@st.cache_resource(show_spinner=False, max_entries=8)
def meters_of(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int):
    from lewm.diagnostics import collapse_meters
    return collapse_meters(encoded_dataset(ckpt, ckpt_stamp, data, data_stamp, max_frames).latents)


_GRIDS: dict = {}  # grid views (goal-cost landscapes, grid warps), shared by all sessions
GRID_S_PER_CELL = 0.005  # render + encode one state, measured here (2 cores)


def _computed_once(key: tuple, fn, text: str, est_s: float, max_entries: int = 16):
    """``fn()`` once per ``key`` behind a progress bar, then from memory."""
    if key in _GRIDS:
        return _GRIDS[key]
    out = run_with_progress(fn, text, est_s)
    while len(_GRIDS) >= max_entries:
        _GRIDS.pop(next(iter(_GRIDS)))
    _GRIDS[key] = out
    return out


def goal_landscape(ckpt: str, ckpt_stamp: float, goal: tuple, n: int):
    """The planner's goal cost over a state grid (see ``lewm.diagnostics.goal_cost_landscape``)."""
    from lewm.diagnostics import goal_cost_landscape
    model, cfg, _ = load_checkpoint(ckpt)
    env = make_env(cfg.env, cfg.model.image_size)
    return _computed_once(("landscape", ckpt, ckpt_stamp, tuple(goal), int(n)),
                          lambda: goal_cost_landscape(model, env, np.asarray(goal), n=n),
                          f"Rendering and encoding a {n}×{n} grid of states, scored against the goal",
                          GRID_S_PER_CELL * n * n + 0.5)


def grid_warp(ckpt: str, ckpt_stamp: float, n: int):
    """A grid of true states in latent space (see ``lewm.diagnostics.state_grid_warp``)."""
    from lewm.diagnostics import state_grid_warp
    model, cfg, _ = load_checkpoint(ckpt)
    env = make_env(cfg.env, cfg.model.image_size)
    return _computed_once(("warp", ckpt, ckpt_stamp, int(n)), lambda: state_grid_warp(model, env, n=n),
                          f"Rendering and encoding a {n}×{n} grid of true states", GRID_S_PER_CELL * n * n + 0.5)


@st.cache_data(show_spinner=False, max_entries=8)
def eval_pairs(env_name: str, n: int, seed: int):
    from lewm.evaluate import eval_pairs as _pairs
    return [(np.asarray(a), np.asarray(b)) for a, b in _pairs(env_name, n, seed)]


def make_env(name: str, image_size: int):
    """An environment for this browser session (envs hold state: never share one between sessions)."""
    from lewm.envs import make
    envs = st.session_state.setdefault("_lab_envs", {})
    if (name, image_size) not in envs:
        envs[(name, image_size)] = make(name, image_size=image_size)
    return envs[(name, image_size)]


# ---------------------------------------------------------------------------------------------
# Pickers (sidebar checkpoint, per-page dataset) with clear errors
# ---------------------------------------------------------------------------------------------
CKPT_KEY = "lab_checkpoint"


def sidebar_checkpoint() -> None:
    """The checkpoint selector shared by every page (in the sidebar)."""
    with st.sidebar:
        ckpts = list_checkpoints()
        labels = [lbl for lbl, _ in ckpts]
        paths = [p for _, p in ckpts]
        if ckpts:
            req = st.session_state.pop("_ckpt_request", None)  # a page asked to switch (see select_checkpoint)
            if req in paths:
                st.session_state["sb_checkpoint"] = labels[paths.index(req)]
            elif st.session_state.get("sb_checkpoint") not in labels:
                # a new browser session: the checkpoint named in the URL (?ckpt=...), else the last one of
                # this session, else the first (given on the command line, else the best shipped agent)
                cur = _checkpoint_from_url(paths) or st.session_state.get(CKPT_KEY)
                st.session_state["sb_checkpoint"] = labels[paths.index(cur) if cur in paths else 0]
            choice = st.selectbox("Checkpoint", labels, key="sb_checkpoint",
                                  help="Shipped checkpoints (checkpoints/<env>/model.pt, best evaluated agent first) "
                                       "and your runs (runs/*/last.pt). Remembered in the page's URL.")
            st.session_state[CKPT_KEY] = paths[labels.index(choice)]
            if st.query_params.get(CKPT_PARAM) != rel(st.session_state[CKPT_KEY]):
                st.query_params[CKPT_PARAM] = rel(st.session_state[CKPT_KEY])
        else:
            st.caption("No checkpoint yet: train one on the Train page.")
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


CKPT_PARAM = "ckpt"  # the URL query parameter that remembers the checkpoint across reloads


def _checkpoint_from_url(paths: list[str]) -> str | None:
    """The known checkpoint named by ``?ckpt=`` (a path relative to the repo, or absolute), or None."""
    v = st.query_params.get(CKPT_PARAM)
    if not v:
        return None
    for cand in (v, str(ROOT / v)):
        a = os.path.abspath(cand)
        if a in paths:
            return a
    return None


def select_checkpoint(path: str) -> None:
    """Make ``path`` the sidebar's checkpoint (the selectbox is updated on the rerun)."""
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


def dataset_fits(path: str, cfg) -> bool:
    """Whether a dataset comes from the checkpoint's env at its image size (False when unreadable)."""
    try:
        i = dataset_info(path, mtime(path))
    except DataError:
        return False
    return i["env"] == cfg.env and i["image_size"] == cfg.model.image_size


def pick_dataset(key: str, cfg=None, need_state: bool = False, label: str = "Dataset",
                 allow_collect: bool = True, ckpt: str | None = None):
    """Select an HDF5 dataset; with ``cfg``, check it matches the checkpoint's env and image size.

    With ``cfg`` the matching datasets come first (the checkpoint's own reference set first of all),
    and when the checkpoint changes a selection that no longer matches moves to the first matching
    one. Returns (path, info) or (None, None) after showing why (st.error / st.info).
    """
    options = list_datasets()
    custom = st.session_state.get(f"{key}_custom")
    if custom and custom not in options:
        options = [custom] + options
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
            if cur not in options or not dataset_fits(cur, cfg):
                st.session_state[key] = next((p for p in options if dataset_fits(p, cfg)), options[0] if options else None)
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
    if need_state and not info["has_state"]:
        st.error(f"{rel(path)}: no 'state' key; this view needs the true physical state of every frame.")
        return None, None
    return path, info


def dataset_label(path: str) -> str:
    if Path(path).name == refstore.REFERENCE_NAME and Path(path).parent.parent == ROOT / "checkpoints":
        return f"{rel(path)} (reference set of {Path(path).parent.name})"
    return rel(path)


def has_matching_dataset(cfg) -> bool:
    """Whether some known dataset comes from the checkpoint's environment at its image size."""
    return any(dataset_fits(p, cfg) for p in list_datasets())


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
    from lewm.envs import list_envs
    if cfg.env not in list_envs():
        return
    mgr = job_manager()
    job_key = f"{key}_collect_job"
    job = next((j for j in mgr.jobs("collect") if j.id == st.session_state.get(job_key)), None)
    err = st.session_state.pop(f"{key}_collect_error", None)
    if err:
        st.error(err)
    if job is None:
        if st.button(f"Collect {REF_EPISODES} {cfg.env} episodes at {cfg.model.image_size}px now",
                     key=f"{key}_collect", help="In the background (a few seconds to a minute); the view uses them "
                                                "as soon as they are written."):
            out = os.path.join(data_dir(), f"{cfg.env}-{cfg.model.image_size}px-ref.h5")
            job = mgr.start_collect(cfg.env, REF_EPISODES, out, image_size=cfg.model.image_size, seed=123)
            st.session_state[job_key] = job.id
            st.rerun()
        return

    @st.fragment(run_every=0.7 if job.snapshot().active else None)
    def _progress():
        s = job.snapshot()
        if s.active:
            st.progress(s.fraction, text=f"Collecting {REF_EPISODES} {cfg.env} episodes → `{rel(s.out)}` · "
                                         f"episode {s.done}/{s.total} · ETA {fmt_s(s.eta_s)}")
        else:  # finished or failed: the page re-runs and _collected_for selects the file / says why
            st.rerun(scope="app")
    _progress()


REF_EPISODES = 60


# ---------------------------------------------------------------------------------------------
# Images: crisp (nearest-neighbour) upscaling and PNG data URIs for Plotly
# ---------------------------------------------------------------------------------------------
def pick_episode(container, path: str, info: dict, key: str) -> tuple[int, dict]:
    """Episode number input + load; a bad file shows st.error and stops the page."""
    from lewm.data import DataError, load_episode
    ep = int(container.number_input("Episode", 0, info["num_episodes"] - 1, 0, key=key))
    try:
        return ep, load_episode(path, ep)
    except DataError as e:
        st.error(str(e))
        st.stop()


def show_frames(frames, captions=None, size: int = 128, columns: int | None = None) -> None:
    """A row of crisp frames."""
    frames = list(frames)
    if not frames:
        return
    cols = st.columns(columns or len(frames))
    for i, fr in enumerate(frames):
        with cols[i % len(cols)]:
            st.image(upscale(fr, size), caption=None if captions is None else captions[i], width=size)


def selected_point(event, curve: int = 0) -> int | None:
    """Index of the first clicked/selected point of trace ``curve`` in a st.plotly_chart event, or None."""
    try:
        pts = event.selection.points
    except AttributeError:
        return None
    for p in pts or []:
        if int(p.get("curve_number", 0)) == curve and p.get("point_index") is not None:
            return int(p["point_index"])
    return None


def fmt_s(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "—"
    s = float(s)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


# ---------------------------------------------------------------------------------------------
# Live charts: a tiny component calling Plotly.react on the same DOM nodes
# ---------------------------------------------------------------------------------------------
def _component_dir() -> str:
    """index.html (from app/components/live_plot) + plotly.js from the installed plotly package,
    copied once into a temp folder that Streamlit serves."""
    import plotly
    src_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dest = Path(tempfile.gettempdir()) / f"lewm-lab-live-plot-{plotly.__version__}"
    dest.mkdir(parents=True, exist_ok=True)
    html = (APP_DIR / "components" / "live_plot" / "index.html").read_bytes()
    for name, data in (("index.html", html),):
        p = dest / name
        if not p.exists() or p.read_bytes() != data:
            tmp = dest / f".{name}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, p)
    js = dest / "plotly.min.js"
    if not js.exists() or js.stat().st_size != src_js.stat().st_size:
        tmp = dest / f".plotly.{os.getpid()}"
        shutil.copyfile(src_js, tmp)
        os.replace(tmp, js)
    return str(dest)


@st.cache_resource(show_spinner=False)
def _component_path() -> str:
    return _component_dir()


def live_plots(figs: list[go.Figure], key: str, height: int = 300, columns: int = 2) -> None:
    """Render figures in one live component (one iframe, one plotly.js load, Plotly.react updates)."""
    import streamlit.components.v1 as components
    comp = components.declare_component("live_plot", path=_component_path())
    specs = "[" + ",".join(pio.to_json(f, validate=False, remove_uids=True) for f in figs) + "]"
    rev = hashlib.md5(specs.encode()).hexdigest()[:16]
    comp(specs=specs, rev=rev, columns=columns, height=height, key=key, default=None)


def job_status_line(snap) -> str:
    icon = {"starting": ":material/hourglass_top:", "running": ":material/play_arrow:", "paused": ":material/pause:",
            "finished": ":material/check_circle:", "stopped": ":material/stop_circle:", "failed": ":material/error:"}
    return f"{icon.get(snap.status, '')} **{snap.status}** · step {snap.done}/{snap.total}"
