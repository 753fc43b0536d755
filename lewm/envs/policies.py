"""Data-collection policies: ``make_policy(env, kind, rng)``.

A policy is a callable ``policy(env) -> action (A,) float32`` reading the env's true state, with an
optional ``reset(env)`` to call after ``env.reset``. Kinds:

- ``"random"``: uniform in [-1, 1]^A every step;
- ``"wall_slide"`` (Two-Room): random walks of which 65% of the episodes keep pushing into the wall
  and slide along its faces (x action towards the wall with probability 0.6 per step), so the data
  holds many blocked moves at the wall; training on them straightens the latent map (README);
- ``"expert"``: a noisy scripted controller per environment, meant to give diverse but
  purposeful data (noise level and speed drawn per episode):
  - Two-Room: go to the door, through it, then to the target; on arrival pick a new target
    (other room with probability 0.6), so episodes cross rooms often;
  - PushT: pick a push direction (mostly towards the drawn target, sometimes random, with a
    lateral offset to make the block turn), walk around the block to a point behind it, push
    for a while, re-plan;
  - Reacher: PD control in joint space towards random waypoints (the first one is often the
    episode's goal), switching waypoints when reached or after a time-out.
"""
from __future__ import annotations

import math

import numpy as np

from . import pusht as _pt
from . import two_room as _tr
from .base import Env, wrap_angle


def _check_env(who: str, env, made_for: tuple[str, ...] = ()) -> None:
    """A policy is called with the env itself (was: ``policy(env.reset(...))`` failed with "'tuple' object
    has no attribute 'get_state'"), and an expert with an env of the kind it was made for (``made_for``;
    a PushT expert called with a Two-Room env was an IndexError in its state)."""
    if not isinstance(env, Env):
        raise TypeError(f"{who}: env must be the environment (lewm.envs.Env) whose true state the policy reads, "
                        f"got {type(env).__name__}; call policy(env) after env.reset(...) / env.step(...), "
                        f"not with their observation")
    if made_for and env.name not in made_for:
        raise TypeError(f"{who}: env is {env.name}, expected {' or '.join(made_for)} (the environment this policy "
                        f"was made for: make_policy(env, ...) with the env you step)")


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 1e-9 else np.zeros(2)


class RandomPolicy:
    """Uniform random actions in [-1, 1]^A."""

    def __init__(self, env: Env, rng: np.random.Generator):
        self.rng, self.dim = rng, env.action_dim

    def reset(self, env: Env) -> None:
        _check_env("RandomPolicy.reset", env)
        pass

    def __call__(self, env: Env) -> np.ndarray:
        _check_env("RandomPolicy(env)", env)
        return self.rng.uniform(-1.0, 1.0, size=self.dim).astype(np.float32)


class TwoRoomWallSlide(RandomPolicy):
    """Uniform random actions; in a fraction ``episode_prob`` of the episodes (drawn at ``reset``),
    each step with probability ``push_prob`` replaces the x action by a push towards the wall's
    mid-line (magnitude U(0.3, 1)): the dot walks to the wall, pushes into it and slides along it."""

    def __init__(self, env: Env, rng: np.random.Generator, episode_prob: float = 0.65, push_prob: float = 0.6):
        super().__init__(env, rng)
        self.episode_prob, self.push_prob, self.active = float(episode_prob), float(push_prob), False

    def reset(self, env: Env) -> None:
        _check_env("TwoRoomWallSlide.reset", env, ("two_room",))
        self.active = bool(self.rng.random() < self.episode_prob)

    def __call__(self, env: Env) -> np.ndarray:
        _check_env("TwoRoomWallSlide(env)", env, ("two_room",))
        a = self.rng.uniform(-1.0, 1.0, size=self.dim).astype(np.float32)
        if self.active and self.rng.random() < self.push_prob:
            x = float(env.get_state()[0])
            a[0] = np.sign(_tr.MID_X - x) * self.rng.uniform(0.3, 1.0)
        return a


class TwoRoomExpert:
    """Noisy 'door, then target' navigator (a new target each time one is reached)."""

    ENVS = ("two_room",)
    ENTRY_X = (_tr.ZONE_X[0] - 4.0, _tr.ZONE_X[1] + 4.0)  # (96, 128): in front of the door, per room

    def __init__(self, env: Env, rng: np.random.Generator, other_room_prob: float = 0.6):
        self.rng, self.other_room_prob = rng, other_room_prob
        self.target = np.zeros(2)
        self.noise, self.speed = 0.3, 0.8

    def reset(self, env: Env) -> None:
        _check_env("TwoRoomExpert.reset", env, self.ENVS)
        self.target = np.asarray(env.goal_state[:2], np.float64).copy()
        self.noise = self.rng.uniform(0.1, 0.5)
        self.speed = self.rng.uniform(0.6, 1.0)

    def waypoint(self, p: np.ndarray) -> np.ndarray:
        x, y = float(p[0]), float(p[1])
        rt = _tr.room_of(self.target[0])
        cy = _tr.DOOR_CY
        if _tr.ZONE_X[0] < x < _tr.ZONE_X[1]:  # in the doorway: leave towards the target's room
            return np.array([self.ENTRY_X[rt], cy])
        ra = _tr.room_of(x)
        if ra != rt:
            ex = self.ENTRY_X[ra]
            if abs(y - cy) < 10 and abs(x - ex) < 8:  # in front of the door: go through
                return np.array([self.ENTRY_X[rt], cy])
            return np.array([ex, cy])
        return self.target

    def __call__(self, env: Env) -> np.ndarray:
        _check_env("TwoRoomExpert(env)", env, self.ENVS)
        p = env.get_state()[:2].astype(np.float64)
        if np.hypot(*(p - self.target)) < 8.0:
            room = _tr.room_of(p[0])
            if self.rng.random() < self.other_room_prob:
                room = 1 - room
            self.target = _tr.TwoRoom.sample_in_room(self.rng, room)
        d = self.waypoint(p) - p
        n = float(np.hypot(*d))
        a = d / max(n, 1e-9) * min(self.speed, n / _tr.SPEED)
        a = a + self.rng.normal(0.0, self.noise, size=2)
        return np.clip(a, -1.0, 1.0).astype(np.float32)


class PushTExpert:
    """Scripted pusher: walk around the block to a point behind it, push, re-plan."""

    ENVS = ("pusht", "gym_pusht")
    R_SAFE = 125.0  # block radius around its centre of gravity (~102) + agent radius + margin

    def __init__(self, env: Env, rng: np.random.Generator):
        self.rng = rng
        self.mode, self.t = "approach", 0
        self.dir = np.array([1.0, 0.0])
        self.pre = np.zeros(2)
        self.push_steps, self.push_speed, self.noise, self.vmax = 15, 0.4, 0.1, 0.6

    def reset(self, env: Env) -> None:
        _check_env("PushTExpert.reset", env, self.ENVS)
        self.noise = self.rng.uniform(0.05, 0.25)
        self.vmax = self.rng.uniform(0.4, 0.8)
        self._plan(env.get_state().astype(np.float64))

    def _plan(self, s: np.ndarray) -> None:
        rng = self.rng
        c = _pt.block_cog(s[2], s[3], s[4])
        to_goal = np.asarray(_pt.GOAL_POSE[:2]) - c
        if rng.random() < 0.3 or np.hypot(*to_goal) < 30:
            ang = rng.uniform(-math.pi, math.pi)
        else:
            ang = math.atan2(to_goal[1], to_goal[0]) + rng.normal(0.0, 0.4)
        d = np.array([math.cos(ang), math.sin(ang)])
        perp = np.array([-d[1], d[0]])
        contact = c + perp * rng.uniform(-50, 50)  # off-centre pushes turn the block
        self.dir = d
        self.pre = np.clip(contact - d * self.R_SAFE, 30.0, _pt.WORLD - 30.0)
        self.push_steps = int(rng.integers(8, 25))
        self.push_speed = rng.uniform(0.25, 0.6)
        self.mode, self.t = "approach", 0

    def _avoid(self, p: np.ndarray, c: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Next waypoint from p to goal that keeps clear of the block (a circle around c)."""
        seg = goal - p
        L2 = float(seg @ seg)
        u = 0.0 if L2 < 1e-9 else float(np.clip((c - p) @ seg / L2, 0.0, 1.0))
        if np.hypot(*(p + u * seg - c)) > 0.85 * self.R_SAFE:
            return goal
        v = p - c
        phi, phig = math.atan2(v[1], v[0]), math.atan2(*(goal - c)[::-1])
        dphi = float(wrap_angle(phig - phi))
        phi2 = phi + math.copysign(min(abs(dphi), 0.8), dphi)
        wp = c + self.R_SAFE * np.array([math.cos(phi2), math.sin(phi2)])
        return np.clip(wp, 30.0, _pt.WORLD - 30.0)

    def __call__(self, env: Env) -> np.ndarray:
        _check_env("PushTExpert(env)", env, self.ENVS)
        s = env.get_state().astype(np.float64)
        p = s[:2]
        self.t += 1
        if self.mode == "approach":
            if np.hypot(*(p - self.pre)) < 15.0:
                self.mode, self.t = "push", 0
            elif self.t > 40:
                self._plan(s)
        if self.mode == "push":
            if self.t >= self.push_steps:
                self._plan(s)
            else:
                a = self.dir * self.push_speed
        if self.mode == "approach":
            c = _pt.block_cog(s[2], s[3], s[4])
            wp = self._avoid(p, c, self.pre)
            d = wp - p
            a = _unit(d) * min(self.vmax, float(np.hypot(*d)) / 60.0)
        a = a + self.rng.normal(0.0, self.noise, size=2)
        return np.clip(a, -1.0, 1.0).astype(np.float32)


class ReacherExpert:
    """Noisy joint-space PD controller towards random waypoints covering the joint space."""

    ENVS = ("reacher", "reacher_no_target")
    def __init__(self, env: Env, rng: np.random.Generator):
        self.rng = rng
        self.wp = np.zeros(2)
        self.t, self.t_max = 0, 40
        self.kp, self.kd, self.noise = 2.0, 0.3, 0.2

    def reset(self, env: Env) -> None:
        _check_env("ReacherExpert.reset", env, self.ENVS)
        r = self.rng
        self.kp, self.kd = r.uniform(1.5, 4.0), r.uniform(0.15, 0.4)
        self.noise = r.uniform(0.05, 0.4)
        if r.random() < 0.5:
            self._new_waypoint(np.asarray(env.goal_state[:2], np.float64))
        else:
            self._new_waypoint()

    def _new_waypoint(self, wp=None) -> None:
        self.wp = self.rng.uniform(-math.pi, math.pi, size=2) if wp is None else np.asarray(wp, np.float64)
        self.t, self.t_max = 0, int(self.rng.integers(20, 60))

    def __call__(self, env: Env) -> np.ndarray:
        _check_env("ReacherExpert(env)", env, self.ENVS)
        s = env.get_state().astype(np.float64)
        e = wrap_angle(self.wp - s[:2])
        self.t += 1
        if np.max(np.abs(e)) < 0.08 or self.t > self.t_max:
            self._new_waypoint()
            e = wrap_angle(self.wp - s[:2])
        a = self.kp * e - self.kd * s[2:4] + self.rng.normal(0.0, self.noise, size=2)
        return np.clip(a, -1.0, 1.0).astype(np.float32)


EXPERTS = {"two_room": TwoRoomExpert, "pusht": PushTExpert, "gym_pusht": PushTExpert, "reacher": ReacherExpert,
           "reacher_no_target": ReacherExpert}
POLICY_KINDS = ("expert", "random", "wall_slide")


def make_policy(env: Env, kind: str = "expert", rng: np.random.Generator | None = None):
    """A policy for ``env``: ``kind`` is ``"expert"`` (scripted, per env), ``"random"`` or
    ``"wall_slide"`` (Two-Room only)."""
    if not isinstance(env, Env):
        raise TypeError(f"make_policy: env must be an environment (lewm.envs.Env, e.g. lewm.envs.make('two_room')), "
                        f"got {type(env).__name__}")
    if not isinstance(kind, str):
        raise TypeError(f"make_policy: kind must be a string, one of {', '.join(POLICY_KINDS)}; got {kind!r:.60}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"make_policy: rng must be a numpy Generator (np.random.default_rng(seed)) or None, "
                        f"got {type(rng).__name__}")
    rng = np.random.default_rng() if rng is None else rng
    if kind == "random":
        return RandomPolicy(env, rng)
    if kind == "wall_slide":
        if env.name != "two_room":
            raise ValueError(f"the 'wall_slide' policy is for two_room only (it pushes into the wall), not {env.name!r}")
        return TwoRoomWallSlide(env, rng)
    if kind == "expert":
        if env.name not in EXPERTS:
            raise ValueError(f"no expert policy for env {env.name!r}; experts exist for {', '.join(EXPERTS)}")
        return EXPERTS[env.name](env, rng)
    raise ValueError(f"unknown policy kind {kind!r}; valid kinds: {', '.join(POLICY_KINDS)}")
