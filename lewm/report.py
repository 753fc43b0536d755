"""``python -m lewm report``: every diagnostic of :mod:`lewm.diagnostics` on one checkpoint.

Writes into ``--out``:

- ``report.json``  the figures (effective rank, SIGReg, probe table, open-loop errors,
  straightness, surprise spikes and p-values, decoder loss, goal-cost landscape, how a grid of
  true states is warped in latent space (``grid_warp``), timings);
- ``report.html``  interactive plotly figures (one self-contained file, works offline);
- ``*.png``        the same plots drawn with PIL (plotly's PNG export needs a browser).

:func:`make_report` is the library entry (the app can run it in a background job);
:func:`add_report_args` / :func:`run_report` are the CLI glue that ``lewm.cli`` dispatches to.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import os
import time
import warnings
from typing import Any

import numpy as np
import torch

from . import diagnostics as dg
from . import pngplot


MIN_FRAMES = 40
"""Fewest encoded frames a report is made from (the probes' splits need them)."""


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def add_report_args(p: argparse.ArgumentParser) -> None:
    from .validate import arg_int
    p.add_argument("--checkpoint", required=True, help="checkpoint file (or a folder holding last.pt)")
    p.add_argument("--data", required=True, help="HDF5 episode file (same env and image size as the model)")
    p.add_argument("--out", required=True, help="output folder (report.json, report.html, *.png)")
    p.add_argument("--episodes", type=arg_int(1, 100_000), default=10,
                   help="episodes for dynamics and surprise tests (default 10)")
    p.add_argument("--quick", action="store_true",
                   help="fewer frames, PCA map, short decoder/MLP training: about a minute on a CPU")
    p.add_argument("--max-frames", type=arg_int(MIN_FRAMES, 10_000_000), default=None, help="frames to encode for spectra/maps/probes, every "
                   "frameskip-th frame of whole episodes (default 6000, quick 2000)")
    p.add_argument("--map", dest="map_method", choices=("pca", "umap"), default=None,
                   help="latent map method (default umap, quick pca)")
    p.add_argument("--decoder-steps", type=arg_int(0, 1_000_000), default=None, help="pixel decoder steps (default 800, quick 200)")
    p.add_argument("--horizon", type=arg_int(1, 1000), default=10, help="open-loop horizon in action blocks (default 10)")
    p.add_argument("--landscape-goals", type=arg_int(0, 1000), default=8,
                   help="goals for the planning-cost landscape (0 = skip; needs the env's renderer)")
    p.add_argument("--seed", type=arg_int(0, 2**31 - 1), default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--threads", type=arg_int(1, 1024), default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--no-html", action="store_true", help="skip report.html")


def run_report(a: argparse.Namespace) -> int:
    from .validate import check_out_dir
    check_out_dir(a.out)  # before the work, not after it
    if a.threads:
        torch.set_num_threads(a.threads)
    rep = make_report(a.checkpoint, a.data, a.out, episodes=a.episodes, quick=a.quick, max_frames=a.max_frames,
                      map_method=a.map_method, decoder_steps=a.decoder_steps, horizon=a.horizon, seed=a.seed,
                      device=a.device, html=not a.no_html,
                      landscape_goals=a.landscape_goals)
    print(summary_text(rep))
    print(f"-> {os.path.join(a.out, 'report.json')}")
    return 0


def _f(v, spec: str = ".3f") -> str:
    """Format a number that may be None/NaN (JSON null)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec)


def summary_text(rep: dict) -> str:
    """A few lines for the terminal."""
    c, lines = rep["collapse"], []
    lines.append(f"effective rank {_f(c['effective_rank'], '.2f')} / {c['latent_dim']}  "
                 f"top-1 {_f(c['top1_fraction'])}  mean cos {_f(c['mean_cosine'])}  mean std {_f(c['mean_std'], '.3g')}  "
                 f"SIGReg {_f(rep['sigreg']['value'])}")
    for kind, rows in rep.get("probes", {}).items():
        lines.append(f"{kind:>6} probe ({rep.get('probe_features', {}).get(kind, 'latent z')}): " + "  ".join(f"{r['quantity']} r={_f(r['pearson_r'])} R²={_f(r['r2'])}"
                                                     for r in rows))
    sp = rep.get("probe_spread")
    if sp:
        lines.append(f"linear probe on z over {sp['splits']} held-out splits: " + "  ".join(
            f"{k} r={_f(v['mean'])} [{_f(v['min'])}, {_f(v['max'])}]" for k, v in sp["pearson"].items()))
    d = rep.get("dynamics")
    if d and len(d["error_mean"]):
        lines.append(f"open loop: latent MSE step 1 {_f(d['error_mean'][0], '.4g')}, step {len(d['error_mean'])} "
                     f"{_f(d['error_mean'][-1], '.4g')} (copy-last baseline {_f(d['copy_error_mean'][-1], '.4g')})")
        if "probe_position_error" in d:
            lines.append(f"open loop via probe: position error step 1 {_f(d['probe_position_error'][0], '.3g')}, "
                         f"step {len(d['error_mean'])} {_f(d['probe_position_error'][-1], '.3g')} "
                         f"(encoded floor {_f(d['probe_position_error_encoded'][-1], '.3g')})")
    s = rep.get("straightness")
    if s:
        lines.append(f"straightness: latent {_f(s['latent_mean'])}  true state {_f(s['state_mean'])}")
    for name, t in rep.get("surprise", {}).get("tests", {}).items():
        lines.append(f"surprise {name}: median ratio {_f(t['median_ratio'], '.2f')}, higher in "
                     f"{_f(t['fraction_higher'] * 100, '.0f')}% of {t['episodes']} episodes, "
                     f"p(wilcoxon) {_f(t['p_wilcoxon'], '.3g')}, p(t) {_f(t['p_ttest'], '.3g')}")
    ls = rep.get("landscape")
    if ls:
        lines.append(f"goal-cost landscape ({', '.join(ls['dims'])}): Spearman ρ with the true distance "
                     f"{_f(ls['spearman_mean'], '.2f')}, greedy step right {_f(ls['greedy_accuracy_mean'] * 100, '.0f')}% "
                     f"({ls['goals']} goals)")
    gw = rep.get("grid_warp")
    if gw:
        line = (f"state grid in latent space ({', '.join(gw['dims'])}): affine r "
                + ", ".join(f"{k} {_f(v)}" for k, v in gw["linear_r"].items()))
        if gw.get("region_angle_deg"):
            line += ("; per-region readout directions differ by "
                     + ", ".join(f"{k} {_f(v, '.0f')}°" for k, v in gw["region_angle_deg"].items()))
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def pick_episodes(data: str, cfg, n: int, seed: int = 0) -> tuple[list[int], list[bool]]:
    """Up to ``n`` episodes long enough for a few open-loop steps: the checkpoint's validation
    episodes first (held out from training if ``data`` is its training file), then others."""
    from .data import DataError, WindowDataset, validate_file
    from .data import action_stats_of
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


def _clean(x):
    """JSON-safe: numpy -> python, NaN/inf -> None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _nanmean_padded(rows: list[np.ndarray]) -> np.ndarray:
    P = max((len(r) for r in rows), default=0)
    m = np.full((len(rows), P), np.nan)
    for i, r in enumerate(rows):
        m[i, :len(r)] = r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(m, 0) if len(rows) else m[0]


def make_report(checkpoint: str, data: str, out: str, *, episodes: int = 10, quick: bool = False,
                max_frames: int | None = None, map_method: str | None = None, decoder_steps: int | None = None,
                horizon: int = 10, seed: int = 0, device: str = "auto", html: bool = True,
                progress: bool = True, landscape_goals: int = 8) -> dict[str, Any]:
    """Run every diagnostic on ``checkpoint`` with the episodes of ``data``; write the files into
    ``out`` and return the ``report.json`` content."""
    from . import checkpoint as ckpt
    from .data import load_episode, validate_file
    from .train import resolve_device

    from .validate import check_dataset, check_out_dir
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    check_out_dir(out)
    dev = resolve_device(device)
    model, cfg, meta = ckpt.load(checkpoint, device=dev)
    # the same checks as every command that reads a dataset (env, image and action size, states)
    info = check_dataset(data, env=cfg.env, image_size=cfg.model.image_size, action_dim=cfg.model.action_dim,
                         who=f"checkpoint {checkpoint}")
    max_frames = max_frames or (2000 if quick else 6000)
    map_method = map_method or ("pca" if quick else "umap")
    decoder_steps = decoder_steps if decoder_steps is not None else (200 if quick else 800)
    say = print if progress else (lambda *a, **k: None)
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
    files: list[str] = []
    figs: list[tuple[str, Any]] = []  # (section title, plotly figure or html string)

    def save_png(img, name):
        path = os.path.join(out, name)
        img.save(path)
        files.append(name)

    # -- encode --------------------------------------------------------------------------------
    t0 = time.perf_counter()
    # every frameskip-th frame (the model's own time step): a capped budget then covers more episodes
    say(f"[1/8] encoding up to {max_frames} frames of {data} (every {cfg.model.frameskip}th)")
    enc = dg.encode_dataset(model, data, max_frames=max_frames, stride=cfg.model.frameskip, keep_pixels=True,
                            seed=seed, progress=progress, with_embeddings=True)
    rep["frames_encoded"] = int(len(enc.latents))
    if len(enc.latents) < MIN_FRAMES:
        from .data import DataError
        raise DataError(f"{data}: only {len(enc.latents)} frames encoded (every {cfg.model.frameskip}th frame, "
                        f"--max-frames {max_frames}); the probes and statistics need at least {MIN_FRAMES}: "
                        f"use a larger data file or a larger --max-frames")
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
    save_png(pngplot.line_chart([("eigenvalue", np.arange(1, len(ev) + 1), np.maximum(ev, 1e-12))],
                                f"Covariance spectrum (effective rank {meters.effective_rank:.1f} / {len(ev)})",
                                "component", "variance", logy=True), "spectrum.png")
    show = list(range(min(6, view.histograms.shape[0])))
    save_png(pngplot.hist_grid(view.bin_edges, view.histograms[show], view.grid, view.reference_pdf,
                               [f"dir {k}: EP {view.statistic[k]:.2f}" for k in show],
                               f"Random projections vs N(0,1) (SIGReg {view.value:.3f})"), "sigreg_hist.png")
    figs.append(("Covariance spectrum", _fig_spectrum(meters)))
    figs.append(("SIGReg: random projections vs N(0, 1)", _fig_sigreg(view, show)))
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
        spread = dg.probe_spread(enc.latents, targets, target_names, "linear", splits=5, groups=enc.episode)
        rep["probe_spread"] = {"kind": "linear", "features": on_z, "splits": 5, "pearson": spread.summary()}
        save_png(pngplot.bar_chart(list(enc.state_names), {"linear r": lin.pearson, "MLP r": mlp.pearson,
                                                           "linear r, embedding": lin_e.pearson,
                                                           "linear R²": lin.r2, "MLP R²": mlp.r2},
                                   "Held-out probes (split by episode)", "r / R²", ylim=(0, 1)), "probes.png")
        figs.append(("Probes: held-out Pearson r and R²", _fig_probes(lin, mlp, lin_e)))
        figs.append(("Linear probe: prediction vs truth (held-out)", _fig_probe_scatter(lin)))
    else:
        say("[3/8] probes skipped: the data file has no 'state'")
    timings["probes"] = time.perf_counter() - t0

    # -- episodes: dynamics, straightness ----------------------------------------------------------
    t0 = time.perf_counter()
    ep_ids, held_out = pick_episodes(data, cfg, episodes, seed)
    eps = [load_episode(data, e) for e in ep_ids]
    say(f"[4/8] open-loop dynamics and straightness on {len(eps)} episodes")
    H, fs = cfg.model.history, cfg.model.frameskip
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
        straight.append(dg.temporal_straightness(z))
        if "state" in ep:
            straight_state.append(dg.temporal_straightness(ep["state"][frames][:, pos_dims] if pos_dims
                                                           else ep["state"][frames]))
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
    series = [("predictor (open loop)", steps, d["error_mean"]), ("copy last latent", steps, d["copy_error_mean"])]
    save_png(pngplot.line_chart(series, "Open-loop latent error vs horizon", "action blocks ahead",
                                "MSE per dim"), "dynamics.png")
    if probe_err:
        save_png(pngplot.line_chart([("imagined", steps, d["probe_position_error"]),
                                     ("encoded (probe floor)", steps, d["probe_position_error_encoded"])],
                                    "Open-loop position error read by the linear probe", "action blocks ahead",
                                    "position error (state units)"), "dynamics_probe.png")
    figs.append(("Open-loop dynamics", _fig_dynamics(rep["dynamics"])))
    timings["dynamics"] = time.perf_counter() - t0

    # -- latent map -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    say(f"[5/8] latent map ({map_method})")
    lmap = dg.fit_latent_map(enc.latents, map_method, seed=seed)
    traj_real = lmap.transform(dyn[0].actual) if dyn else np.zeros((0, 2))
    traj_imag = lmap.transform(dyn[0].predicted) if dyn else np.zeros((0, 2))
    rep["latent_map"] = {"method": map_method, "points": int(len(lmap.coords))}
    panels = []
    for q in range(min(2, enc.state.shape[1]) if enc.state is not None else 1):
        colour = enc.state[:, q] if enc.state is not None else enc.step
        name = enc.state_names[q] if enc.state is not None else "time step"
        panels.append(pngplot.scatter(lmap.coords[:, 0], lmap.coords[:, 1], colour,
                                      f"{map_method.upper()} of latents, colour = {name}",
                                      overlay=[("episode: encoded", traj_real[:, 0], traj_real[:, 1]),
                                               ("episode: imagined", traj_imag[:, 0], traj_imag[:, 1])]))
    save_png(pngplot.hstack(panels), "latent_map.png")
    figs.append((f"Latent map ({map_method.upper()})", _fig_map(lmap, enc, traj_real, traj_imag)))
    timings["latent_map"] = time.perf_counter() - t0

    # -- surprise ----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    env_name = cfg.env or info["env"]
    env = penv if enc.state is not None else None  # the renderer built for the probes
    say(f"[6/8] surprise tests on {len(eps)} episodes "
        f"({'teleport + colour' if env is not None else 'colour only: no renderer for ' + repr(env_name)})")
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
        clean = first.traces[0][0]
        series = [("clean", clean.frames, clean.error)] + [(k, v.traces[0][1].frames, v.traces[0][1].error)
                                                            for k, v in tests.items()]
        save_png(pngplot.line_chart(series, f"Surprise along episode {ep_ids[0]} (perturbed at frame "
                                    f"{first.frame[0]})", "frame", "one-step error (MSE per dim)"),
                 "surprise_trace.png")
        save_png(pngplot.bar_chart([k for k in tests], {"median ratio (perturbed/clean)":
                                                        [float(np.median(v.ratio)) for v in tests.values()]},
                                   "Surprise spike at the perturbation "
                                   + "  ".join(f"{k}: p={v.p_wilcoxon:.2g}" for k, v in tests.items()),
                                   "ratio"), "surprise_spikes.png")
        figs.append(("Surprise (violation of expectation)", _fig_surprise(tests, ep_ids)))
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
        scale = max(1, 96 // cfg.model.image_size)
        save_png(pngplot.image_grid(rows, ["real frame", "decode(encoded)", "decode(imagined)",
                                           "nearest to imagined"], [f"+{i + 1}" for i in range(len(r.frames))],
                                    scale=scale, title=f"Imagination: episode {ep_ids[0]}, open loop from frame "
                                    f"{r.context_frames[-1]}"), "imagination.png")
    timings["decoder"] = time.perf_counter() - t0

    # -- planning cost landscape -----------------------------------------------------------------------
    t0 = time.perf_counter()
    land = _landscape_section(model, cfg, env_name, landscape_goals, seed, say)
    if land is not None:
        rep["landscape"], img = land
        save_png(img, "landscape.png")
    timings["landscape"] = time.perf_counter() - t0

    # -- how a grid of true states is warped in latent space ------------------------------------------
    t0 = time.perf_counter()
    warp = _grid_warp_section(model, cfg, env_name, say)
    if warp is not None:
        rep["grid_warp"], img = warp
        save_png(img, "grid_warp.png")
    timings["grid_warp"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - t_all
    rep["timings_s"] = timings
    if html:
        _write_html(os.path.join(out, "report.html"), rep, figs, out, files)
        files.append("report.html")
    rep["files"] = files + ["report.json"]
    rep = _clean(rep)
    from .faults import write_atomic
    write_atomic(os.path.join(out, "report.json"), json.dumps(rep, indent=1))
    return rep


def _landscape_section(model, cfg, env_name: str, n_goals: int, seed: int, say):
    """The planner's goal cost over a grid of true states for ``n_goals`` protocol goals: the
    summary numbers and a PNG (cost next to the true distance to go, rank-coloured)."""
    from .envs import list_envs, make
    from .evaluate import eval_pairs
    if n_goals <= 0 or env_name not in list_envs():
        return None
    env = make(env_name, image_size=cfg.model.image_size)
    dims = env.landscape_dims
    say(f"[8/8] planning cost landscape over ({env.state_names[dims[0]]}, {env.state_names[dims[1]]}) "
        f"for {n_goals} goals")
    ls = dg.goal_cost_landscapes(model, env, [g for _, g in eval_pairs(env_name, n_goals, seed=seed)], n=24)
    summ = dg.landscape_summary(ls)

    def rank_rgb(a):
        m = np.isfinite(a)
        v = np.zeros(a.shape, np.float32)
        v[m] = np.argsort(np.argsort(a[m])) / max(m.sum() - 1, 1)
        rgb = pngplot.viridis(v.ravel()).reshape(a.shape + (3,))
        rgb[~m] = 0
        return rgb

    rows = []
    for L in ls[:4]:
        gi, gj = np.abs(L.xs - L.goal[dims[0]]).argmin(), np.abs(L.ys - L.goal[dims[1]]).argmin()
        row = [rank_rgb(L.cost), rank_rgb(L.true_dist)]
        for im in row:
            im[gj, gi] = (255, 0, 0)
        rows.append(row)
    img = pngplot.image_grid(rows, [f"rho {L.spearman:.2f}" for L in ls[:4]], ["|z - z_goal|^2", "true distance"],
                             scale=4, title=f"Goal cost landscape (red = goal, dark = low): mean rho "
                             f"{summ['spearman']:.2f}, greedy step right {100 * summ['greedy_accuracy']:.0f}%")
    out = {"dims": [env.state_names[d] for d in dims], "goals": len(ls), "grid": 24,
           "spearman_mean": summ["spearman"], "greedy_accuracy_mean": summ["greedy_accuracy"],
           "spearman": summ["spearman_per_goal"], "greedy_accuracy": summ["greedy_accuracy_per_goal"]}
    return out, img


def _grid_warp_section(model, cfg, env_name: str, say, n: int = 25):
    """A grid of true states (the landscape's two components) drawn in latent space, with affine
    readouts over the whole grid and per region (e.g. per room): the JSON numbers and a PNG."""
    from .envs import list_envs, make
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
    return out, pngplot.grid_warp(g.xs, g.ys, g.coords, g.valid, g.names, title=title)


# ---------------------------------------------------------------------------------------------
# plotly figures (HTML); built from diagnostics results only
# ---------------------------------------------------------------------------------------------
def _fig_spectrum(m: dg.CollapseMeters):
    import plotly.graph_objects as go
    fig = go.Figure(go.Scatter(x=np.arange(1, len(m.spectrum) + 1), y=m.spectrum, mode="lines+markers"))
    fig.update_layout(title=f"effective rank {m.effective_rank:.2f} / {len(m.spectrum)}; top-1 "
                            f"{m.top1_fraction:.3f}; mean cosine {m.mean_cosine:.3f}",
                      xaxis_title="component", yaxis_title="variance", yaxis_type="log", height=380)
    return fig


def _fig_sigreg(v: dg.SIGRegView, show: list[int]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    cols = 3
    rows = max(1, math.ceil(len(show) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"dir {k}: EP {v.statistic[k]:.2f}" for k in show])
    centres = 0.5 * (v.bin_edges[1:] + v.bin_edges[:-1])
    for i, k in enumerate(show):
        r, c = divmod(i, cols)
        fig.add_trace(go.Bar(x=centres, y=v.histograms[k], marker_color="#9ecae1", showlegend=False), r + 1, c + 1)
        fig.add_trace(go.Scatter(x=v.grid, y=v.reference_pdf, line_color="#d62728", showlegend=i == 0,
                                 name="N(0,1)"), r + 1, c + 1)
    fig.update_layout(title=f"SIGReg {v.value:.3f} over {v.directions.shape[1]} directions", bargap=0,
                      height=300 * rows)
    return fig


def _fig_probes(lin: dg.ProbeResult, mlp: dg.ProbeResult, lin_emb: dg.ProbeResult | None = None):
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, res in (("linear", lin), ("MLP", mlp)) + ((("linear, encoder embedding", lin_emb),) if lin_emb else ()):
        fig.add_trace(go.Bar(x=list(res.names), y=res.pearson, name=f"{name} r", text=np.round(res.pearson, 3)))
        fig.add_trace(go.Bar(x=list(res.names), y=res.r2, name=f"{name} R²", text=np.round(res.r2, 3)))
    fig.update_layout(barmode="group", yaxis_range=[0, 1.05], height=380)
    return fig


def _fig_probe_scatter(res: dg.ProbeResult):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    q = len(res.names)
    fig = make_subplots(rows=1, cols=q, subplot_titles=[f"{n}: r={r:.3f}" for n, r in zip(res.names, res.pearson)])
    for i in range(q):
        t, p = res.targets[:, i], res.predictions[:, i]
        fig.add_trace(go.Scattergl(x=t, y=p, mode="markers", marker_size=3, showlegend=False), 1, i + 1)
        fig.add_trace(go.Scatter(x=[t.min(), t.max()], y=[t.min(), t.max()], line_color="black",
                                 showlegend=False), 1, i + 1)
    fig.update_layout(height=360)
    return fig


def _fig_dynamics(d: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    has_probe = "probe_position_error" in d
    fig = make_subplots(rows=1, cols=2 if has_probe else 1,
                        subplot_titles=["latent MSE per dim"] + (["position error via linear probe"] if has_probe else []))
    x = d["horizon_blocks"]
    fig.add_trace(go.Scatter(x=x, y=d["error_mean"], name="predictor (open loop)"), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=d["copy_error_mean"], name="copy last latent"), 1, 1)
    if has_probe:
        fig.add_trace(go.Scatter(x=x, y=d["probe_position_error"], name="imagined (probe)"), 1, 2)
        fig.add_trace(go.Scatter(x=x, y=d["probe_position_error_encoded"], name="encoded (probe floor)"), 1, 2)
    fig.update_xaxes(title_text="action blocks ahead")
    fig.update_layout(height=380)
    return fig


def _fig_map(lmap: dg.LatentMap, enc: dg.EncodedDataset, real: np.ndarray, imag: np.ndarray):
    import plotly.graph_objects as go
    colour = enc.state[:, 0] if enc.state is not None else enc.step
    hover = [f"ep {e} t {t}" + ("".join(f"<br>{n}={v:.2f}" for n, v in zip(enc.state_names, s))
                                if enc.state is not None else "")
             for e, t, s in zip(enc.episode, enc.step, enc.state if enc.state is not None else enc.step)]
    fig = go.Figure(go.Scattergl(x=lmap.coords[:, 0], y=lmap.coords[:, 1], mode="markers", text=hover,
                                 hoverinfo="text", name="dataset frames",
                                 marker=dict(size=4, color=colour, colorscale="Viridis", showscale=True,
                                             colorbar=dict(title=enc.state_names[0] if enc.state is not None else "t"))))
    fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="lines+markers", name="episode: encoded",
                             line_color="black"))
    fig.add_trace(go.Scatter(x=imag[:, 0], y=imag[:, 1], mode="lines+markers", name="episode: imagined",
                             line_color="#d62728"))
    fig.update_layout(height=560)
    return fig


def _fig_surprise(tests: dict, ep_ids: list[int]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"episode {ep_ids[0]}", "spike per episode"])
    first = next(iter(tests.values()))
    clean = first.traces[0][0]
    fig.add_trace(go.Scatter(x=clean.frames, y=clean.error, name="clean"), 1, 1)
    for k, v in tests.items():
        tr = v.traces[0][1]
        fig.add_trace(go.Scatter(x=tr.frames, y=tr.error, name=k), 1, 1)
        fig.add_trace(go.Box(y=v.ratio, name=f"{k} (p={v.p_wilcoxon:.2g})", boxpoints="all"), 1, 2)
    fig.update_yaxes(title_text="one-step error", row=1, col=1)
    fig.update_yaxes(title_text="perturbed / clean at the perturbation", type="log", row=1, col=2)
    fig.update_layout(height=400)
    return fig


def _write_html(path: str, rep: dict, figs: list, out: str, files: list[str]) -> None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        return
    summary = summary_text(_clean(rep)).replace("&", "&amp;").replace("<", "&lt;")
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>LeWM report</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}pre{background:#f4f4f4;"
             "padding:8px}</style></head><body>",
             f"<h1>LeWM diagnostics</h1><p>{rep['checkpoint']['path']} (step {rep['checkpoint']['step']}, "
             f"preset {rep['checkpoint']['preset']}) on {rep['data']['path']}</p><pre>{summary}</pre>"]
    first = True
    for title, fig in figs:
        parts.append(f"<h2>{title}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=True if first else False))
        first = False
    for name, title, text in [("imagination.png", "Seeing imagination", ""),
                              ("grid_warp.png", "A grid of true states in latent space",
                               "Straight, parallel rows = a latent linear in the state; fans and folds show where it bends.")]:
        if name in files:  # PIL-only figures, embedded as they are
            with open(os.path.join(out, name), "rb") as f:
                b64 = base64.b64encode(f.read()).decode()
            parts.append(f"<h2>{title}</h2>" + (f"<p>{text}</p>" if text else "")
                         + f"<img src='data:image/png;base64,{b64}'>")
    parts.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(parts))
