"""Argument checks of the dynamics / surprise / perturbation / episode-failure instruments.

Each check runs once per call, at the instrument's entry, and raises one ValueError (TypeError for a
wrong type) naming the function and the argument, instead of a silently wrong result (float frames cast
to uint8 zeros, 2.5 truncated to 2, a negative frame read from the end) or an error from numpy deep
inside. Shared checkers (whole numbers, configs) come from :mod:`lewm._api_checks`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from .. import _api_checks as ck
from ._common import _unmasked


def _arr(x):
    """``x`` as a numpy array without a dtype cast (a tensor is detached and moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(_unmasked(x))


def frames(fn: str, pixels, name: str = "pixels") -> np.ndarray:
    """Episode frames (L, S, S, 3) as uint8. Float frames are refused, as
    :func:`lewm.diagnostics.encode_frames` refuses them (0..1 frames were cast to uint8 0s and 1s: the
    latents of black frames, without a word); integer frames must lie in 0..255; one frame (S, S, 3) was
    read as S frames of (S, 3)."""
    try:
        a = _arr(pixels)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{fn}({name}=...) must be uint8 frames (L, S, S, 3), got {type(pixels).__name__} ({e})") from None
    if pixels is None or a.dtype.kind not in "biuf":
        raise TypeError(f"{fn}({name}=...) must be uint8 frames (L, S, S, 3), got "
                        f"{type(pixels).__name__ if a.dtype.kind == 'O' else a.dtype}")
    if a.ndim == 3 and a.shape[-1] == 3:
        raise ValueError(f"{fn}({name}=...) must be frames (L, S, S, 3) (one episode), got one frame {a.shape} "
                         f"(one frame: {name}[None])")
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"{fn}({name}=...) must be frames (L, S, S, 3) with 3 colour channels last, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind in "bf":
        raise ValueError(f"{fn}({name}=...): expected uint8 frames (0..255), got {a.dtype}; convert with "
                         f"(frames * 255).round().astype(np.uint8) if they are floats in [0, 1]")
    if a.size and (a.min() < 0 or a.max() > 255):  # would wrap around silently
        raise ValueError(f"{fn}({name}=...): expected uint8 frames (0..255), got {a.dtype} values in "
                         f"{a.min()}..{a.max()}")
    return a.astype(np.uint8)


def indices(fn: str, name: str, value, L: int, what: str | None = None, hint: str = "") -> np.ndarray:
    """Frame indices (n,) as ints in 0..L-1. None, a single number or a string is a TypeError; 2.5 (was
    truncated), 2-D arrays or True a ValueError; an index outside the episode a ValueError that starts
    with ``what`` (default ``fn(name=...)``): -1 was silently the last frame, 100 an IndexError."""
    try:
        f = _arr(value)
    except (TypeError, ValueError, RuntimeError):  # ragged lists
        f = np.asarray(None, dtype=object).reshape(1)
    if value is None or isinstance(value, (str, bytes, Mapping)) or f.ndim == 0:
        raise TypeError(f"{fn}({name}=...) must be a list of frame indices (whole numbers in 0..{L - 1}{hint}), "
                        f"got {value!r:.60}")
    if f.ndim != 1 or (f.size and f.dtype.kind not in "iu"):
        raise ValueError(f"{fn}({name}=...) must be a 1-D list of whole frame indices in 0..{L - 1}, got {value!r:.60}")
    bad = f[(f < 0) | (f >= L)]
    if bad.size:
        raise ValueError(f"{what or f'{fn}({name}=...)'}: {bad[:5].tolist()} outside the episode's {L} frames "
                         f"(0..{L - 1})")
    return f.astype(np.int64)


def index(fn: str, name: str, value, lo: int, hi: int | None, what: str | None = None) -> int:
    """One frame index in lo..hi: a non-whole number (2.5 was truncated or a slice error, True frame 1, None an
    int() error) is a TypeError naming ``fn(name=...)``; an index out of range a ValueError (``what``: its
    message, else ``fn(name=...) must be in [lo, hi]``)."""
    span = f"{lo}..{hi}" if hi is not None else f">= {lo}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}({name}=...) must be a whole frame index {'in ' * (hi is not None)}{span}, got {value!r:.60}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(what or f"{fn}({name}=...) must be a frame index {'in ' * (hi is not None)}{span}, got {value!r}")
    return int(value)


def numbers(fn: str, name: str, value, *, ndim: int | None = 1, finite: bool = True, nonneg: bool = False,
            shape_hint: str = "a list of numbers") -> np.ndarray:
    """Real numbers as float64 (numeric strings such as '1' and None are refused: numpy read '1' as 1.0 and
    None as NaN); ``ndim``: required number of dimensions; ``finite``: NaN/inf refused; ``nonneg``: < 0
    refused."""
    value = _unmasked(value, f"{fn}({name}=...)")
    try:
        a = _arr(value)
    except (TypeError, ValueError, RuntimeError):
        a = np.asarray(None, dtype=object)
    if value is None or a.dtype.kind not in "iuf":
        raise ValueError(f"{fn}({name}=...) must be {shape_hint}, got {value!r:.60}")
    a = a.astype(np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}({name}=...) must be {shape_hint} ({ndim}-D), got shape {a.shape}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{fn}({name}=...) holds NaN/inf at {np.flatnonzero(~np.isfinite(a.reshape(-1)))[:5].tolist()}; "
                         f"pass finite values")
    if nonneg and (a < 0).any():
        raise ValueError(f"{fn}({name}=...) must be >= 0, got {a[a < 0][:3].tolist()} at "
                         f"{np.flatnonzero(a.reshape(-1) < 0)[:5].tolist()}")
    return a


def renderer(fn: str, env, name: str = "env"):
    """``env.render_state``, or ``env`` itself when it is a plain callable; anything else a TypeError (None was an
    AttributeError 'render_state')."""
    if callable(getattr(env, "render_state", None)):
        return env.render_state
    if callable(env):
        return env
    raise TypeError(f"{fn}({name}=...) must have render_state(state) -> (S, S, 3) frame (an env of lewm.envs.make "
                    f"or a DotRenderer), or be such a callable, got {type(env).__name__}")


def same_size(fn: str, img: np.ndarray, px: np.ndarray) -> None:
    """A re-rendered frame's shape must be the episode's (numpy's broadcast error, unnamed, before)."""
    if img.shape != px.shape[1:]:
        raise ValueError(f"{fn}: the env renders {'x'.join(map(str, img.shape))} frames, the episode's "
                         f"are {'x'.join(map(str, px.shape[1:]))}; make the env at the episode's "
                         f"image size (image_size={px.shape[1]})")


def action_rows(fn: str, actions, L: int) -> None:
    """At most one action row per frame (80 rows for 40 frames were another episode's, the extra rows ignored);
    the other shape checks are :func:`._common.check_episode`'s."""
    try:
        a = tuple(np.shape(actions))
    except ValueError:  # ragged lists: check_episode names them
        a = ()
    if len(a) == 2 and a[0] > L:
        raise ValueError(f"{fn}(actions=...) must have shape ({L}, {a[1]}) for these {L} frames (one row per "
                         f"frame), got {a}: another episode's actions?")


def episode_dict(fn: str, ep, where: str, keys: tuple[str, ...]) -> None:
    """An episode dict (as :func:`lewm.data.load_episode` returns) holding ``keys`` (KeyError before)."""
    if not isinstance(ep, Mapping):
        raise TypeError(f"{fn}: {where} must be an episode dict (lewm.data.load_episode), got {type(ep).__name__}")
    missing = [k for k in keys if k not in ep]
    if missing:
        raise ValueError(f"{fn}: {where} lacks {', '.join(map(repr, missing))} (needs {', '.join(map(repr, keys))}"
                         f"{'' if 'state' in keys else ' and, for teleports, state'})")


def names(fn: str, name: str, value, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty list of names out of ``choices`` (one string was iterated letter by letter)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}({name}=...) must be a list of names, got the string {value!r:.40} "
                        f"(use ({value!r:.40},))")
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{fn}({name}=...) must be a list of names out of {choices}, got {value!r:.60}") from None
    bad = [v for v in out if not isinstance(v, str) or v not in choices]
    if bad:
        raise ValueError(f"unknown perturbation {bad[0]!r}; choose {' or '.join(map(repr, choices))} "
                         f"({fn}({name}=...))")
    if not out:
        raise ValueError(f"{fn}({name}=...) must name at least one of {choices}, got none (nothing to test)")
    return out


config = ck.config
whole = ck.whole


def model(fn: str, value):
    """The world model under test: a module with ``encode`` (a LeWM or a stand-in). None was named by
    :func:`lewm.diagnostics.encode_frames`, not by the function the user called."""
    return ck.world_model(fn, value, "encode")
