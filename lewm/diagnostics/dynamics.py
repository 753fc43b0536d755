"""Open-loop dynamics: encoded vs imagined latents along an episode.

:func:`open_loop_dynamics` encodes ``history`` context frames, imagines the following frames with
the predictor alone (no re-encoding) and compares them with their encodings, next to the 'nothing
moves' baseline; :func:`open_loop_sweep` does it from every few start frames (what the lab's scrubber steps through);
:func:`temporal_straightness` measures how straight a latent trajectory is.
:func:`action_blocks` builds the predictor's action inputs exactly as training does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import lewm.diagnostics._dyn_checks as chk
from ._common import ArrayLike, _device_of, _eval_mode, _finite, _whole, check_episode
from .encoding import encode_frames


def action_blocks(actions: ArrayLike, frames: np.ndarray, frameskip: int, stats) -> torch.Tensor:
    """The z-scored, frameskip-blocked action blocks leaving each frame in ``frames`` (n,).

    actions (L, A) raw (row i is applied after frame i) -> (n, frameskip * A) float32, exactly as
    :class:`lewm.data.WindowDataset` builds them (NaN rows zeroed before normalising).
    """
    _whole(frameskip, "action_blocks: frameskip")  # 0 was a numpy reduction error
    if not callable(getattr(stats, "normalize", None)):  # None was an AttributeError 'normalize' at the end
        raise TypeError(f"action_blocks(stats=...) must be an ActionStats (lewm.data.ActionStats, e.g. "
                        f"lewm.data.action_stats_of(cfg)), got {type(stats).__name__}")
    # None was "object of type 'numpy.float32' has no len()"; frames [-1] silently read the last row, 2.5 an IndexError
    a = np.nan_to_num(chk.numbers("action_blocks", "actions", actions, ndim=2, finite=False,
                                  shape_hint="(L, A) numbers").astype(np.float32))  # (L, A)
    f = chk.indices("action_blocks", "frames", frames, len(a))  # (n,)
    rows = f[:, None] + np.arange(frameskip)  # (n, fs)
    if len(rows) and rows.max() >= len(a):
        raise ValueError(f"action block needs row {int(rows.max())} but the episode has {len(a)} actions")
    blk = stats.normalize(a[rows]).astype(np.float32)  # (n, fs, A)
    return torch.from_numpy(blk.reshape(len(rows), frameskip * a.shape[1]))  # (n, K); -1 was ambiguous for n = 0


@dataclass
class OpenLoopResult:
    """Encoded ("actual") vs imagined latents of the frames after the context."""

    context_frames: np.ndarray
    """(H,) raw frame indices encoded as context."""
    frames: np.ndarray
    """(P,) raw frame indices of the imagined frames."""
    actual: np.ndarray
    """(P, D) encoder latents of those frames."""
    predicted: np.ndarray
    """(P, D) open-loop predictor latents (no re-encoding along the way)."""
    error: np.ndarray
    """(P,) mean squared error per dimension at each horizon step."""
    copy_error: np.ndarray
    """(P,) the same error for the 'nothing moves' baseline (last context latent held)."""
    cosine: np.ndarray
    """(P,) cosine similarity between predicted and actual latent."""


def open_loop_dynamics(model, pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0,
                       horizon: int | None = None) -> OpenLoopResult:
    """Encode ``history`` context frames from ``start`` (every ``frameskip`` steps), imagine the
    next ``horizon`` frames with :meth:`LeWM.rollout` and compare with their encodings.

    pixels (L, S, S, 3) uint8, actions (L, A) raw; ``horizon`` None = as far as the episode goes.
    """
    from ..data import action_stats_of
    fn = "open_loop_dynamics"
    chk.model(fn, model)  # None was named by encode_frames, not this function
    chk.config(fn, cfg)  # None was an AttributeError 'model' inside check_episode
    px = chk.frames(fn, pixels)  # float frames were cast to uint8 0s and 1s without a word
    chk.action_rows(fn, actions, len(px))
    check_episode(px, actions, cfg, start)
    H, fs = cfg.model.history, cfg.model.frameskip
    L = len(px)
    avail = (L - 1 - start) // fs - (H - 1)
    if horizon is not None and (isinstance(horizon, (bool, np.bool_)) or not isinstance(horizon, (int, np.integer))):
        raise TypeError(f"{fn}(horizon=...) must be a whole number >= 1, or None (as far as the episode goes), "
                        f"got {horizon!r:.60}")  # 2.7 was truncated to 2, True 1 step, '3' 3 steps
    horizon = avail if horizon is None else int(horizon)
    if horizon < 1 or horizon > avail:
        raise ValueError(f"{fn}(horizon=...) open-loop horizon {horizon} impossible: the episode has {L} frames, "
                         f"start {start}, history {H}, frameskip {fs} (at most {max(avail, 0)} steps)")
    frames = start + fs * np.arange(H + horizon)  # (H+P,)
    z = encode_frames(model, px[frames])  # (H+P, D)
    blocks = action_blocks(actions, frames[:-1], fs, action_stats_of(cfg))  # (H+P-1, K)
    dev = _device_of(model)
    with _eval_mode(model):
        z_hist = z[None, :H].to(dev)  # (1, H, D)
        a_hist = blocks[None, :H - 1].to(dev) if H > 1 else None  # (1, H-1, K)
        pred = model.rollout(z_hist, blocks[None, H - 1:].to(dev), a_hist)[0].float().cpu()  # (P, D)
    actual = z[H:]  # (P, D)
    err = ((pred - actual) ** 2).mean(-1)  # (P,)
    copy = ((z[H - 1:H] - actual) ** 2).mean(-1)  # (P,)
    cos = F.cosine_similarity(pred, actual, dim=-1)  # (P,)
    return OpenLoopResult(context_frames=frames[:H], frames=frames[H:], actual=actual.numpy(),
                          predicted=pred.numpy(), error=err.numpy(), copy_error=copy.numpy(), cosine=cos.numpy())


def sweep_starts(length: int, cfg, max_starts: int = 40) -> np.ndarray:
    """Start frames an open-loop sweep visits in an episode of ``length`` frames: every ``frameskip``
    frames (every few blocks when there would be more than ``max_starts``), each leaving at least one
    imagined step. (n,) int, empty when the episode is too short."""
    chk.config("sweep_starts", cfg)  # None was an AttributeError 'model'
    _whole(max_starts, "sweep_starts: max_starts")  # 0 was a ZeroDivisionError
    length = _whole(length, "sweep_starts: length", lo=0)  # -5 answered [] as if merely short
    H, fs = cfg.model.history, cfg.model.frameskip
    last = length - 1 - fs * H  # the last start with one imagined step
    if last < 0:
        return np.zeros(0, int)
    stride = fs * max(1, int(np.ceil((last // fs + 1) / max_starts)))
    return np.arange(0, last + 1, stride)


def open_loop_sweep(model, pixels: ArrayLike, actions: ArrayLike, cfg, starts, horizon: int) -> list[OpenLoopResult]:
    """:func:`open_loop_dynamics` from each of ``starts``, imagining ``horizon`` steps or as many as
    the episode leaves after that start."""
    fn = "open_loop_sweep"
    chk.model(fn, model)
    chk.config(fn, cfg)
    px = chk.frames(fn, pixels)
    # None / 0 were "not iterable", 2.5 silently start 2, 2.7 steps 2
    starts = chk.indices(fn, "starts", starts, len(px), hint=", e.g. sweep_starts(len(pixels), cfg)")
    horizon = chk.whole(fn, "horizon", horizon, 1)
    H, fs, L = cfg.model.history, cfg.model.frameskip, len(px)
    return [open_loop_dynamics(model, px, actions, cfg, start=int(s),
                               horizon=min(horizon, (L - 1 - int(s)) // fs - (H - 1))) for s in starts]


def temporal_straightness(z: ArrayLike, eps: float = 1e-8) -> float:
    """Mean cosine between consecutive latent velocities v_t = z_{t+1} - z_t of z (T, D).

    1 = the trajectory is a straight line at every step; ≈ 0 for a random walk. Steps where the
    latent does not move (|v| < eps) are skipped; NaN when it never moves (a frozen latent has no
    direction). Needs at least 3 frames (two velocities to compare).
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not 0 < eps < float("inf"):
        raise ValueError(f"temporal_straightness(eps=...) must be a finite number > 0 (the smallest step that "
                         f"counts as a move), got {eps!r:.60}")
    x = chk.numbers("temporal_straightness", "z", z, ndim=None, finite=False, shape_hint="latents (T, D)")  # (T, D)
    if x.ndim != 2:
        raise ValueError(f"temporal_straightness expects latents z of shape (T, D), got {x.shape}")
    if len(x) < 3:  # was NaN without a word
        raise ValueError(f"temporal_straightness needs at least 3 frames (two velocities to compare), got {len(x)}")
    _finite(x, "temporal_straightness: the latents z")  # a NaN frame's velocities were skipped as 'not moving'
    v = np.diff(x, axis=0)  # (T-1, D)
    n = np.linalg.norm(v, axis=1)  # (T-1,)
    ok = (n[:-1] > eps) & (n[1:] > eps)
    if not ok.any():
        return float("nan")
    cos = (v[:-1] * v[1:]).sum(1) / np.maximum(n[:-1] * n[1:], eps**2)  # (T-2,)
    return float(cos[ok].mean())
