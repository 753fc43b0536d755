"""Surprise (violation of expectation): does the predictor notice an impossible event?

:func:`surprise_trace` is the teacher-forced one-step prediction error along an episode;
:func:`surprise_test` compares it at a perturbation frame (a teleport or a colour change, see
:mod:`.perturbations`) with the clean episode, over episodes, with a paired one-sided test.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

import lewm.diagnostics._dyn_checks as chk
from ._common import ArrayLike, _device_of, _eval_mode, _np, _whole, check_episode
from .dynamics import action_blocks
from .encoding import encode_frames
from .perturbations import colour_change, render_mismatch, teleport
from .._api_checks import flag as ck_flag


@dataclass
class SurpriseTrace:
    """One-step prediction error along an episode, at frameskip stride."""

    frames: np.ndarray
    """(n,) raw frame indices of the kept frames."""
    error: np.ndarray
    """(n,) mean squared error per dim of the prediction of each kept frame from the frames
    before it (NaN for the first, which has no prediction)."""
    latents: np.ndarray = field(repr=False, default=None)
    """(n, D) encoder latents of the kept frames."""

    def at(self, frame: int) -> float:
        """Surprise at raw frame index ``frame`` (must be a kept frame)."""
        i = np.flatnonzero(self.frames == frame)
        if len(i) == 0:
            raise ValueError(f"frame {frame} is not on the trace's stride (frames {self.frames[:3]}...)")
        return float(self.error[i[0]])


def surprise_trace(model, pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0) -> SurpriseTrace:
    """Teacher-forced one-step surprise ‖ẑ_{k+1} − z_{k+1}‖² / D for every kept frame k+1.

    Frames are kept every ``frameskip`` raw steps from ``start``; the prediction of frame k+1 sees
    the ``history`` kept frames up to k and their action blocks (fewer at the episode start),
    exactly as in training.
    """
    from ..data import action_stats_of
    chk.model("surprise_trace", model)
    chk.config("surprise_trace", cfg)  # None was an AttributeError 'model'
    px = chk.frames("surprise_trace", pixels)  # float frames were cast to uint8 0s and 1s without a word
    chk.action_rows("surprise_trace", actions, len(px))
    check_episode(px, actions, cfg, start)
    H, fs = cfg.model.history, cfg.model.frameskip
    L = len(px)
    n = (L - 1 - start) // fs + 1
    frames = start + fs * np.arange(n)  # (n,)
    z = encode_frames(model, px[frames])  # (n, D)
    if n < 2:  # was an all-NaN trace without a word
        raise ValueError(f"surprise_trace needs at least 2 kept frames (one to predict from, one to predict): "
                         f"{L} frames from start {start} every frameskip {fs} keep {n}")
    err = np.full(n, np.nan, np.float32)  # the first kept frame has nothing before it
    blocks = action_blocks(actions, frames[:-1], fs, action_stats_of(cfg))  # (n-1, K)
    dev = _device_of(model)
    w = min(H, n - 1)
    with _eval_mode(model):
        first = model.predict(z[None, :w].to(dev), blocks[None, :w].to(dev))[0].cpu()  # (w, D): frames 1..w
        preds = [first]
        if n - 1 > w:
            idx = np.arange(1, n - w)[:, None] + np.arange(w)  # (n-1-w, w) windows ending at k
            zw, aw = z[idx].to(dev), blocks[idx].to(dev)  # (n-1-w, w, D), (n-1-w, w, K)
            preds.append(model.predict(zw, aw)[:, -1].cpu())  # (n-1-w, D): frames w+1..n-1
    pred = torch.cat(preds).float()  # (n-1, D)
    err[1:] = ((pred - z[1:]) ** 2).mean(-1).numpy()
    return SurpriseTrace(frames, err, z.numpy())


@dataclass
class PerturbationTest:
    """Surprise at the perturbation frame, perturbed vs clean, over episodes, with a paired test."""

    name: str
    frame: np.ndarray
    """(E,) raw frame index of the perturbation in each episode."""
    perturbed: np.ndarray
    """(E,) surprise at that frame in the perturbed episode."""
    clean: np.ndarray
    """(E,) surprise at the same frame in the clean episode."""
    baseline: np.ndarray
    """(E,) median surprise of the clean episode (its typical level)."""
    spike: np.ndarray
    """(E,) perturbed − clean."""
    ratio: np.ndarray
    """(E,) perturbed / clean."""
    p_wilcoxon: float
    """One-sided Wilcoxon signed-rank p-value (H1: perturbed > clean). NaN if it cannot run."""
    p_ttest: float
    """One-sided paired t-test p-value (H1: perturbed > clean)."""
    traces: list = field(repr=False, default_factory=list)
    """Per episode (clean SurpriseTrace, perturbed SurpriseTrace)."""
    render_mismatch: float = 0.0
    """Teleports: the largest fraction of pixels that differ between a recorded frame and its
    re-rendering (see :func:`render_mismatch`); 0 means the teleport changes only what it moves."""

    def summary(self) -> dict[str, float | int | str]:
        return {"name": self.name, "episodes": int(len(self.spike)), "mean_spike": float(np.mean(self.spike)),
                "median_ratio": float(np.median(self.ratio)), "mean_perturbed": float(np.mean(self.perturbed)),
                "mean_clean": float(np.mean(self.clean)), "mean_baseline": float(np.mean(self.baseline)),
                "fraction_higher": float(np.mean(self.spike > 0)),
                "p_wilcoxon": self.p_wilcoxon, "p_ttest": self.p_ttest,
                "render_mismatch": self.render_mismatch}


def paired_one_sided(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Wilcoxon signed-rank p, paired t-test p) for H1: a > b. NaN where a test cannot run (with a warning
    when a and b are equal in every pair); NaN/inf in a or b is a ValueError."""
    from scipy import stats
    # ['a'] was numpy's "could not convert string to float", unnamed
    a = chk.numbers("paired_one_sided", "a", a, ndim=None, finite=False, shape_hint="paired numbers (n,)")
    b = chk.numbers("paired_one_sided", "b", b, ndim=None, finite=False, shape_hint="paired numbers (n,)")
    if a.shape != b.shape or a.ndim != 1:  # numpy's "operands could not be broadcast together"
        raise ValueError(f"paired_one_sided needs two 1-D arrays of the same length (paired values), "
                         f"got shapes {a.shape} and {b.shape}")
    for name, v in (("a", a), ("b", b)):  # NaN gave a p-value of 1 (or NaN) without a word
        if not np.isfinite(v).all():
            raise ValueError(f"paired_one_sided({name}=...) holds NaN/inf at {np.flatnonzero(~np.isfinite(v))[:5].tolist()}; "
                             f"pass finite paired values")
    if len(a) == 0:  # was (nan, nan) without a word
        raise ValueError("paired_one_sided needs at least one pair (2 for a test), got 0")
    p_w = p_t = float("nan")
    if len(a) >= 2 and not np.any(a != b):
        warnings.warn(f"paired_one_sided: a and b are equal in all {len(a)} pairs (no difference): the tests are "
                      f"undefined, both p-values are NaN", stacklevel=2)
    if len(a) >= 2 and np.any(a != b):
        try:
            p_w = float(stats.wilcoxon(a, b, alternative="greater").pvalue)
        except ValueError:
            pass
        d = a - b
        if d.std() > 0:
            p_t = float(stats.ttest_rel(a, b, alternative="greater").pvalue)
        else:
            p_t = 0.0 if d.mean() > 0 else 1.0
    return p_w, p_t


def surprise_test(model, cfg, episodes: Sequence[dict], env=None, *, t: int | Sequence[int] | None = None,
                  perturbations: Sequence[str] | None = None, colour_mode: str = "hue",
                  bounds: tuple[ArrayLike, ArrayLike] | None = None, dims: Sequence[int] | None = None,
                  progress: bool = False) -> dict[str, PerturbationTest]:
    """Violation-of-expectation test over several episodes.

    ``episodes``: dicts with ``pixels`` (L, S, S, 3), ``action`` (L, A) and, for teleports,
    ``state`` (L, Q) and, where the env draws its target, ``goal_state`` (Q,) (as
    :func:`lewm.data.load_episode` returns). A teleport re-renders frames; if the renderer does not
    reproduce the recorded frames (> 0.1% of the pixels of the unmoved frame before t differ) a
    warning says so, and ``render_mismatch`` records it. Each perturbation starts at a
    kept frame ``t`` (default: the kept frame nearest the middle, at least ``history`` kept frames
    in); the surprise at t in the perturbed episode is paired with the surprise at t in the clean
    one. ``perturbations``: names out of 'teleport' and 'colour' (None: both with ``env``, else the
    colour change only). Teleports need ``env`` (``render_state``) and states; ``bounds`` default to
    the range of all the given states. ``t``: one raw frame for every episode, or one per episode.
    Returns {name: PerturbationTest}.
    """
    episodes, names, ts = _test_args(model, cfg, episodes, env, t, perturbations, progress)
    H, fs = cfg.model.history, cfg.model.frameskip
    if "teleport" in names and bounds is None:
        all_st = np.concatenate([_np(e["state"]) for e in episodes])  # (ΣL, Q)
        bounds = (all_st.min(0), all_st.max(0))
    rows: dict[str, dict[str, list]] = {p: {"frame": [], "pert": [], "clean": [], "base": [], "traces": [],
                                            "mismatch": []} for p in names}
    it = enumerate(episodes)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(episodes), desc="surprise", unit="episode")
    for i, ep in it:
        px, act = chk.frames("surprise_test", ep["pixels"], f"episodes[{i}]['pixels']"), _np(ep["action"])
        n = (len(px) - 1) // fs + 1
        if ts[i] is None:
            k = max(n // 2, min(H, n - 1))
            ti = int(k * fs)
        else:
            ti = ts[i]
        if ti % fs or not 0 < ti < len(px):
            raise ValueError(f"surprise_test: perturbation frame {ti} must be a multiple of frameskip {fs} inside "
                             f"episode {i} (1..{len(px) - 1})")
        clean = surprise_trace(model, px, act, cfg)
        for p in names:
            if p == "teleport":
                goal = ep.get("goal_state")
                mis = render_mismatch(px, ep["state"], env, [ti - 1], goal_state=goal)
                rows[p]["mismatch"].append(mis)
                if mis > 1e-3:
                    warnings.warn(f"teleport: re-rendering the recorded state at frame {ti - 1} of episode {i} "
                                  f"changes {mis:.2%} of the pixels of the recorded frame: the surprise also "
                                  f"measures that difference (is the episode's goal_state given?)")
                px2, _ = teleport(px, ep["state"], ti, env, dims=dims, bounds=bounds, goal_state=goal)
            elif p == "colour":
                px2 = colour_change(px, ti, colour_mode)
            else:
                raise ValueError(f"unknown perturbation {p!r}; choose 'teleport' or 'colour'")
            pert = surprise_trace(model, px2, act, cfg)
            r = rows[p]
            r["frame"].append(ti)
            r["pert"].append(pert.at(ti))
            r["clean"].append(clean.at(ti))
            r["base"].append(float(np.nanmedian(clean.error)))
            r["traces"].append((clean, pert))
    out = {}
    for p, r in rows.items():
        pert, cl = np.asarray(r["pert"]), np.asarray(r["clean"])
        p_w, p_t = paired_one_sided(pert, cl)
        out[p] = PerturbationTest(name=p, frame=np.asarray(r["frame"]), perturbed=pert, clean=cl,
                                  baseline=np.asarray(r["base"]), spike=pert - cl,
                                  ratio=pert / np.maximum(cl, 1e-12), p_wilcoxon=p_w, p_ttest=p_t,
                                  traces=r["traces"],
                                  render_mismatch=float(np.max(r["mismatch"])) if r["mismatch"] else 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# One episode, the perturbation moved along it (what the lab's Dynamics page scrubs)
# ---------------------------------------------------------------------------------------------
@dataclass
class PerturbedAt:
    """The episode perturbed at raw frame ``t``: its surprise traces and perturbed frames at ``t``."""

    t: int
    colour: SurpriseTrace
    colour_frame: np.ndarray
    """(S, S, 3) uint8: frame t recoloured."""
    teleport: SurpriseTrace | None = None
    """None without a renderer (no env or no states)."""
    teleport_frame: np.ndarray | None = None
    """(S, S, 3) uint8: frame t with the agent teleported."""


def _test_args(model, cfg, episodes, env, t, perturbations, progress):
    """:func:`surprise_test`'s arguments checked before any work: (episodes as a list, perturbation names, one
    frame or None per episode)."""
    fn = "surprise_test"
    chk.model(fn, model)
    chk.config(fn, cfg)
    ck_flag(fn, "progress", progress)  # 'no' was truthy: a progress bar
    if isinstance(episodes, Mapping):  # was "string indices must be integers"
        raise TypeError(f"{fn}(episodes=...) must be a list of episode dicts, got one dict (wrap it: [ep])")
    if isinstance(episodes, (str, bytes)) or not isinstance(episodes, Iterable):
        raise TypeError(f"{fn}(episodes=...) must be a list of episode dicts, got {type(episodes).__name__}")
    episodes = list(episodes)
    if len(episodes) == 0:  # was an empty result (and NaN statistics) without a word
        raise ValueError("surprise_test needs at least one episode, got none")
    if perturbations is None:
        names = ("teleport", "colour") if env is not None else ("colour",)
    else:  # 'colour' was iterated letter by letter ("unknown perturbation 'c'")
        names = tuple(dict.fromkeys(chk.names(fn, "perturbations", perturbations, ("teleport", "colour"))))
        if "teleport" in names and env is None:  # was dropped without a word
            if names == ("teleport",):
                raise ValueError(f"{fn}: a teleport needs env (a renderer with render_state, e.g. lewm.envs.make(...) "
                                 f"or lewm.diagnostics.renderer_for(...)), got env=None")
            names = tuple(p for p in names if p != "teleport")
            warnings.warn(f"{fn}: no env given: the teleport test is skipped (it needs a renderer with "
                          f"render_state); running {', '.join(names)} only", UserWarning, stacklevel=3)
    if env is not None and "teleport" in names:
        chk.renderer(fn, env)
    keys = ("pixels", "action", "state") if "teleport" in names else ("pixels", "action")
    for i, ep in enumerate(episodes):  # a missing key was a KeyError; float frames were cast to uint8 0s and 1s
        chk.episode_dict(fn, ep, f"episode {i}", keys)
        chk.frames(fn, ep["pixels"], f"episodes[{i}]['pixels']")
    E = len(episodes)
    if t is None:
        return episodes, names, [None] * E
    if np.ndim(t) == 0:
        return episodes, names, [chk.index(fn, "t", t, 1, None)] * E  # 10.5 was truncated
    if isinstance(t, (str, bytes)) or np.ndim(t) != 1:
        raise TypeError(f"{fn}(t=...) must be one whole frame index or one per episode, got {t!r:.60}")
    ts = [chk.index(fn, f"t[{j}]", v, 1, None) for j, v in enumerate(t)]
    if len(ts) != E:  # a list shorter than the episodes was an IndexError, longer silently cut
        raise ValueError(f"{fn}(t=...) gives {len(ts)} frame(s) for {E} episodes; give one per episode (or one int)")
    return episodes, names, ts


def sweep_frames(L: int, cfg, most: int = 24) -> np.ndarray:
    """Raw frames of an ``L``-frame episode where a perturbation can go: kept frames (every
    ``frameskip``) with at least ``history`` kept frames before them; at most ``most``, evenly
    spread (always the first and, when ``most`` >= 2, the last). -> (n,) int, possibly empty (an
    episode too short for one)."""
    chk.config("sweep_frames", cfg)  # None was an AttributeError 'model'
    L = chk.whole("sweep_frames", "L", L, 0)  # -3 answered [] as if merely short, 40.5 float frames, None [0, 5]
    _whole(most, "sweep_frames: most")  # 0 returned no frame
    H, fs = cfg.model.history, cfg.model.frameskip
    first = fs * max(H, 1)
    n = (L - 1 - first) // fs + 1 if L > first else 0  # kept frames first, first + fs, ... < L (not allocated)
    idx = np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))
    return first + fs * idx


def perturbation_sweep(model, cfg, episode: dict, frames: Sequence[int], env=None, colour_mode: str = "hue",
                       on_frame=None) -> list[PerturbedAt]:
    """For each raw frame ``t`` of ``frames`` (see :func:`sweep_frames`): the surprise trace of
    ``episode`` (a :func:`lewm.data.load_episode` dict) recoloured from t on (``colour_mode``) and,
    with ``env`` and states, teleported from t on (the mirror jump of :func:`teleport`, bounds = the
    episode's state range). ``on_frame(i)`` is called after each frame (a progress bar)."""
    fn = "perturbation_sweep"
    chk.model(fn, model)
    chk.config(fn, cfg)
    chk.episode_dict(fn, episode, "episode", ("pixels", "action"))  # a missing key was a KeyError
    px, act = chk.frames(fn, episode["pixels"], "episode['pixels']"), _np(episode["action"])  # (L, S, S, 3), (L, A)
    states = episode.get("state")
    if env is not None and states is not None:
        chk.renderer(fn, env)
    if on_frame is not None and not callable(on_frame):
        raise TypeError(f"{fn}(on_frame=...) must be a callable (i) or None, got {type(on_frame).__name__}")
    out = []
    # None was "not iterable", 7.9 silently frame 7; out of range was an IndexError after the first frames' work
    frames = chk.indices(fn, "frames", frames, len(px), what="frames", hint=", e.g. sweep_frames(L, cfg)")
    for i, t in enumerate(frames):
        t = int(t)
        pc = colour_change(px, t, colour_mode)
        rec = PerturbedAt(t=t, colour=surprise_trace(model, pc, act, cfg), colour_frame=pc[t])
        if env is not None and states is not None:
            pt, _ = teleport(px, states, t, env, goal_state=episode.get("goal_state"))
            rec.teleport, rec.teleport_frame = surprise_trace(model, pt, act, cfg), pt[t]
        out.append(rec)
        if on_frame is not None:
            on_frame(i)
    return out
