"""Reacher: a two-link planar arm seen from above (own integrator, numpy/PIL only).

Dynamics: two uniform rods (lengths 0.10 / 0.11, mass 1 each) hinged at the arena centre and at
the elbow, no gravity (horizontal plane). Full manipulator equations
``M(q) q̈ + c(q, q̇) = τ − D q̇`` with torques ``τ = gear · a`` (``a`` ∈ [-1, 1]²), integrated by
semi-implicit Euler (``dt = 0.01``, 5 sub-steps per control step = 20 Hz), joint velocities
clipped to ±``MAX_VEL`` rad/s, joint angles wrapped to [-π, π) (both joints turn freely).

State: ``[q1, q2, dq1, dq2]`` (shoulder angle measured from +x, elbow angle relative to link 1;
image y points down, so positive angles turn clockwise on screen).

Goal: a target configuration (``goal_state``; its velocities are ignored), drawn as a red target
dot at the goal's fingertip. Success: both wrapped joint errors < 0.05 rad;
``success_distance`` = the larger of the two wrapped joint errors (radians).
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .base import Env, check_flag, check_supersample, wrap_angle

L1, L2 = 0.10, 0.11
M1, M2 = 1.0, 1.0
GEAR = (0.5, 0.15)  # torque per unit action
DAMPING = (0.1, 0.03)  # viscous joint damping → terminal speed ≈ 5 rad/s at full torque
MAX_VEL = 8.0
DT, SUBSTEPS = 0.01, 5
JOINT_TOL = 0.05
ARENA = 0.25  # half-width of the square arena shown (world units)
MAX_ANGLE = 1e6  # rad: angles wrap, but 1e20 is no angle anyone measured (and no float holds its phase)

# constant terms of the mass matrix (uniform rods, centres at half length)
_LC1, _LC2 = L1 / 2, L2 / 2
_I1, _I2 = M1 * L1**2 / 12, M2 * L2**2 / 12
_A = _I1 + _I2 + M1 * _LC1**2 + M2 * (L1**2 + _LC2**2)
_B = M2 * L1 * _LC2
_D = _I2 + M2 * _LC2**2

BG_RGB = (236, 238, 240)
GRID_RGB = (227, 230, 234)
REACH_RGB = (205, 210, 216)
LINK1_RGB = (214, 146, 64)
LINK2_RGB = (191, 112, 45)
JOINT_RGB = (70, 70, 80)
TIP_RGB = (40, 40, 48)
TARGET_RGB = (220, 40, 60)

_BG_CACHE: dict[tuple[int, int], Image.Image] = {}


def forward_kinematics(q1: float, q2: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """World (x, y) of the elbow and of the fingertip (base at the origin)."""
    ex, ey = L1 * math.cos(q1), L1 * math.sin(q1)
    return (ex, ey), (ex + L2 * math.cos(q1 + q2), ey + L2 * math.sin(q1 + q2))


def _background(size: int, ss: int) -> Image.Image:
    key = (size, ss)
    if key not in _BG_CACHE:
        n = size * ss
        k = n / (2 * ARENA)
        img = Image.new("RGB", (n, n), BG_RGB)
        d = ImageDraw.Draw(img)
        for i in range(1, 10):  # a faint grid: texture for the encoder, identical in every frame
            t = i * n / 10
            d.line([(t, 0), (t, n)], fill=GRID_RGB, width=max(1, ss))
            d.line([(0, t), (n, t)], fill=GRID_RGB, width=max(1, ss))
        r = (L1 + L2) * k
        c = n / 2
        d.ellipse((c - r, c - r, c + r, c + r), outline=REACH_RGB, width=max(1, ss))
        _BG_CACHE[key] = img
    return _BG_CACHE[key]


class Reacher(Env):
    name = "reacher"
    state_names = ("q1", "q2", "dq1", "dq2")
    state_bounds = ((-np.pi, -np.pi, -1.0, -1.0), (np.pi, np.pi, 1.0, 1.0))
    world = (f"joint angles q1, q2 within ±{MAX_ANGLE:g} rad (they wrap to [-π, π)) and joint speeds "
             f"|dq1|, |dq2| <= {MAX_VEL:g} rad/s (the simulator's clip)")
    action_dim = 2
    max_episode_steps = 200
    success_threshold = JOINT_TOL

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None,
                 draw_target: bool = True, supersample: int | None = None):
        super().__init__(image_size, max_episode_steps, terminate_on_success, seed)
        self.draw_target = check_flag(self.name, "draw_target", draw_target)
        self.supersample = check_supersample(self.name, supersample)
        self._bg = _background(self.image_size, self.supersample)
        self._q = [0.0, 0.0, 0.0, 0.0]

    # ----------------------------------------------------------------- state
    def _get_state(self) -> np.ndarray:
        return np.array(self._q, np.float64)

    def _set_state(self, state: np.ndarray) -> None:
        q = np.array(state[:4], np.float64)
        # angles wrap (1e20 was kept as given); values within rounding of ±π stay as they are, so that
        # set_state(get_state()) round-trips exactly (a float32 π is a hair above π)
        far = np.abs(q[:2]) > np.pi + 1e-6
        q[:2] = np.where(far, wrap_angle(q[:2]), q[:2])
        self._q = [float(v) for v in q]

    def clip_state(self, state) -> np.ndarray:
        """Angles wrapped to [-π, π), joint speeds clipped to ±MAX_VEL (what the simulator does)."""
        q = self._finite_state(state, "clip_state: state").copy()  # [1, 2, 3] and NaN were returned unchanged
        q[:2] = wrap_angle(q[:2])
        q[2:4] = np.clip(q[2:4], -MAX_VEL, MAX_VEL)
        return q

    def valid_states(self, states) -> np.ndarray:
        """(N,) bool: finite, angles within ±MAX_ANGLE (they wrap), joint speeds within the clip."""
        s = self._as_states(states, "valid_states: states", finite=False)  # NaN: False
        with np.errstate(invalid="ignore"):
            return (np.isfinite(s).all(1) & (np.abs(s[:, :2]) <= MAX_ANGLE).all(1)
                    & (np.abs(s[:, 2:4]) <= MAX_VEL + 1e-6).all(1))

    def _render_problem(self, s: np.ndarray) -> str | None:
        if not np.isfinite(s[:2]).all() or np.abs(s[:2]).max() > MAX_ANGLE:  # velocities are not drawn
            return f"must have finite joint angles within ±{MAX_ANGLE:g} rad (a NaN arm draws nothing)"
        return None

    def _sample_state(self, rng: np.random.Generator) -> np.ndarray:
        q = rng.uniform(-math.pi, math.pi, size=2)
        return np.array([q[0], q[1], 0.0, 0.0])

    def _sample_goal(self, rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
        for _ in range(100):
            q = rng.uniform(-math.pi, math.pi, size=2)
            if np.max(np.abs(wrap_angle(q - state[:2]))) > 4 * JOINT_TOL:
                break
        return np.array([q[0], q[1], 0.0, 0.0])

    # ----------------------------------------------------------------- dynamics
    def _apply_action(self, action: np.ndarray) -> None:
        q1, q2, w1, w2 = self._q
        t1, t2 = GEAR[0] * float(action[0]), GEAR[1] * float(action[1])
        two_pi = 2 * math.pi
        for _ in range(SUBSTEPS):
            c2, s2 = math.cos(q2), math.sin(q2)
            m11 = _A + 2 * _B * c2
            m12 = _D + _B * c2
            m22 = _D
            # right-hand side: torque - coriolis/centrifugal - damping
            r1 = t1 + _B * s2 * (2 * w1 * w2 + w2 * w2) - DAMPING[0] * w1
            r2 = t2 - _B * s2 * w1 * w1 - DAMPING[1] * w2
            det = m11 * m22 - m12 * m12
            a1 = (m22 * r1 - m12 * r2) / det
            a2 = (m11 * r2 - m12 * r1) / det
            w1 = min(max(w1 + a1 * DT, -MAX_VEL), MAX_VEL)
            w2 = min(max(w2 + a2 * DT, -MAX_VEL), MAX_VEL)
            q1 = (q1 + w1 * DT + math.pi) % two_pi - math.pi
            q2 = (q2 + w2 * DT + math.pi) % two_pi - math.pi
        self._q = [q1, q2, w1, w2]

    def joint_errors(self, state, goal) -> np.ndarray:
        s, g = self._state_goal(state, goal)
        return np.abs(wrap_angle(s[:2] - g[:2]))

    def success_distance(self, state, goal) -> float:
        return float(np.max(self.joint_errors(state, goal)))

    def fingertip_distance(self, state, goal) -> float:
        """Distance between the fingertip and the goal configuration's fingertip (world units; the arm
        is 0.21 long). Reported beside the joint test: a reach can look right while the elbow is off."""
        s, g = self._state_goal(state, goal)
        _, t = forward_kinematics(float(s[0]), float(s[1]))
        _, tg = forward_kinematics(float(g[0]), float(g[1]))
        return float(math.hypot(t[0] - tg[0], t[1] - tg[1]))

    def probe_quantities(self, states) -> dict[str, np.ndarray]:
        """cos/sin of the shoulder angle and of the forearm's absolute angle, and the fingertip xy."""
        s = self._as_states(states, "probe_quantities: states", finite=False)  # width 6 was read as 3 "states"
        q1, q12 = s[:, 0], s[:, 0] + s[:, 1]  # (N,), (N,)
        return {"cos_q1": np.cos(q1), "sin_q1": np.sin(q1), "cos_q12": np.cos(q12), "sin_q12": np.sin(q12),
                "tip_x": L1 * np.cos(q1) + L2 * np.cos(q12), "tip_y": L1 * np.sin(q1) + L2 * np.sin(q12)}

    # ----------------------------------------------------------------- rendering
    def _draw(self, state: np.ndarray) -> np.ndarray:
        ss = self.supersample
        n = self.image_size * ss
        k = n / (2 * ARENA)
        c = n / 2

        def px(p):
            return (c + p[0] * k, c + p[1] * k)

        img = self._bg.copy()
        d = ImageDraw.Draw(img)
        if self.draw_target and np.all(np.isfinite(self.goal_state[:2])):
            _, tip = forward_kinematics(float(self.goal_state[0]), float(self.goal_state[1]))
            x, y = px(tip)
            r = 0.018 * k
            d.ellipse((x - r, y - r, x + r, y + r), fill=TARGET_RGB)
        if np.all(np.isfinite(state[:2])):
            elbow, tip = forward_kinematics(float(state[0]), float(state[1]))
            base, e, t = (c, c), px(elbow), px(tip)
            w = 0.022 * k
            for (p0, p1), col in (((base, e), LINK1_RGB), ((e, t), LINK2_RGB)):
                d.line([p0, p1], fill=col, width=max(1, round(w)))
                for p in (p0, p1):  # round caps
                    d.ellipse((p[0] - w / 2, p[1] - w / 2, p[0] + w / 2, p[1] + w / 2), fill=col)
            rj = 0.014 * k
            for p in (base, e):
                d.ellipse((p[0] - rj, p[1] - rj, p[0] + rj, p[1] + rj), fill=JOINT_RGB)
            rt = 0.01 * k
            d.ellipse((t[0] - rt, t[1] - rt, t[0] + rt, t[1] + rt), fill=TIP_RGB)
        if ss > 1:
            img = img.reduce(ss)
        return np.asarray(img, dtype=np.uint8).copy()


class ReacherNoTarget(Reacher):
    """Reacher whose observations do not draw the target dot (same dynamics, goal and success).

    With the dot drawn, a small-latent JEPA can satisfy both losses by encoding the *static* target
    (it differs between episodes, so SIGReg gets its spread, and it never moves, so prediction is
    free) and ignoring the arm: the shipped ``reacher`` model does exactly that (probes r ≈ 0 for
    the joint angles, teleporting the arm is not surprising). The paper's protocol gives the goal as
    an image of the arm at the goal pose, so the dot is not needed to plan; without it the moving
    arm is all there is to encode.
    """

    name = "reacher_no_target"

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None,
                 draw_target: bool = False, supersample: int | None = None):
        super().__init__(image_size, max_episode_steps, terminate_on_success, seed,
                         draw_target=draw_target, supersample=supersample)
