"""The common environment API (gymnasium-style, without the gymnasium dependency).

Every environment renders RGB ``uint8`` images of ``image_size``² itself and exposes its true
physical state (``get_state``/``set_state``), so probes, surprise tests and plots have ground truth.

Subclasses set the class attributes ``name``, ``state_names``, ``action_dim``,
``max_episode_steps`` and implement the underscored hooks:

- ``_sample_state(rng)`` / ``_sample_goal(rng, state)`` → float64 (state_dim,)
- ``_get_state()`` / ``_set_state(state)``  (the simulator's true state)
- ``_apply_action(action)``                  (advance one control step; action clipped to [-1, 1])
- ``_draw(state)``                           → uint8 (S, S, 3); must not change the simulator
- ``success_distance(state, goal)``          → float (and ``success_threshold``)

and, where not every finite state is possible, ``valid_states`` (with ``world``, its words) and
``_render_problem``: ``set_state``/``reset``/``set_goal`` refuse states ``valid_states`` refuses and
``render_state`` states it cannot draw, each with one ValueError naming the state and the world.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import numbers
from .spaces import Box

MAX_IMAGE_SIZE = 1024
"""Largest ``image_size`` an environment renders (the model's own limit, ``ModelConfig.image_size``):
10**6 was a 2.7 TiB MemoryError in the constructor."""


class ResetNeeded(ValueError, RuntimeError):
    """``step()`` on an environment that has no start state yet (neither ``reset()`` nor ``set_state()``)."""


def check_seed(who: str, seed) -> None:
    """None or a whole number >= 0, else one ValueError naming ``who`` (not numpy's "expected
    non-negative integer")."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{who}: seed must be a whole number >= 0 (or None), got {seed!r}")


def check_flag(who: str, name: str, value) -> bool:
    """A real bool (numpy's too): the string 'no' was True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_supersample(who: str, supersample) -> int:
    """None (2x) or a whole number in 1..8 (0 was 2x without a word, -1 a PIL error)."""
    if supersample is None:
        return 2
    if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= 8:
        raise ValueError(f"{who}: supersample must be a whole number in 1..8 (or None for 2), got {supersample!r}")
    return int(supersample)


def _action_array(who: str, action) -> np.ndarray | None:
    """``action`` as a float64 array, or None when it is no array of numbers; one ValueError for text, complex
    numbers, None and masked values (:func:`._checks.numbers`; a tensor that requires grad is detached)."""
    return numbers(who, "action", action, "numbers in [-1, 1]")


def _fmt(s: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(s, np.float64).reshape(-1)) + "]"


class Env:
    name: str = "base"
    state_names: tuple[str, ...] = ()
    action_dim: int = 2
    max_episode_steps: int = 100
    success_threshold: float = 0.0
    """``is_success`` is ``success_distance(state, goal) < success_threshold`` unless overridden."""
    state_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """Per-component (low, high) of the reachable state (grid plots, landscapes); None = unknown."""
    landscape_dims: tuple[int, int] = (0, 1)
    """The two state components a 2-D goal-cost landscape varies (the rest come from the goal)."""
    canvas: float | None = None
    """Side of the drawing canvas when the first two state components are a position on it (in
    canvas units, whatever the rendered size: Two-Room's 224); None = the state is not a position."""
    world: str = ""
    """In words, which states ``valid_states`` accepts (quoted when a start or goal state is refused)."""

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None):
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 8:
            # 8.5 was drawn at 8 without a word, and 7.5 said "must be >= 8"
            raise ValueError(f"image_size must be a whole number of pixels >= 8, got {image_size!r}")
        if image_size > MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be at most {MAX_IMAGE_SIZE} pixels (the model's limit), got {image_size!r}")
        self.image_size = int(image_size)
        if max_episode_steps is not None:  # 0, -3 and 2.7 (kept as 2) were taken
            if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)) \
                    or max_episode_steps < 1:
                raise ValueError(f"{self.name}: max_episode_steps must be a whole number >= 1 (or None for "
                                 f"{type(self).max_episode_steps}), got {max_episode_steps!r}")
            self.max_episode_steps = int(max_episode_steps)
        self.terminate_on_success = check_flag(self.name, "terminate_on_success", terminate_on_success)
        check_seed(self.name, seed)  # was numpy's "expected non-negative integer"
        self.render_on_step = True
        """When False, ``step`` returns ``obs=None`` (physics only, e.g. for fast evaluation loops)."""
        self.state_dim = len(self.state_names)
        self.action_space = Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self.observation_space = Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.np_random = np.random.default_rng(seed)
        self.goal_state = self._no_goal = np.zeros(self.state_dim, np.float32)  # replaced by any goal set
        self.elapsed_steps = 0
        self._has_state = False  # step() before reset() / set_state() stepped a default state (api39)

    # ----------------------------------------------------------------- gym-style API
    def reset(self, seed: int | None = None, state=None, goal=None) -> tuple[np.ndarray | None, dict]:
        """Start an episode. ``seed`` reseeds the env's generator (same seed ⇒ same episode);
        ``state``/``goal`` override the sampled start state / goal state (both must be states the
        simulator can be in: ``valid_states``; else one ValueError naming the state and the world)."""
        check_seed(self.name, seed)  # numpy's own words otherwise
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        rng = self.np_random
        start = self._sample_state(rng) if state is None else state
        self._start(start)
        if goal is None:
            goal = self._sample_goal(rng, self._get_state())
        self.set_goal(goal)
        self.elapsed_steps = 0
        st = self.get_state()
        obs = self.render() if self.render_on_step else None
        return obs, {"state": st, "goal_state": self.goal_state.copy(), "success": self.is_success(st),
                     "distance": self.success_distance(st, self.goal_state)}

    def step(self, action) -> tuple[np.ndarray | None, float, bool, bool, dict[str, Any]]:
        """One control step. ``truncated`` is True from step ``max_episode_steps`` on. Stepping past it is
        allowed and keeps ``truncated`` True (unlike gymnasium's ``TimeLimit``, which leaves it undefined):
        collect's ``--episode-len`` and the planner's ``budget`` set their own episode length."""
        a = _action_array(self.name, action)
        if a is None or a.size != self.action_dim or a.ndim > 1:  # "cannot reshape array of size 3 into shape (2,)"
            raise ValueError(f"{self.name}: action must be {self.action_dim} numbers in [-1, 1], got "
                             f"{'shape ' + str(a.shape) if a is not None else repr(action)[:60]}")
        if not getattr(self, "_has_state", True):  # was: a default start stepped towards a goal no reset drew
            raise ResetNeeded(f"{self.name}: call reset() (or set_state(...)) before step(): the environment "
                              f"has no start state or goal yet")
        a = a.reshape(self.action_dim)
        if np.isnan(a).any():
            a[np.isnan(a)] = 0.0  # NaN actions act as zero (±inf is clipped to ±1)
        a = np.minimum(np.maximum(a, -1.0), 1.0)
        self._apply_action(a)
        self.elapsed_steps += 1
        st = self.get_state()
        dist = self.success_distance(st, self.goal_state)
        success = self.is_success(st)
        terminated = bool(success and self.terminate_on_success)
        truncated = self.elapsed_steps >= self.max_episode_steps
        obs = self.render() if self.render_on_step else None
        info = {"state": st, "success": success, "distance": dist, "step": self.elapsed_steps}
        return obs, -float(dist), terminated, truncated, info

    def render(self) -> np.ndarray:
        """uint8 (S, S, 3) image of the current state."""
        return self._draw(self._get_state())

    def render_state(self, state) -> np.ndarray:
        """uint8 (S, S, 3) image of an arbitrary ``state`` (the env itself is not disturbed). The state
        need not be one the simulator can be in (a landscape grid crosses walls), but it must be
        drawable: a NaN or off-canvas state was the empty background without a word."""
        s = self._as_state(state, "render_state: state")
        problem = self._render_problem(s)
        if problem:
            raise ValueError(f"{self.name}: render_state: state {_fmt(s)} {problem}")
        return self._draw(s)

    def get_state(self) -> np.ndarray:
        """float32 (state_dim,) true state, components named by ``state_names``."""
        return np.asarray(self._get_state(), np.float32)

    def set_state(self, state) -> None:
        """Restore a state exactly: ``get_state()`` afterwards returns the same float32 vector. The
        state must be one the simulator can be in (``valid_states``, described by ``world``). On an env
        that has no goal yet (no ``reset()`` or ``set_goal()``), a goal is drawn from the env's generator as
        ``reset(state=...)`` draws one, so ``step`` reports the distance to a goal in the world (it was
        the distance to ``[0, 0]``, a point off the map); ``set_goal`` picks another."""
        self._start(state)
        if self.goal_state is getattr(self, "_no_goal", None):  # still the placeholder [0, 0]: no goal was set
            self.set_goal(self._sample_goal(self.np_random, self._get_state()))

    def _start(self, state) -> None:
        s = self.check_in_world(self._as_state(state, "state"), "state")
        self._set_state(s)
        self._has_state = True

    def set_goal(self, goal_state) -> None:
        """The goal state: a state the simulator can be in (as ``set_state``)."""
        g = self.check_in_world(self._as_state(goal_state, "goal"), "goal")
        self.goal_state = g.astype(np.float32)

    def is_success(self, state=None, goal=None) -> bool:
        s = self.get_state() if state is None else state
        g = self.goal_state if goal is None else goal
        return bool(self.success_distance(s, g) < self.success_threshold)

    # ----------------------------------------------------------------- argument checks
    def _as_state(self, state, what: str) -> np.ndarray:
        """``state`` as a float64 (state_dim,) vector, or one ValueError naming ``what`` (not numpy's
        "could not convert string to float" or a reshape error; text, None and masked values are refused,
        a tensor that requires grad is read)."""
        expect = f"{self.state_dim} values {self.state_names}"
        s = None if isinstance(state, (str, bytes)) else numbers(self.name, what, state, f"numbers: {expect}")
        s = None if s is None else s.reshape(-1)
        if s is None or s.shape != (self.state_dim,):
            got = f"{s.shape}" if s is not None else f"{state!r:.60}"
            raise ValueError(f"{self.name}: {what} must have {expect}, got {got}")
        return s

    def _as_states(self, states, what: str, finite: bool = True) -> np.ndarray:
        """``states`` (N, state_dim) (one state (state_dim,) is N = 1) as float64 (N, state_dim), or one ValueError
        naming ``what`` ("valid_states: states"): a wrong width was reshaped into other rows or cut to the first
        columns without a word. ``finite``: NaN/inf refused too (``valid_states`` answers False for them)."""
        Q = self.state_dim
        expect = f"(N, {Q}) {self.state_names}"
        s = numbers(self.name, what, states, f"numbers {expect}")
        if s is None or (s.size and (s.ndim == 0 or s.shape[-1] != Q)):
            got = f"shape {s.shape}" if s is not None else f"{states!r:.60}"
            raise ValueError(f"{self.name}: {what} must be {expect}, got {got}")
        s = s.reshape(-1, Q)
        if finite and not np.isfinite(s).all():
            i = int(np.flatnonzero(~np.isfinite(s).all(1))[0])
            raise ValueError(f"{self.name}: {what} must be finite, got row {i} = {s[i].tolist()}")
        return s

    def check_in_world(self, s: np.ndarray, what: str) -> np.ndarray:
        """``s`` unchanged, or one ValueError: NaN/inf, or a state ``valid_states`` refuses (a dot at
        (1e6, -1e6) or inside Two-Room's wall was accepted and drawn nowhere / stepped through walls)."""
        if not np.isfinite(s).all():  # a NaN state renders and steps without a word otherwise
            raise ValueError(f"{self.name}: {what} must be finite, got {s.tolist()}")
        if not bool(np.asarray(self.valid_states(s[None])).reshape(-1)[0]):
            raise ValueError(f"{self.name}: {what} {_fmt(s)} is outside the world: {self.world or 'valid_states refuses it'}")
        return s

    def _state_goal(self, state, goal) -> tuple[np.ndarray, np.ndarray]:
        """(state, goal) as finite float64 vectors for a distance (was an IndexError for a short one,
        and a NaN goal made ``is_success`` False without a word)."""
        s, g = self._as_state(state, "state"), self._as_state(goal, "goal")
        for what, v in (("state", s), ("goal", g)):
            if not np.isfinite(v).all():
                raise ValueError(f"{self.name}: {what} must be finite, got {v.tolist()}")
        return s, g

    def _render_problem(self, s: np.ndarray) -> str | None:
        """Why ``s`` cannot be drawn (None: it can). Default: NaN/inf."""
        return None if np.isfinite(s).all() else "must be finite (a NaN state draws nothing)"

    def success_distance(self, state, goal) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def valid_states(self, states) -> np.ndarray:
        """(N,) bool: which of ``states`` (N, Q) the simulator can be in (default: the finite ones)."""
        return np.isfinite(self._as_states(states, "valid_states: states", finite=False)).all(1)

    def probe_quantities(self, states) -> dict[str, np.ndarray]:
        """Extra probe targets derived from ``states`` (N, Q): {name: (N,)}. Angles wrap at ±π, so a
        probe on a raw angle measures nothing; envs with angles return their cos/sin (and other
        smooth readouts, e.g. Reacher's fingertip). Default: none."""
        self._as_states(states, "probe_quantities: states", finite=False)
        return {}

    def regions(self, states) -> tuple[np.ndarray, tuple[str, ...]] | None:
        """Named parts of the state space that a map may treat differently (e.g. the two rooms):
        ``(labels (N,) int, names)`` for ``states`` (N, Q), or None (default: one region)."""
        self._as_states(states, "regions: states")
        return None

    def clip_state(self, state) -> np.ndarray:
        """``state`` (float64 (state_dim,)) moved onto the simulator's simple bounds: what the simulator itself
        would make of it (Reacher: angles wrapped, joint speeds clipped). Default: unchanged. Obstacles
        (Two-Room's wall) are :func:`lewm.planning.clamp_state`'s business. A state of another length, or
        NaN/inf, is refused (it was returned unchanged)."""
        return self._finite_state(state, "clip_state: state").copy()

    def _finite_state(self, state, what: str) -> np.ndarray:
        s = self._as_state(state, what)
        if not np.isfinite(s).all():
            raise ValueError(f"{self.name}: {what} must be finite, got {s.tolist()}")
        return s

    def path_distance(self, states, goal) -> np.ndarray:
        """(N,) distance to go from each of ``states`` to ``goal`` (default: the success distance;
        environments with obstacles override it with the shortest path)."""
        s = self._as_states(states, "path_distance: states")
        return np.array([self.success_distance(v, goal) for v in s], np.float64)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(image_size={self.image_size}, max_episode_steps={self.max_episode_steps})"

    # ----------------------------------------------------------------- hooks
    def _sample_state(self, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_goal(self, rng: np.random.Generator, state: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _get_state(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, state: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self, state: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def wrap_angle(a):
    """Wrap angles (scalar or array) to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi
