"""The report itself: :func:`make_report` runs every diagnostic on a checkpoint, section by
section (encode, collapse and SIGReg, probes, open-loop dynamics, latent map, surprise, decoder,
goal-cost landscape, grid warp), keeps each section's numbers for ``report.json`` and its figures,
built by :mod:`lewm.figures`, for ``report.html``."""
from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any

import numpy as np

from .. import diagnostics as dg
from .. import figures as fg
from ..envs import missing_packages
from .data_source import HELDOUT_NAME, env_state_dim, report_data
from ._output import write_report
from .summary import clean

MIN_FRAMES = 40
"""Fewest encoded frames a report is made from (the probes' splits need them)."""


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def pick_episodes(data: str, cfg, n: int, seed: int = 0) -> tuple[list[int], list[bool]]:
    """Up to ``n`` episodes long enough for a few open-loop steps: the checkpoint's validation
    episodes first (held out from training if ``data`` is its training file), then others."""
    from .._api_checks import config
    from ..data import DataError, WindowDataset, action_stats_of, validate_file
    from ..validate import Range, check_value
    config("pick_episodes", cfg)  # was: AttributeError 'NoneType' has no attribute 'model'
    check_value("pick_episodes: n", n, Range(lo=1), int)  # -2 took the slice [:-2], 1.5 failed in the slice
    check_value("pick_episodes: seed", seed, Range(lo=0), int)
    info = validate_file(data)
    ep_len = info["ep_len"]
    H, fs = cfg.model.history, cfg.model.frameskip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val = WindowDataset(data, H, fs, split="val", val_fraction=cfg.train.val_fraction, seed=cfg.train.seed,
                                action_stats=action_stats_of(cfg), max_ram_bytes=0).episodes.tolist()
    except DataError:
        val = []
    val_set = set(val)
    rest = [int(e) for e in np.random.default_rng(seed).permutation(len(ep_len)) if int(e) not in val_set]
    min_len = fs * (H + 3) + 1
    chosen = [int(e) for e in val + rest if ep_len[e] >= min_len][:n]
    return chosen, [e in val_set for e in chosen]


def _cut_note(episodes: int, got: int, horizon: int, longest: int) -> str:
    """What the data cut from the asked --episodes / --horizon ('' when nothing): said, not silent."""
    fewer = f" (--episodes {episodes}: the file has only {got} long enough)" if got < episodes else ""
    shorter = (f"; --horizon {horizon} is cut to {longest} blocks, the longest its episodes allow"
               if 0 < longest < horizon else "")
    return fewer + shorter


def _nanmean_padded(rows: list[np.ndarray]) -> np.ndarray:
    """Mean over rows of unequal length (P_i,) -> (max P_i,), ignoring the missing tail entries."""
    P = max((len(r) for r in rows), default=0)
    m = np.full((len(rows), P), np.nan)
    for i, r in enumerate(rows):
        m[i, :len(r)] = r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(m, 0) if len(rows) else m[0]


def check_plotly_js(src: str | None, out: str, flag: str = "plotly_js") -> None:
    """A local plotly.js path (relative to report.html in ``out``) must exist and be a JavaScript file
    (a ``.js`` name, not an HDF5 file, a checkpoint or any other file :func:`lewm.runs.file_kind` knows):
    else the page's charts never draw. A URL is taken as is."""
    if src is None:
        return
    if not isinstance(src, str) or not src.strip():
        raise ValueError(f"{flag} must be a path relative to report.html or a URL, got {src!r}")
    if "://" not in src and not src.startswith("//"):
        where = os.path.normpath(os.path.join(out, src))
        if not os.path.isfile(where):
            raise ValueError(f"{flag} {src}: no file at {where} (the path is taken relative to the output folder "
                             f"{out}); the report would show no charts")
        from ..runs import file_kind
        kind = file_kind(where)  # text of no known kind is fine; a dataset, a checkpoint, a lab JSON is not
        if kind is not None and not kind.startswith(("a text file", "a JSON file of no kind", "a JSON-lines")):
            raise ValueError(f"{flag} {src}: {where} is {kind}, not plotly.js (a JavaScript file); the report "
                             f"would show no charts")
        if not src.lower().endswith((".js", ".mjs")):
            raise ValueError(f"{flag} {src}: expected a JavaScript file (a name ending in .js, e.g. "
                             f"plotly.min.js); the report would show no charts")


REPORT_FILES = ("report.json", "report.html")
"""The files every report writes into its folder (``heldout.h5`` too when it collects its episodes)."""


def check_report_folder(out: str, checkpoint, data, force: bool, flag: str = "make_report(out=...)",
                        force_name: str = "force=True") -> None:
    """An ``out`` that already holds a report (report.json / report.html, or the heldout.h5 a report
    without data would collect again) is refused unless ``force``, as eval / bench refuse their
    outputs (was: re-running into the same folder replaced the earlier report without a word)."""
    if not os.path.isdir(out):
        return
    from .data_source import HELDOUT_NAME, check_heldout_free, reference_beside
    names = list(REPORT_FILES)
    if not data and isinstance(checkpoint, str) and checkpoint and reference_beside(checkpoint) is None:
        check_heldout_free(out, flag)  # a user's file of that name: refused even with force
        names.append(HELDOUT_NAME)  # collected again (the old one removed) when there is no data
    if force:
        return
    there = [n for n in names if os.path.lexists(os.path.join(out, n))]
    if there == [HELDOUT_NAME]:  # only the report's own held-out file (checked above): an interrupted report's,
        there = []  # collected again (was: "run the same command again" refused because of it)
    if there:
        from ..errors import OutputExistsError
        raise OutputExistsError(f"{flag} {out}: holds an earlier report ({', '.join(there)}); pass {force_name} "
                                f"to replace it, or choose another output folder")


def _check_report_args(out, episodes, max_frames, map_method, decoder_steps, horizon, seed, landscape_goals,
                       plotly_js, html, quick=False, progress=True, force=False, device="auto") -> str | None:
    """make_report's numbers, before any work (was: an IndexError or a numpy message after the
    encode, or 0 / -5 silently meaning the default / nothing). Returns ``map_method`` lower-cased."""
    from .. import _api_checks as chk
    from ..validate import Range, check_value
    for name, value in (("quick", quick), ("html", html), ("progress", progress), ("force", force)):
        chk.flag("make_report", name, value)  # was: 'no' / 'yes' taken as True
    if device is not None:
        chk.device("make_report", device, "device")  # was: "--device 5 is not a device" (a CLI flag)
    check_value("make_report: episodes", episodes, Range(lo=1), int)
    check_value("make_report: seed", seed, Range(lo=0, hi=2**32 - 1), int)
    check_value("make_report: horizon", horizon, Range(lo=1, hi=1000), int)
    check_value("make_report: landscape_goals", landscape_goals, Range(lo=0, hi=1000), int)
    if max_frames is not None:
        check_value("make_report: max_frames", max_frames, Range(lo=MIN_FRAMES), int)
    if decoder_steps is not None:
        check_value("make_report: decoder_steps", decoder_steps, Range(lo=0), int)
    if map_method is not None:
        check_value("make_report: map_method", map_method, None, str)
        check_value("make_report: map_method", map_method.lower(), Range(choices=("pca", "umap")), str)
        map_method = map_method.lower()
    check_plotly_js(plotly_js, out)
    return map_method


def make_report(checkpoint: str, data: str | None, out: str, *, episodes: int = 10, quick: bool = False,
                max_frames: int | None = None, map_method: str | None = None, decoder_steps: int | None = None,
                horizon: int = 10, seed: int = 0, device: str = "auto", html: bool = True,
                progress: bool = True, landscape_goals: int = 8, plotly_js: str | None = None,
                force: bool = False) -> dict[str, Any]:
    """Run every diagnostic on ``checkpoint`` with the episodes of ``data`` (None: see
    :func:`lewm.report.data_source.report_data`); write ``report.json`` (and ``report.html``, with
    plotly.js embedded or loaded from ``plotly_js``) into ``out`` and return the ``report.json`` content.
    An ``out`` holding an earlier report is refused unless ``force``."""
    from ..validate import check_out_dir
    check_out_dir(out, "make_report(out=...)")  # the CLI checks --out itself first, in its words
    map_method = _check_report_args(out, episodes, max_frames, map_method, decoder_steps, horizon, seed,
                                    landscape_goals, plotly_js, html, quick, progress, force, device)
    check_report_folder(out, checkpoint, data, force)
    existed = os.path.exists(out)
    try:
        return _make_report(checkpoint, data, out, episodes=episodes, quick=quick, max_frames=max_frames,
                            map_method=map_method, decoder_steps=decoder_steps, horizon=horizon, seed=seed,
                            device=device, html=html, progress=progress, landscape_goals=landscape_goals,
                            plotly_js=plotly_js, force=force)
    except BaseException:
        # a refused or failed report leaves no empty folder behind (one it made itself)
        if not existed and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)
        raise


def _make_report(checkpoint, data, out, *, episodes, quick, max_frames, map_method, decoder_steps, horizon, seed,
                 device, html, progress, landscape_goals, plotly_js, force=False) -> dict[str, Any]:
    from .. import checkpoint as ckpt
    from ..data import load_episode
    from ..devices import resolve_device
    from ..validate import check_dataset, check_out_dir
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    check_out_dir(out, "make_report(out=...)")
    # a report file that did not exist at the start is created only if it still does not exist (two
    # reports at once into one folder: the later one silently replaced the other)
    replace = {n: bool(force) or os.path.lexists(os.path.join(out, n)) for n in REPORT_FILES}
    dev = resolve_device(device, "make_report(device=...)")
    model, cfg, meta = ckpt.load(checkpoint, device=dev)
    say = print if progress else (lambda *a, **k: None)
    data = report_data(checkpoint, data, cfg, out, episodes, say)
    # the same checks as every command that reads a dataset (env, image and action size, states)
    info = check_dataset(data, env=cfg.env, image_size=cfg.model.image_size, action_dim=cfg.model.action_dim,
                         state_dim=env_state_dim(cfg.env, cfg.model.image_size), who=f"checkpoint {checkpoint}")
    max_frames = max_frames or (2000 if quick else 6000)
    map_method = map_method or ("pca" if quick else "umap")
    decoder_steps = decoder_steps if decoder_steps is not None else (200 if quick else 800)
    rep: dict[str, Any] = {
        "checkpoint": {"path": os.path.abspath(checkpoint), "step": meta["step"], "preset": cfg.preset,
                       "env": cfg.env, "latent_dim": cfg.model.latent_dim, "history": cfg.model.history,
                       "frameskip": cfg.model.frameskip, "sigreg_weight": cfg.sigreg.weight,
                       "params": model.num_params()},
        "data": {"path": os.path.abspath(data), "env": info["env"], "episodes": info["num_episodes"],
                 "frames": info["num_frames"], "image_size": info["image_size"]},
        "settings": {"quick": quick, "max_frames": max_frames, "map": map_method, "decoder_steps": decoder_steps,
                     "horizon": horizon, "episodes": episodes, "seed": seed, "device": str(dev)},
    }
    sections: list[tuple[str, str, Any]] = []  # (heading, sentence, plotly figure) for report.html

    # -- encode --------------------------------------------------------------------------------
    t0 = time.perf_counter()
    # every frameskip-th frame (the model's own time step): a capped budget then covers more episodes
    say(f"[1/8] encoding up to {max_frames} frames of {data} (every {cfg.model.frameskip}th)")
    enc = dg.encode_dataset(model, data, max_frames=max_frames, stride=cfg.model.frameskip, keep_pixels=True,
                            seed=seed, progress=progress, with_embeddings=True)
    rep["frames_encoded"] = int(len(enc.latents))
    if len(enc.latents) < MIN_FRAMES:
        from ..data import DataError
        # was: "or a larger --max-frames" also when the file, not the cap, ran out (it cannot help)
        fix = ("use a larger data file (more episodes)" if len(enc.latents) < max_frames
               else f"use a larger --max-frames (at least {MIN_FRAMES})")
        raise DataError(f"{data}: only {len(enc.latents)} frames encoded (every {cfg.model.frameskip}th frame, "
                        f"--max-frames {max_frames}); the probes and statistics need at least {MIN_FRAMES}: {fix}")
    os.makedirs(out, exist_ok=True)  # only now: a refused report leaves nothing behind
    timings["encode"] = time.perf_counter() - t0

    # -- collapse meters + SIGReg ----------------------------------------------------------------
    t0 = time.perf_counter()
    say("[2/8] collapse meters and SIGReg view")
    meters = dg.collapse_meters(enc.latents, k=5)
    rng = np.random.default_rng(seed)
    # the Epps–Pulley statistic grows with the sample size, so test random batches of the training
    # batch size (as the loss does, one batch per "time step") to get a value comparable to training
    N, D = enc.latents.shape
    B = min(cfg.train.batch_size, N)
    T = max(1, min(N // B, 32))
    sub = enc.latents[rng.permutation(N)[:T * B]].reshape(T, B, D)  # (T, B, D)
    view = dg.sigreg_view(sub, num_dirs=cfg.sigreg.num_proj, seed=seed)
    rep["collapse"] = {"effective_rank": meters.effective_rank, "latent_dim": int(enc.latents.shape[1]),
                       "top1_fraction": meters.top1_fraction, "top5_fraction": meters.topk_fraction,
                       "components_90": meters.components_90, "mean_cosine": meters.mean_cosine,
                       "mean_std": meters.mean_std, "total_variance": meters.total_variance,
                       "spectrum": meters.spectrum}
    rep["sigreg"] = {"value": view.value, "num_dirs": int(view.directions.shape[1]), "batch_size": B, "batches": T,
                     "max_abs_dim_mean": float(np.abs(view.dim_mean).max()),
                     "dim_std_min": float(view.dim_std.min()), "dim_std_max": float(view.dim_std.max())}
    ev = meters.spectrum
    sections.append(("Covariance spectrum", "", fg.fig_spectrum(
        [("eigenvalues", ev, fg.COLORS["on"])], f"effective rank {meters.effective_rank:.2f} / {len(ev)}; top-1 "
        f"{meters.top1_fraction:.3f}; mean cosine {meters.mean_cosine:.3f}")))
    sections.append(("SIGReg: random projections vs N(0, 1)", f"the first 6 of {view.directions.shape[1]} directions",
                     fg.fig_sigreg_hist(view, title=f"{T} batches of {B}", max_dirs=6)))
    timings["collapse_sigreg"] = time.perf_counter() - t0

    # -- probes ------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    lin = None
    penv = dg.renderer_for(cfg.env or info["env"], cfg.model.image_size)  # for derived probe targets
    if enc.state is not None and enc.state.shape[1]:
        say("[3/8] probes (linear, MLP), split by episode")
        # targets: the raw state, then the env's smooth readouts of its angles (cos/sin, fingertip):
        # the raw columns keep their indices (the dynamics section reads positions through `lin`)
        targets, target_names = enc.state, list(enc.state_names)
        extra = penv.probe_quantities(enc.state) if hasattr(penv, "probe_quantities") else {}
        if extra:
            targets = np.concatenate([enc.state, np.stack(list(extra.values()), 1)], 1)  # (N, Q + X)
            target_names += list(extra)
        lin = dg.probe(enc.latents, targets, target_names, "linear", seed=seed, groups=enc.episode)
        mlp = dg.probe(enc.latents, targets, target_names, "mlp", seed=seed, groups=enc.episode,
                       max_iter=40 if quick else 100)
        # the same linear probe on the encoder's CLS embedding (before the projector): a D = 3-8
        # planning latent must fold the state to look Gaussian, the E-wide embedding need not
        lin_e = dg.probe(enc.embeddings, targets, target_names, "linear", seed=seed, groups=enc.episode)
        rep["probes"] = {"linear": lin.table(), "mlp": mlp.table(), "linear_embedding": lin_e.table()}
        on_z = f"latent z (D={enc.latents.shape[1]})"
        rep["probe_features"] = {"linear": on_z, "mlp": on_z,
                                 "linear_embedding": f"encoder CLS embedding before the projector (E={enc.embeddings.shape[1]})"}
        rep["probe_split"] = {"n_train": lin.n_train, "n_test": lin.n_test, "by": "episode"}
        with warnings.catch_warnings():  # few episodes allow fewer than 5 distinct splits: the summary says so
            warnings.filterwarnings("ignore", "probe_spread: ")
            spread = dg.probe_spread(enc.latents, targets, target_names, "linear", splits=5, groups=enc.episode)
        rep["probe_spread"] = {"kind": "linear", "features": on_z, "splits": spread.splits, "splits_asked": 5,
                               "possible": spread.possible, "episodes": int(len(np.unique(enc.episode))),
                               "pearson": spread.summary()}
        sections.append(("Probes: held-out Pearson r and R²", "split by episode",
                         fg.fig_probes([("linear", lin), ("MLP", mlp), ("linear, encoder embedding", lin_e)])))
        sections.append(("Linear probe: prediction vs truth (held-out)", "", fg.fig_probe_scatter(lin)))
    else:
        say("[3/8] probes skipped: the data file has no 'state'")
    timings["probes"] = time.perf_counter() - t0

    # -- episodes: dynamics, straightness ----------------------------------------------------------
    t0 = time.perf_counter()
    ep_ids, held_out = pick_episodes(data, cfg, episodes, seed)
    eps = [load_episode(data, e) for e in ep_ids]
    H, fs = cfg.model.history, cfg.model.frameskip
    longest = max(((len(ep["pixels"]) - 1) // fs - (H - 1) for ep in eps), default=0)
    say(f"[4/8] open-loop dynamics and straightness on {len(eps)} episodes{_cut_note(episodes, len(eps), horizon, longest)}")
    dyn, straight, straight_state, probe_err, probe_err_enc = [], [], [], [], []
    pos_dims = dg.default_teleport_dims(enc.state_names) if enc.state is not None else []
    pos_cols, pos_names = list(pos_dims), [enc.state_names[i] for i in pos_dims]  # columns of `lin`'s targets

    def pos_truth(states):  # (P, Q) -> (P, 2): the position the dynamics probe error is measured on
        return states[:, pos_dims]
    if lin is not None and {"tip_x", "tip_y"} <= set(lin.names):  # an arm: its fingertip, not wrapped angles
        pos_names = ["tip_x", "tip_y"]
        pos_cols = [list(lin.names).index(n) for n in pos_names]

        def pos_truth(states):
            q = penv.probe_quantities(states)
            return np.stack([q["tip_x"], q["tip_y"]], 1)
    it = eps
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(eps, desc="dynamics", unit="episode")
    for ep in it:
        L = len(ep["pixels"])
        P = min(horizon, (L - 1) // fs - (H - 1))
        r = dg.open_loop_dynamics(model, ep["pixels"], ep["action"], cfg, start=0, horizon=P)
        dyn.append(r)
        frames = fs * np.arange((L - 1) // fs + 1)  # kept frames
        z = dg.encode_frames(model, ep["pixels"][frames]).numpy()  # (n, D)
        short = len(frames) < 3  # straightness compares two velocities: NaN marks a too-short episode
        straight.append(float("nan") if short else dg.temporal_straightness(z))
        if "state" in ep:
            straight_state.append(float("nan") if short else dg.temporal_straightness(
                ep["state"][frames][:, pos_dims] if pos_dims else ep["state"][frames]))
            if lin is not None and pos_dims:
                truth = pos_truth(ep["state"][r.frames])  # (P, 2)
                probe_err.append(np.linalg.norm(lin.predict(r.predicted)[:, pos_cols] - truth, axis=1))
                probe_err_enc.append(np.linalg.norm(lin.predict(r.actual)[:, pos_cols] - truth, axis=1))
    rep["episodes"] = {"ids": ep_ids, "held_out": held_out}
    steps = np.arange(1, max((len(r.error) for r in dyn), default=0) + 1)
    rep["dynamics"] = {
        "horizon_blocks": steps, "env_steps": steps * fs,
        "error_mean": _nanmean_padded([r.error for r in dyn]),
        "copy_error_mean": _nanmean_padded([r.copy_error for r in dyn]),
        "cosine_mean": _nanmean_padded([r.cosine for r in dyn]),
        "latent_variance_per_dim": meters.total_variance / len(ev),
    }
    if probe_err:
        rep["dynamics"]["probe_position_error"] = _nanmean_padded(probe_err)
        rep["dynamics"]["probe_position_error_encoded"] = _nanmean_padded(probe_err_enc)
        rep["dynamics"]["probe_position_dims"] = pos_names
    rep["straightness"] = {"latent_mean": float(np.nanmean(straight)), "latent_std": float(np.nanstd(straight)),
                           "state_mean": float(np.nanmean(straight_state)) if straight_state else None,
                           "per_episode": straight}
    d = rep["dynamics"]
    sections.append(("Open-loop dynamics", f"mean over {len(dyn)} episodes", fg.fig_open_loop_error(
        steps, d["error_mean"], d["copy_error_mean"], d.get("probe_position_error"),
        d.get("probe_position_error_encoded"), title=None, height=380)))
    timings["dynamics"] = time.perf_counter() - t0

    # -- latent map -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    say(f"[5/8] latent map ({map_method})")
    lmap = dg.fit_latent_map(enc.latents, map_method, seed=seed)
    traj_real = lmap.transform(dyn[0].actual) if dyn else np.zeros((0, 2))
    traj_imag = lmap.transform(dyn[0].predicted) if dyn else np.zeros((0, 2))
    rep["latent_map"] = {"method": map_method, "points": int(len(lmap.coords))}
    colour = enc.state[:, 0] if enc.state is not None else enc.step
    custom, hover = fg.point_hover(enc.episode, enc.step, enc.state, enc.state_names)
    sections.append((f"Latent map ({map_method.upper()})", f"episode {ep_ids[0]} encoded and imagined on top" if dyn else "",
                     fg.fig_latent_map(lmap.coords, colour, enc.state_names[0] if enc.state is not None else "step",
                                       method=map_method, customdata=custom, hovertemplate=hover,
                                       trajectories=[("episode: encoded", traj_real, fg.COLORS["actual"]),
                                                     ("episode: imagined", traj_imag, fg.COLORS["imagined"])])))
    timings["latent_map"] = time.perf_counter() - t0

    # -- surprise ----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    env_name = cfg.env or info["env"]
    env = penv if enc.state is not None else None  # the renderer built for the probes
    no_env = f"colour only: no renderer for {env_name!r}{missing_packages(env_name)}"
    say(f"[6/8] surprise tests on {len(eps)} episodes ({'teleport + colour' if env is not None else no_env})")
    bounds = (enc.state.min(0), enc.state.max(0)) if enc.state is not None else None
    mismatch = None
    if env is not None and eps and "state" in eps[0]:
        try:
            mismatch = dg.render_mismatch(eps[0]["pixels"], eps[0]["state"], env, [0],
                                          goal_state=eps[0].get("goal_state"))
        except Exception as e:  # a renderer that cannot draw the data's states: no teleport test
            say(f"  teleport disabled: the renderer failed on the data's state ({e})")
            env = None
    tests = dg.surprise_test(model, cfg, eps, env=env, bounds=bounds, progress=progress,
                             perturbations=("teleport", "colour") if env is not None else ("colour",))
    rep["surprise"] = {"tests": {k: v.summary() for k, v in tests.items()},
                       "per_episode": {k: {"frame": v.frame, "perturbed": v.perturbed, "clean": v.clean,
                                           "ratio": v.ratio} for k, v in tests.items()},
                       "render_mismatch_fraction": mismatch, "colour_mode": "hue",
                       "teleport_dims": [enc.state_names[i] for i in dg.default_teleport_dims(
                           getattr(env, "state_names", enc.state_names))] if env is not None else []}
    if tests:
        first = next(iter(tests.values()))
        unperturbed = first.traces[0][0]
        traces = [("clean", unperturbed.frames, unperturbed.error, None)] + [(k, v.traces[0][1].frames, v.traces[0][1].error, None)
                                                                for k, v in tests.items()]
        sections.append(("Surprise (violation of expectation)", f"episode {ep_ids[0]}, perturbed at frame "
                         f"{first.frame[0]}", fg.fig_surprise_traces(traces, at=first.frame[0])))
        sections.append(("Surprise: spike per episode", "", fg.fig_surprise_spikes(
            {k: v.ratio for k, v in tests.items()}, {k: v.p_wilcoxon for k, v in tests.items()})))
    timings["surprise"] = time.perf_counter() - t0

    # -- decoder / nearest frames --------------------------------------------------------------------
    t0 = time.perf_counter()
    say(f"[7/8] pixel decoder ({decoder_steps} steps, detached latents) and nearest frames")
    if decoder_steps > 0 and dyn:
        tr, te = dg.split_indices(len(enc.latents), 0.1, seed, enc.episode)
        dec = dg.train_decoder(enc.latents[tr], enc.pixels[tr], steps=decoder_steps, seed=seed,
                               device=dev, progress=progress)
        recon = dg.decode(dec, enc.latents[te[:512]])
        held = float(((recon.astype(np.float32) - enc.pixels[te[:512]].astype(np.float32)) ** 2).mean() / 255**2)
        rep["decoder"] = {"steps": decoder_steps, "final_train_loss": float(np.mean(dec.history[-20:])),
                          "heldout_mse": held}
        nf = dg.NearestFrames(enc.latents, enc.pixels)
        r, ep = dyn[0], eps[0]
        near = nf.query(r.predicted, k=1)
        rows = [list(ep["pixels"][r.frames]), list(dg.decode(dec, r.actual)), list(dg.decode(dec, r.predicted)),
                list(near.frames[:, 0])]
        sections.append(("Seeing imagination", f"episode {ep_ids[0]}, open loop from frame {r.context_frames[-1]}",
                         fg.fig_image_grid(rows, ["real frame", "decode(encoded)", "decode(imagined)",
                                                  "nearest to imagined"], [f"+{i + 1}" for i in range(len(r.frames))])))
    timings["decoder"] = time.perf_counter() - t0

    # -- planning cost landscape -----------------------------------------------------------------------
    t0 = time.perf_counter()
    land = _landscape_section(model, cfg, env_name, landscape_goals, seed, say)
    if land is not None:
        rep["landscape"], fig = land
        sections.append(("Goal-cost landscape", "what the planner minimises next to the true distance to go "
                         "(x = goal)", fig))
    timings["landscape"] = time.perf_counter() - t0

    # -- how a grid of true states is warped in latent space ------------------------------------------
    t0 = time.perf_counter()
    warp = grid_warp_section(model, cfg, env_name, say)
    if warp is not None:
        rep["grid_warp"], fig = warp
        sections.append(("A grid of true states in latent space", "Straight, parallel rows = a latent linear "
                         "in the state; fans and folds show where it bends.", fig))
    timings["grid_warp"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - t_all
    rep["timings_s"] = timings
    files = ["report.html"] if html else []
    if os.path.abspath(data) == os.path.abspath(os.path.join(out, HELDOUT_NAME)):  # collected for this report
        files.insert(0, HELDOUT_NAME)
    rep["files"] = files + ["report.json"]
    write_report(out, rep, sections if html else None, plotly_js, replace, say)
    return clean(rep)


def _landscape_section(model, cfg, env_name: str, n_goals: int, seed: int, say):
    """The planner's goal cost over a grid of true states for ``n_goals`` protocol goals: the
    summary numbers and a figure (cost next to the true distance to go, the first 4 goals)."""
    from ..envs import list_envs, make
    from ..evaluate import eval_pairs
    if n_goals <= 0:
        return None
    if env_name not in list_envs():  # was: the section dropped without a word (an optional env not installed)
        say(f"[8/8] no planning cost landscape: no simulator of {env_name!r}{missing_packages(env_name)}")
        return None
    env = make(env_name, image_size=cfg.model.image_size)
    dims = env.landscape_dims
    say(f"[8/8] planning cost landscape over ({env.state_names[dims[0]]}, {env.state_names[dims[1]]}) "
        f"for {n_goals} goals")
    ls = dg.goal_cost_landscapes(model, env, [g for _, g in eval_pairs(env_name, n_goals, seed=seed)], n=24)
    summ = dg.landscape_summary(ls)

    out = {"dims": [env.state_names[d] for d in dims], "goals": len(ls), "grid": 24,
           "spearman_mean": summ["spearman"], "greedy_accuracy_mean": summ["greedy_accuracy"],
           "spearman": summ["spearman_per_goal"], "greedy_accuracy": summ["greedy_accuracy_per_goal"]}
    title = (f"mean ρ {summ['spearman']:.2f}, greedy step right {100 * summ['greedy_accuracy']:.0f}% "
             f"over {len(ls)} goals (first 4 shown)")
    return out, fg.fig_landscapes(ls[:4], names=out["dims"], title=title)


def grid_warp_section(model, cfg, env_name: str, say, n: int = 25):
    """A grid of true states (the landscape's two components) drawn in latent space, with affine
    readouts over the whole grid and per region (e.g. per room): the JSON numbers and a figure."""
    from ..envs import list_envs, make
    if env_name not in list_envs():
        return None
    env = make(env_name, image_size=cfg.model.image_size)
    say(f"      state grid warp ({n}x{n}) over {env.state_names[env.landscape_dims[0]]}, "
        f"{env.state_names[env.landscape_dims[1]]}")
    g = dg.state_grid_warp(model, env, n=n)
    out = {"dims": list(g.names), "grid": n, "valid_cells": int(g.valid.sum()),
           "view": g.view,
           "linear_r": {nm: float(r) for nm, r in zip(g.names, g.readout.r)},
           "regions": {rn: {nm: float(r) for nm, r in zip(g.names, ro.r)}
                       for rn, ro in zip(g.region_names, g.region_readouts)},
           "region_angle_deg": ({nm: float(a) for nm, a in zip(g.names, g.region_angle)}
                                if len(g.region_names) >= 2 else None)}
    title = "in z: affine r " + ", ".join(f"{nm} {r:.3f}" for nm, r in zip(g.names, g.readout.r))
    if out["region_angle_deg"]:
        title += "; regions " + "/".join(f"{a:.0f}°" for a in g.region_angle) + " apart"
    return out, fg.fig_grid_warp(g, title=title)
