"""PushT: push a T-shaped block with a disk agent (pymunk physics, PIL rendering).

Physics (as the reference PushT used by stable-worldmodel / DINO-WM / LeWM):

- a 512² world closed by four static segments (x, y ∈ [5, 506], radius 2); no gravity;
  ``space.damping = 0`` makes the block quasi-static (it stops as soon as it is not pushed);
- agent: a kinematic disk (radius 15) driven by a PD controller towards ``agent + 100·a``
  (``a`` ∈ [-1, 1]², the target clipped to the arena), ``k_p = 100``, ``k_v = 20``,
  ``dt = 0.01``, 10 sub-steps per control step (10 Hz);
- block: a T of two boxes (bar 160×40, stem 40×120 below it, mass 1), its pose
  ``(block_x, block_y, block_angle)`` is the pymunk body origin (middle of the bar's top edge)
  and angle (stored in [0, 2π));
- image y = world y (no flip), as in the reference renderer.

State: ``[agent_x, agent_y, block_x, block_y, block_angle, agent_vx, agent_vy]``.

Reset: block pose uniform in [100, 400]² × [-π, π) (resampled until the whole T is at least 20
units inside the arena), agent uniform in [50, 450]² at least 5 units clear of the block, agent at
rest; the default goal is the drawn target's block pose.

Goal and success (precisely):

- a *drawn* target T (light green) is always at the fixed pose ``(256, 256, π/4)`` — the
  classic PushT target; it never moves, so observations stay in-distribution whatever goal
  the evaluator sets;
- ``goal_state`` is a full 7-vector. ``set_goal`` also accepts a 3-vector block pose
  ``(x, y, angle)``; the agent components are then NaN, meaning "don't care";
- ``success_distance(s, g)`` = Euclidean norm of ``(agent_xy, block_xy)`` differences over the
  components of ``g`` that are finite (the reference ``eval_state``: ``‖s[:4] − g[:4]‖``), so a
  block-pose goal compares the block position only;
- ``is_success`` ⇔ ``success_distance < 20`` and ``|wrap(block_angle − goal_angle)| < π/9``.
  The default goal (at ``reset``) is the block pose of the drawn target.

``set_state`` rebuilds the pymunk space (no cached contact impulses survive), then sets the
agent's position and velocity and the block's pose exactly; the block's own velocity (not
part of the state) is zeroed — with damping 0 it is ~0 between control steps anyway.
"""
from __future__ import annotations

import math

import numpy as np
import pymunk
from PIL import Image, ImageDraw

from ._checks import numbers
from .base import Env, _fmt, check_supersample, wrap_angle

WORLD = 512.0
AGENT_R = 15.0
K_P, K_V, DT, SUBSTEPS, ACTION_SCALE = 100.0, 20.0, 0.01, 10, 100.0
BAR = ((-80.0, 40.0), (80.0, 40.0), (80.0, 0.0), (-80.0, 0.0))  # local vertices, y ∈ [0, 40]
STEM = ((-20.0, 40.0), (-20.0, 160.0), (20.0, 160.0), (20.0, 40.0))  # y ∈ [40, 160]
COG_LOCAL = (0.0, 60.0)  # mean of the two boxes' centroids, as in the reference
GOAL_POSE = (256.0, 256.0, math.pi / 4)
WALLS = (((5, 506), (5, 5)), ((5, 5), (506, 5)), ((506, 5), (506, 506)), ((5, 506), (506, 506)))
AGENT_LO, AGENT_HI = 22.0, 490.0  # the PD target stays where the disk fits inside the walls
POS_TOL, ANGLE_TOL = 20.0, math.pi / 9
TWO_PI = 2 * math.pi
MAX_ANGLE = 1e6  # rad: the block angle wraps, but 1e9 is no angle anyone measured
MAX_SPEED = 1e4  # world units/s: the PD agent tops out near 500
WORLD_TEXT = (f"agent and block positions in [0, {WORLD:g}] (the arena), |block_angle| <= {MAX_ANGLE:g} rad, "
              f"|agent_vx|, |agent_vy| <= {MAX_SPEED:g}")
_AGENT, _BLOCK = [0, 1], [2, 3, 4]
_STAND_IN = np.array([WORLD / 2, WORLD / 2, WORLD / 2, WORLD / 2, 0.0, 0.0, 0.0])  # for NaN = "don't care" parts

BG_RGB = (255, 255, 255)
WALL_RGB = (211, 211, 211)  # LightGray
GOAL_RGB = (144, 238, 144)  # LightGreen
BLOCK_RGB = (119, 136, 153)  # LightSlateGray (outline)
BLOCK_FILL = tuple(min(255, int(1.2 * c)) for c in BLOCK_RGB)
AGENT_RGB = (65, 105, 225)  # RoyalBlue (rim)
AGENT_FILL = tuple(min(255, int(1.2 * c)) for c in AGENT_RGB)

_BG_CACHE: dict[tuple[int, int], Image.Image] = {}


def block_polygons(x: float, y: float, angle: float) -> list[np.ndarray]:
    """World vertices of the two boxes of a T at pose (x, y, angle): [(4, 2), (4, 2)]."""
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    return [np.asarray(v) @ R.T + (x, y) for v in (BAR, STEM)]


def block_cog(x: float, y: float, angle: float) -> np.ndarray:
    """World position of the block's centre of gravity."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([x + c * COG_LOCAL[0] - s * COG_LOCAL[1], y + s * COG_LOCAL[0] + c * COG_LOCAL[1]])


def distance_to_block(p, x: float, y: float, angle: float) -> float:
    """Distance from point ``p`` to the T at (x, y, angle) (0 inside)."""
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = float(p[0]) - x, float(p[1]) - y
    lx, ly = c * dx + s * dy, -s * dx + c * dy  # point in the block frame
    d = []
    for cx, cy, hx, hy in ((0.0, 20.0, 80.0, 20.0), (0.0, 100.0, 20.0, 60.0)):
        qx, qy = max(abs(lx - cx) - hx, 0.0), max(abs(ly - cy) - hy, 0.0)
        d.append(math.hypot(qx, qy))
    return min(d)


def _background(size: int, ss: int) -> Image.Image:
    key = (size, ss)
    if key not in _BG_CACHE:
        k = size * ss / WORLD
        img = Image.new("RGB", (size * ss, size * ss), BG_RGB)
        d = ImageDraw.Draw(img)
        for a, b in WALLS:
            d.line([(a[0] * k, a[1] * k), (b[0] * k, b[1] * k)], fill=WALL_RGB, width=max(1, round(4 * k)))
        for poly in block_polygons(*GOAL_POSE):
            d.polygon([tuple(p) for p in poly * k], fill=GOAL_RGB)
        _BG_CACHE[key] = img
    return _BG_CACHE[key]


class PushT(Env):
    name = "pusht"
    state_names = ("agent_x", "agent_y", "block_x", "block_y", "block_angle", "agent_vx", "agent_vy")
    state_bounds = ((AGENT_LO, AGENT_LO, AGENT_LO, AGENT_LO, -np.pi, -1.0, -1.0),
                    (AGENT_HI, AGENT_HI, AGENT_HI, AGENT_HI, np.pi, 1.0, 1.0))
    landscape_dims = (2, 3)  # the block position; the agent stays where the goal has it
    world = WORLD_TEXT
    block_margin = 0.0
    """How far outside the arena the block's origin may lie (gym_pusht: the T's reach; here the origin stays in)."""
    action_dim = 2
    max_episode_steps = 200
    success_threshold = POS_TOL

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None, supersample: int | None = None):
        super().__init__(image_size, max_episode_steps, terminate_on_success, seed)
        # supersampling = anti-aliasing; 2x is plenty at every size and keeps rendering fast
        self.supersample = check_supersample(self.name, supersample)
        self._bg = _background(self.image_size, self.supersample)
        self._build(np.array([256.0, 400.0, 256.0, 300.0, 0.0, 0.0, 0.0]))
        self.goal_state = self._goal_from(np.asarray(GOAL_POSE))

    # ----------------------------------------------------------------- physics
    def _build(self, state: np.ndarray) -> None:
        space = pymunk.Space()
        space.gravity = (0.0, 0.0)
        space.damping = 0.0
        for a, b in WALLS:
            space.add(pymunk.Segment(space.static_body, a, b, 2))
        agent = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        agent.position = (float(state[0]), float(state[1]))
        agent.velocity = (float(state[5]), float(state[6]))
        space.add(agent, pymunk.Circle(agent, AGENT_R))
        block = pymunk.Body(1.0, 2 * pymunk.moment_for_poly(1.0, BAR))
        bar, stem = pymunk.Poly(block, BAR), pymunk.Poly(block, STEM)
        block.center_of_gravity = COG_LOCAL
        block.angle = float(state[4])  # angle first: setting it keeps the centre of gravity fixed
        block.position = (float(state[2]), float(state[3]))
        space.add(block, bar, stem)
        self.space, self.agent, self.block = space, agent, block

    def _get_state(self) -> np.ndarray:
        a, b = self.agent, self.block
        ang = b.angle % TWO_PI
        if float(np.float32(ang)) >= TWO_PI:  # float32 rounding would leave [0, 2π)
            ang = 0.0
        return np.array([a.position.x, a.position.y, b.position.x, b.position.y, ang,
                         a.velocity.x, a.velocity.y], np.float64)

    def _set_state(self, state: np.ndarray) -> None:
        self._build(state)

    def _apply_action(self, action: np.ndarray) -> None:
        agent = self.agent
        p = agent.position
        tx = min(max(p.x + ACTION_SCALE * float(action[0]), AGENT_LO), AGENT_HI)
        ty = min(max(p.y + ACTION_SCALE * float(action[1]), AGENT_LO), AGENT_HI)
        for _ in range(SUBSTEPS):
            p, v = agent.position, agent.velocity
            ax = K_P * (tx - p.x) - K_V * v.x
            ay = K_P * (ty - p.y) - K_V * v.y
            agent.velocity = (v.x + ax * DT, v.y + ay * DT)
            self.space.step(DT)
        p, v = agent.position, agent.velocity
        if not (0.0 <= p.x <= WORLD and 0.0 <= p.y <= WORLD):  # only from a fast start state (|v| up to MAX_SPEED)
            # the kinematic disk crosses the walls: stop it at the arena's edge (it left the world, drawn nowhere)
            x, y = min(max(p.x, 0.0), WORLD), min(max(p.y, 0.0), WORLD)
            agent.velocity = (0.0 if x != p.x else v.x, 0.0 if y != p.y else v.y)
            agent.position = (x, y)
            self.space.reindex_shapes_for_body(agent)

    def _sample_state(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(1000):  # the reference's ranges, keeping the whole T inside the walls
            bx, by = rng.uniform(100, 400, size=2)
            ang = rng.uniform(-math.pi, math.pi) % TWO_PI
            v = np.concatenate(block_polygons(bx, by, ang))
            if v.min() >= 20 and v.max() <= WORLD - 20:
                break
        for _ in range(1000):
            ax, ay = rng.uniform(50, 450, size=2)
            if distance_to_block((ax, ay), bx, by, ang) > AGENT_R + 5:
                break
        return np.array([ax, ay, bx, by, ang, 0.0, 0.0])

    def _sample_goal(self, rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
        return self._goal_from(np.asarray(GOAL_POSE))

    # ----------------------------------------------------------------- validity
    def valid_states(self, states) -> np.ndarray:
        """(N,) bool: finite, positions in the arena, a block angle that is an angle, a speed the PD
        agent can have (1e9 positions were taken and drawn nowhere)."""
        s = self._as_states(states, "valid_states: states", finite=False)  # NaN: False
        with np.errstate(invalid="ignore"):
            m = self.block_margin
            return (np.isfinite(s).all(1) & ((s[:, _AGENT] >= 0) & (s[:, _AGENT] <= WORLD)).all(1)
                    & ((s[:, 2:4] >= -m) & (s[:, 2:4] <= WORLD + m)).all(1)
                    & (np.abs(s[:, 4]) <= MAX_ANGLE) & (np.abs(s[:, 5:7]) <= MAX_SPEED).all(1))

    def _render_problem(self, s: np.ndarray) -> str | None:
        """NaN agent or block components are not drawn (a goal's "don't care" agent); ±inf, nothing
        to draw, or a part off the arena is refused (1e30 drew the empty arena)."""
        drawn = [grp for grp in (_AGENT, _BLOCK) if not np.isnan(s[grp]).all()]
        if not drawn:
            return "has neither an agent nor a block to draw (all NaN)"
        for grp in drawn:
            if not np.isfinite(s[grp]).all():
                return "must be finite (NaN only for a whole part left undrawn: agent xy or block pose)"
        if not self.valid_states(np.where(np.isnan(s), _STAND_IN, s)[None])[0]:
            return f"is outside the world: {self.world}"
        return None

    # ----------------------------------------------------------------- goal / success
    def _goal_vector(self, goal, what: str = "goal") -> np.ndarray:
        """``goal`` as float64 (7,): a block pose (3,) gets "don't care" (NaN) agent components.
        The block pose must be finite; agent components finite or NaN; never ±inf."""
        g = None if isinstance(goal, (str, bytes)) else numbers(self.name, what, goal, "numbers: a block pose or a state")
        g = None if g is None else g.reshape(-1)
        if g is None or g.shape not in ((3,), (self.state_dim,)):
            got = f"{g.shape}" if g is not None else f"{goal!r:.60}"
            raise ValueError(f"{self.name}: {what} must be a block pose (3,) (block_x, block_y, block_angle) or a "
                             f"state {self.state_names}, got {got}")
        if g.shape == (3,):  # block pose only: agent components "don't care"
            g = np.array([np.nan, np.nan, g[0], g[1], g[2], np.nan, np.nan])
        if not np.isfinite(g[_BLOCK]).all() or np.isinf(g).any():
            raise ValueError(f"{self.name}: {what} must have a finite block pose and finite (or NaN: don't care) agent "
                             f"components, got {g.tolist()}")
        return g

    def _goal_from(self, goal) -> np.ndarray:
        g = self._goal_vector(goal)
        if not self.valid_states(np.where(np.isnan(g), _STAND_IN, g)[None])[0]:
            raise ValueError(f"{self.name}: goal {_fmt(g)} is outside the world: {self.world}")
        return g.astype(np.float32)

    def set_goal(self, goal_state) -> None:
        self.goal_state = self._goal_from(goal_state)

    def success_distance(self, state, goal) -> float:
        s, g = self._as_state(state, "state"), self._goal_vector(goal)
        if not np.isfinite(s).all():
            raise ValueError(f"{self.name}: state must be finite, got {s.tolist()}")
        d = s[:4] - g[:4]
        d = d[np.isfinite(d)]
        return float(np.sqrt(np.sum(d * d)))

    def probe_quantities(self, states) -> dict[str, np.ndarray]:
        """cos/sin of the block angle (the raw angle wraps at ±π)."""
        a = self._as_states(states, "probe_quantities: states", finite=False)[:, 4]  # (N,)
        return {"cos_block_angle": np.cos(a), "sin_block_angle": np.sin(a)}

    def angle_error(self, state, goal) -> float:
        s, g = self._as_state(state, "state"), self._goal_vector(goal)
        return float(abs(wrap_angle(s[4] - g[4])))

    def is_success(self, state=None, goal=None) -> bool:
        s = self.get_state() if state is None else state
        g = self.goal_state if goal is None else goal
        return bool(self.success_distance(s, g) < POS_TOL and self.angle_error(s, g) < ANGLE_TOL)

    # ----------------------------------------------------------------- rendering
    def _draw(self, state: np.ndarray) -> np.ndarray:
        ss = self.supersample
        k = self.image_size * ss / WORLD
        img = self._bg.copy()
        d = ImageDraw.Draw(img)
        if np.all(np.isfinite(state[2:5])):
            lw = max(1, round(4 * k))
            for poly in block_polygons(float(state[2]), float(state[3]), float(state[4])):
                pts = [tuple(p) for p in poly * k]
                d.polygon(pts, fill=BLOCK_FILL)
                d.line(pts + [pts[0]], fill=BLOCK_RGB, width=lw, joint="curve")
        if np.all(np.isfinite(state[:2])):
            x, y = float(state[0]) * k, float(state[1]) * k
            r, ri = AGENT_R * k, (AGENT_R - 4) * k
            d.ellipse((x - r, y - r, x + r, y + r), fill=AGENT_RGB)
            d.ellipse((x - ri, y - ri, x + ri, y + ri), fill=AGENT_FILL)
        if ss > 1:
            img = img.reduce(ss)
        return np.asarray(img, dtype=np.uint8).copy()
