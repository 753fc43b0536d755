"""Heavy objects computed once and shared: the loaded checkpoint, a dataset encoded by it, its 2-D
maps (PCA, UMAP: in memory and stored on disk), nearest frames, probes, collapse meters, grid views
(goal-cost landscapes, grid warps), the evaluation pairs, and the session's environments; the
progress bar that long computations run behind (:func:`run_with_progress`)."""
from __future__ import annotations

import os
import sys

import numpy as np
import streamlit as st

from common import device, runs_dir
from discovery import dataset_info, mtime, rel
from lewm.data import DataError

import refstore  # app/refstore.py: reference sets and stored maps


@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=6)
def _load_checkpoint(path: str, stamp: float, dev: str):
    from lewm import checkpoint
    model, cfg, meta = checkpoint.load(path, device=dev)
    model.requires_grad_(False)  # shared by all sessions: the gradient planner only needs grads on actions
    return model, cfg, meta


def load_checkpoint(path: str):
    """(model, cfg, meta) or raises CheckpointError with a one-line message."""
    return _load_checkpoint(os.path.abspath(path), mtime(path), device())


def run_with_progress(fn, text: str, est_s: float, phase=None, stop=None, on_stop=None, stop_key: str | None = None):
    """Run ``fn()`` in a helper thread while a progress bar says what it does, the time spent and an
    estimate (``est_s``); ``phase()`` may return a better text as it goes. Returns fn's result (or
    raises its exception). The thread never calls ``st.*``.

    ``stop``: a threading.Event that ``fn`` checks between its iterations. Given, a Stop button
    (``stop_key``) is shown while it runs, and when this script run is interrupted before fn ends (Stop,
    any other widget, another page, the session closed: Streamlit raises in the progress loop) the event
    is set, so the thread ends at its next check instead of running on (was: it ran to the end, unseen),
    and ``on_stop()`` is called (in the script thread, which Streamlit is interrupting: it must not touch st.*,
    st.session_state included, which raises StopException again there; it may change a plain object the next
    run reads, e.g. plan_runs.StopMailbox)."""
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
    try:
        th.join(0.3)
        if th.is_alive():
            if stop is not None:
                st.button("Stop", icon=":material/stop:", key=stop_key or "lab_progress_stop")
            bar = st.progress(0.0, text=text)
            while th.is_alive():
                el = time.perf_counter() - t0
                label = (phase() if phase else None) or text
                bar.progress(min(el / max(est_s, 1e-3), 0.99),
                             text=f"{label} · {el:.0f} s of about {max(est_s, el + 1):.0f} s")
                th.join(0.25)
            bar.empty()
    finally:
        if th.is_alive() and stop is not None:  # this script run was interrupted: end the thread too
            stop.set()
            if on_stop is not None:
                on_stop()
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


def _computed_once(key: tuple, fn, text: str, est_s: float, max_entries: int = 16, **stop):
    """``fn()`` once per ``key`` behind a progress bar, then from memory (``stop``: run_with_progress's)."""
    if key in _GRIDS:
        return _GRIDS[key]
    out = run_with_progress(fn, text, est_s, **stop)
    while len(_GRIDS) >= max_entries:
        _GRIDS.pop(next(iter(_GRIDS)))
    _GRIDS[key] = out
    return out


def goal_landscape(ckpt: str, ckpt_stamp: float, goal: tuple, n: int, on_stop=None, stop_key: str | None = None):
    """The planner's goal cost over a state grid (see ``lewm.diagnostics.goal_cost_landscape``); a Stop button
    (``stop_key``) ends it between two rendered states, as does leaving the page (``on_stop()`` is then called)."""
    import threading
    from lewm.diagnostics import goal_cost_landscape
    from plan_runs import Stopped, StoppableEnv
    model, cfg, _ = load_checkpoint(ckpt)
    stop = threading.Event()
    env = StoppableEnv(make_env(cfg.env, cfg.model.image_size), stop)

    def work():
        # the grid's encoding stops between batches of 64 frames too (was: a Stop during it waited for the whole
        # grid); the model is shared by sessions, so only this worker thread is stopped by this hook
        me = threading.current_thread()

        def check(module, inputs):
            if stop.is_set() and threading.current_thread() is me:
                raise Stopped("stopped while encoding the grid")
        hook = model.encoder.register_forward_pre_hook(check)
        try:
            return goal_cost_landscape(model, env, np.asarray(goal), n=n, batch=64)
        finally:
            hook.remove()
    return _computed_once(("landscape", ckpt, ckpt_stamp, tuple(goal), int(n)), work,
                          f"Rendering and encoding a {n}×{n} grid of states, scored against the goal",
                          GRID_S_PER_CELL * n * n + 0.5, stop=stop, on_stop=on_stop,
                          stop_key=stop_key or f"lab_stop_landscape_{int(n)}")


def grid_warp(ckpt: str, ckpt_stamp: float, n: int):
    """A grid of true states in latent space (see ``lewm.diagnostics.state_grid_warp``)."""
    from lewm.diagnostics import state_grid_warp
    model, cfg, _ = load_checkpoint(ckpt)
    env = make_env(cfg.env, cfg.model.image_size)
    return _computed_once(("warp", ckpt, ckpt_stamp, int(n)), lambda: state_grid_warp(model, env, n=n),
                          f"Rendering and encoding a {n}×{n} grid of true states", GRID_S_PER_CELL * n * n + 0.5)


OPEN_LOOP_S_PER_START = 0.07  # one open-loop rollout of 10 blocks, PushT's model, one thread (measured, loaded CPU)


def imagination(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, max_frames: int, episode: int,
                ep: dict, horizon: int, lmap):
    """Every start frame's open-loop imagination of one episode, placed on ``lmap`` with the nearest
    dataset frames (``lewm.figures.imagined_starts``), computed once behind a progress bar. ``ep`` is
    episode number ``episode`` as the page loaded it."""
    from lewm.diagnostics import open_loop_sweep, sweep_starts
    from lewm.figures import imagined_starts
    model, cfg, _ = load_checkpoint(ckpt)
    starts = sweep_starts(len(ep["pixels"]), cfg)
    nf = nearest_frames(ckpt, ckpt_stamp, data, data_stamp, max_frames)

    def work():
        res = open_loop_sweep(model, ep["pixels"], ep["action"], cfg, starts, horizon)
        return imagined_starts(res, lmap, nf, ep["pixels"])
    return _computed_once(("imagination", ckpt, ckpt_stamp, data, data_stamp, int(max_frames), int(episode), int(horizon),
                           lmap.method, len(lmap.coords)), work,
                          f"Imagining episode {episode} open loop from {len(starts)} start frames",
                          OPEN_LOOP_S_PER_START * len(starts) + 0.5)


SURPRISE_S_PER_FRAME = 0.25  # recolour + teleport + 2 surprise traces, PushT's model, one thread, loaded CPU (measured)


def surprise_sweep(ckpt: str, ckpt_stamp: float, data: str, data_stamp: float, episode: int, ep: dict,
                   colour_mode: str):
    """The episode perturbed at each of its sweep frames (``lewm.diagnostics.perturbation_sweep``),
    computed once behind a progress bar; ``ep`` is episode number ``episode`` as the page loaded it."""
    from lewm.diagnostics import perturbation_sweep, sweep_frames
    from lewm.envs import list_envs
    model, cfg, _ = load_checkpoint(ckpt)
    frames = sweep_frames(len(ep["pixels"]), cfg)
    env = make_env(cfg.env, cfg.model.image_size) if cfg.env in list_envs() else None
    return _computed_once(("surprise", ckpt, ckpt_stamp, data, data_stamp, int(episode), colour_mode),
                          lambda: perturbation_sweep(model, cfg, ep, frames, env, colour_mode),
                          f"Perturbing episode {episode} at {len(frames)} frames (teleport, recolour) and measuring "
                          "the surprise of each", SURPRISE_S_PER_FRAME * len(frames) + 0.5)


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
