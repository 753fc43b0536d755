"""Perturbations for the surprise test: teleports and colour changes of recorded episodes.

:func:`teleport` moves position components of the state from a frame on and re-renders the frames
(with :func:`renderer_for`'s renderer or an env's ``render_state``); :func:`render_mismatch` checks
that the renderer reproduces the recording; :func:`colour_change` recolours frames.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import lewm.diagnostics._dyn_checks as chk
from ._common import ArrayLike, _np


def default_teleport_dims(state_names: Sequence[str]) -> list[int]:
    """The position components a teleport moves: the object's (block_x/y) if there is one,
    else the agent's (agent_x/y), else the first two components."""
    if isinstance(state_names, (str, bytes)):  # 'agent_x,agent_y' was iterated letter by letter
        raise TypeError(f"state_names must be a sequence of names, not one string {state_names!r:.60} "
                        f"(a file's attribute: split it on commas)")
    try:
        names = list(state_names)
    except TypeError:  # None was "'NoneType' object is not iterable"
        raise TypeError(f"default_teleport_dims(state_names=...) must be a sequence of names, got "
                        f"{type(state_names).__name__}") from None
    for pair in (("block_x", "block_y"), ("agent_x", "agent_y"), ("x", "y")):
        if all(p in names for p in pair):
            return [names.index(p) for p in pair]
    return list(range(min(2, len(names))))


class DotRenderer:
    """``render_state`` for :mod:`lewm.synthetic` files (state = dot xy in [0, 1])."""

    state_names = ("x", "y")

    def __init__(self, image_size: int):
        from ._common import _whole
        self.image_size = _whole(image_size, "DotRenderer: image_size", lo=2)  # 0 drew 0x0 images

    def render_state(self, state) -> np.ndarray:
        from ..synthetic import dot_frames
        try:
            s = np.asarray(state, np.float32).reshape(1, -1)[:, :2]
        except (TypeError, ValueError):
            s = np.zeros((1, 0))
        if s.shape[1] < 2 or not np.isfinite(s).all():  # NaN drew a dot somewhere, without a word
            raise ValueError(f"DotRenderer.render_state: state must start with 2 finite numbers (x, y), got {state!r}")
        return dot_frames(s, self.image_size)[0]


def renderer_for(env_name: str, image_size: int):
    """An object with ``render_state``/``state_names`` for a data file's env, or None.

    Registered environments come from :func:`lewm.envs.make`; ``synthetic_dot`` files get a
    :class:`DotRenderer`.
    """
    if env_name is not None and not isinstance(env_name, str):  # ['two_room'] was None, as for an unknown env
        raise TypeError(f"renderer_for(env_name=...) must be an environment name (a string) or None, got "
                        f"{env_name!r:.60}")
    if env_name == "synthetic_dot":
        return DotRenderer(image_size)
    if not env_name:
        return None
    try:
        from ..envs import list_envs, make
    except ImportError:
        return None
    if env_name not in list_envs():
        return None
    try:
        return make(env_name, image_size=image_size)
    except ValueError as e:  # a known env at a size it cannot draw (was: None, as for an unknown env)
        raise ValueError(f"renderer_for({env_name!r}): {e}") from None


def _renderer(env, fn: str = "teleport") -> Callable[[np.ndarray], np.ndarray]:
    return chk.renderer(fn, env)  # None was an AttributeError 'render_state'


class _goal_drawn:
    """Context: ``env.goal_state`` set to ``goal`` (when both exist), restored on exit, so frames
    re-rendered from states show the episode's own target (Reacher draws its goal)."""

    def __init__(self, env, goal):
        self.env, self.goal = env, goal

    def __enter__(self):
        self.old = getattr(self.env, "goal_state", None)
        if self.goal is not None and self.old is not None:
            self.env.goal_state = _np(self.goal).reshape(np.shape(self.old)).copy()
        return self

    def __exit__(self, *exc):
        if self.goal is not None and self.old is not None:
            self.env.goal_state = self.old
        return False


def render_mismatch(pixels: ArrayLike, states: ArrayLike, env, frames: Sequence[int],
                    goal_state: ArrayLike | None = None) -> float:
    """Fraction of pixels (0–1) that differ by more than 8/255 in some channel between recorded
    ``pixels[frames]`` and the same states re-rendered by ``env``: 0 when the renderer reproduces the
    recording (a teleport then changes only what it moves); > 0 when something else differs (e.g. a
    target drawn elsewhere: a small dot is ~0.5% of a 64² frame)."""
    fn = "render_mismatch"
    render = _renderer(env, fn)
    px = chk.frames(fn, pixels)  # float frames were cast to uint8 0s and 1s without a word
    st = chk.numbers(fn, "states", states, ndim=None, finite=False, shape_hint="states (L, Q)")
    q = getattr(env, "state_dim", None)
    if st.ndim != 2 or len(st) != len(px) or (q is not None and st.shape[1] != q):
        want = f"({len(px)}, {q if q is not None else 'Q'})"  # was the env's reshape message for one row
        raise ValueError(f"render_mismatch: states must be {want}: one state of the env's {q or 'Q'} components "
                         f"per frame, got {st.shape}")
    frames = [int(i) for i in chk.indices(fn, "frames", frames, len(px), what="render_mismatch: frames")]
    d = []
    with _goal_drawn(env, goal_state):
        for i in frames:
            img = np.asarray(render(st[i]))
            chk.same_size(fn, img, px)  # was numpy's "operands could not be broadcast together"
            d.append((np.abs(img.astype(np.int16) - px[i].astype(np.int16)).max(-1) > 8).mean())
    return float(np.mean(d)) if d else 0.0


def teleport(pixels: ArrayLike, states: ArrayLike, t: int, env, delta: ArrayLike | None = None,
             dims: Sequence[int] | None = None, bounds: tuple[ArrayLike, ArrayLike] | None = None,
             goal_state: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Teleport at raw frame ``t``: from frame t on, the position components ``dims`` of the state
    are shifted by ``delta`` (clipped to ``bounds``) and the frames are re-rendered.

    pixels (L, S, S, 3), states (L, Q); ``env`` has ``render_state(state) -> (S, S, 3)`` (or is
    such a callable) and, when ``dims`` is None, ``state_names`` (see :func:`default_teleport_dims`).
    ``delta`` None = jump to the mirror image of the position at t inside ``bounds``
    (low + high − s_t). ``bounds`` = (low (Q,), high (Q,)) clips the moved states; when None, an
    explicit ``delta`` is not clipped and the default mirror uses the range of ``states``.
    ``goal_state`` (Q,): the episode's goal, for envs that draw their target (set on ``env`` while
    rendering, then restored). Returns (new pixels (L, S, S, 3) uint8, new states (L, Q)). Frames
    before t are untouched.
    """
    fn = "teleport"
    render = _renderer(env, fn)
    px = chk.frames(fn, pixels).copy()  # (L, S, S, 3); float frames were cast to uint8 0s and 1s
    st = chk.numbers(fn, "states", states, ndim=None, finite=False, shape_hint="states (L, Q)").copy()  # (L, Q)
    t = chk.index(fn, "t", t, 1, len(px) - 1,  # 10.5 was an IndexError, None a '<' error
                  f"teleport time {t} must be inside the episode (1..{len(px) - 1})")
    if st.ndim != 2 or len(st) != len(px):
        raise ValueError(f"teleport: states must be ({len(px)}, Q), one state per frame, got {st.shape}")
    q, name = getattr(env, "state_dim", None), getattr(env, "name", None) or type(env).__name__
    if isinstance(q, (int, np.integer)) and st.shape[1] != q:  # another env's episode: an IndexError deep inside
        raise ValueError(f"teleport: the states have {st.shape[1]} columns, {name}'s state has {q} "
                         f"({', '.join(getattr(env, 'state_names', ()))}); give the env the episode was recorded in")
    if dims is None:
        dims = default_teleport_dims(getattr(env, "state_names", [f"s{i}" for i in range(st.shape[1])]))
    dims = list(dims)
    if not dims or not all(isinstance(d, (int, np.integer)) and 0 <= d < st.shape[1] for d in dims):
        raise ValueError(f"teleport: dims must be state columns in 0..{st.shape[1] - 1}, got {dims!r:.60}")
    clip = bounds is not None or delta is None
    lo, hi = (st.min(0), st.max(0)) if bounds is None else _bounds(bounds, st.shape[1])
    if delta is None:
        delta = lo[dims] + hi[dims] - 2 * st[t, dims]  # mirror image of s_t
    delta = chk.numbers(fn, "delta", delta, ndim=None, finite=False, shape_hint="one shift per dim in dims")
    if delta.shape != (len(dims),):  # [1, 2, 3] or 0.1 was numpy's "cannot reshape array", unnamed
        raise ValueError(f"teleport(delta=...) must give one shift per dim in dims ({len(dims)}), got "
                         f"{delta.size if delta.ndim else 'one number'}{f' of shape {delta.shape}' if delta.ndim > 1 else ''}")
    if not np.isfinite(delta).all():  # NaN positions were rendered without a word
        raise ValueError(f"teleport delta must be finite, got {delta.tolist()}")
    moved = st[t:, dims] + delta  # (L-t, |dims|)
    st[t:, dims] = np.clip(moved, lo[dims], hi[dims]) if clip else moved
    with _goal_drawn(env, goal_state):
        for i in range(t, len(px)):
            img = np.asarray(render(st[i]))
            chk.same_size(fn, img, px)  # was numpy's "could not broadcast input array from shape ..."
            px[i] = img
    return px, st.astype(np.float32)


def _bounds(bounds, q: int) -> tuple[np.ndarray, np.ndarray]:
    """teleport(bounds=...) as (low (Q,), high (Q,)) with low <= high ([0], [1] was an IndexError, low > high
    clipped every moved state to low without a word)."""
    if isinstance(bounds, (str, bytes)) or np.ndim(bounds) == 0 or len(bounds) != 2:
        raise TypeError(f"teleport(bounds=...) must be (low (Q,), high (Q,)) with Q = {q}, got {bounds!r:.60}")
    lo, hi = (chk.numbers("teleport", f"bounds[{j}]", b, ndim=None, finite=False, shape_hint=f"({q},) numbers")
              for j, b in enumerate(bounds))
    if lo.shape != (q,) or hi.shape != (q,):
        raise ValueError(f"teleport(bounds=...) must be (low (Q,), high (Q,)) with Q = {q}, got shapes {lo.shape} "
                         f"and {hi.shape}")
    if np.isnan(lo).any() or np.isnan(hi).any() or (lo > hi).any():
        bad = np.flatnonzero(~(lo <= hi))[:5].tolist()
        raise ValueError(f"teleport(bounds=...) low must be <= high (and not NaN), got low {lo[bad].tolist()} and "
                         f"high {hi[bad].tolist()} at state column(s) {bad}")
    return lo, hi


def colour_change(pixels: ArrayLike, t: int, mode: str = "hue") -> np.ndarray:
    """Change the colours of frames t.. of pixels (L, S, S, 3) uint8.

    ``hue``: rotate the RGB channels (R→G→B→R), so grey/white/black stay and coloured things
    change colour; ``invert``: 255 − pixel (negative image); ``gray``: luminance only.
    """
    if not isinstance(mode, str) or mode not in ("hue", "invert", "gray"):
        raise ValueError(f"unknown colour change {mode!r}; choose 'hue', 'invert' or 'gray'")
    # None was an int() error, one frame (S, S, 3) read as S frames, 1 channel an IndexError, 0..1 floats cast to 0s and 1s
    px = chk.frames("colour_change", pixels).copy()  # (L, S, S, 3)
    # t=100 changed nothing, t=-1 only the last frame, silently; 10.7 was a slice error, True frame 1
    t = chk.index("colour_change", "t", t, 0, len(px) - 1,
                  f"colour change time {t} must be inside the episode (0..{len(px) - 1})")
    if mode == "hue":
        px[t:] = px[t:][..., [2, 0, 1]]  # new G = old R, new B = old G, new R = old B
    elif mode == "invert":
        px[t:] = 255 - px[t:]
    elif mode == "gray":
        g = (px[t:].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(np.uint8)
        px[t:] = g[..., None]
    else:
        raise ValueError(f"unknown colour change {mode!r}; choose 'hue', 'invert' or 'gray'")
    return px
