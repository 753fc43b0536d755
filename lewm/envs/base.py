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
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .spaces import Box


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

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None):
        if int(image_size) < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.image_size = int(image_size)
        if max_episode_steps is not None:
            self.max_episode_steps = int(max_episode_steps)
        self.terminate_on_success = bool(terminate_on_success)
        self.render_on_step = True
        """When False, ``step`` returns ``obs=None`` (physics only, e.g. for fast evaluation loops)."""
        self.state_dim = len(self.state_names)
        self.action_space = Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self.observation_space = Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.np_random = np.random.default_rng(seed)
        self.goal_state = np.zeros(self.state_dim, np.float32)
        self.elapsed_steps = 0

    # ----------------------------------------------------------------- gym-style API
    def reset(self, seed: int | None = None, state=None, goal=None) -> tuple[np.ndarray | None, dict]:
        """Start an episode. ``seed`` reseeds the env's generator (same seed ⇒ same episode);
        ``state``/``goal`` override the sampled start state / goal state."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:  # numpy's own words
                raise ValueError(f"{self.name}: seed must be a whole number >= 0 (or None), got {seed!r}")
            self.np_random = np.random.default_rng(seed)
        rng = self.np_random
        start = self._sample_state(rng) if state is None else np.asarray(state, np.float64)
        self.set_state(start)
        if goal is None:
            goal = self._sample_goal(rng, self._get_state())
        self.set_goal(goal)
        self.elapsed_steps = 0
        st = self.get_state()
        obs = self.render() if self.render_on_step else None
        return obs, {"state": st, "goal_state": self.goal_state.copy(), "success": self.is_success(st),
                     "distance": self.success_distance(st, self.goal_state)}

    def step(self, action) -> tuple[np.ndarray | None, float, bool, bool, dict[str, Any]]:
        try:
            a = np.array(action, dtype=np.float64)
        except (TypeError, ValueError):
            a = None
        if a is None or a.size != self.action_dim or a.ndim > 1:  # "cannot reshape array of size 3 into shape (2,)"
            raise ValueError(f"{self.name}: action must be {self.action_dim} numbers in [-1, 1], got "
                             f"{'shape ' + str(a.shape) if a is not None else repr(action)[:60]}")
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
        """uint8 (S, S, 3) image of an arbitrary ``state`` (the env itself is not disturbed)."""
        return self._draw(np.asarray(state, np.float64).reshape(self.state_dim))

    def get_state(self) -> np.ndarray:
        """float32 (state_dim,) true state, components named by ``state_names``."""
        return np.asarray(self._get_state(), np.float32)

    def set_state(self, state) -> None:
        """Restore a state exactly: ``get_state()`` afterwards returns the same float32 vector."""
        s = np.asarray(state, np.float64).reshape(-1)
        if s.shape != (self.state_dim,):
            raise ValueError(f"{self.name}: state must have {self.state_dim} values {self.state_names}, got {s.shape}")
        if not np.isfinite(s).all():  # a NaN state renders and steps without a word otherwise
            raise ValueError(f"{self.name}: state must be finite, got {s.tolist()}")
        self._set_state(s)

    def set_goal(self, goal_state) -> None:
        g = np.asarray(goal_state, np.float32).reshape(-1)
        if g.shape != (self.state_dim,):
            raise ValueError(f"{self.name}: goal must have {self.state_dim} values {self.state_names}, got {g.shape}")
        if not np.isfinite(g).all():
            raise ValueError(f"{self.name}: goal must be finite, got {g.tolist()}")
        self.goal_state = g.copy()

    def is_success(self, state=None, goal=None) -> bool:
        s = self.get_state() if state is None else np.asarray(state, np.float64)
        g = self.goal_state if goal is None else np.asarray(goal, np.float64)
        return bool(self.success_distance(s, g) < self.success_threshold)

    def success_distance(self, state, goal) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def valid_states(self, states) -> np.ndarray:
        """(N,) bool: which of ``states`` (N, Q) the simulator can be in (default: all)."""
        return np.ones(len(np.asarray(states).reshape(-1, self.state_dim)), bool)

    def probe_quantities(self, states) -> dict[str, np.ndarray]:
        """Extra probe targets derived from ``states`` (N, Q): {name: (N,)}. Angles wrap at ±π, so a
        probe on a raw angle measures nothing; envs with angles return their cos/sin (and other
        smooth readouts, e.g. Reacher's fingertip). Default: none."""
        return {}

    def regions(self, states) -> tuple[np.ndarray, tuple[str, ...]] | None:
        """Named parts of the state space that a map may treat differently (e.g. the two rooms):
        ``(labels (N,) int, names)`` for ``states`` (N, Q), or None (default: one region)."""
        return None

    def path_distance(self, states, goal) -> np.ndarray:
        """(N,) distance to go from each of ``states`` to ``goal`` (default: the success distance;
        environments with obstacles override it with the shortest path)."""
        return np.array([self.success_distance(s, goal) for s in np.asarray(states)], np.float64)

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
