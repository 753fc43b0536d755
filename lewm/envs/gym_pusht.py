"""The field's PushT (the ``gym-pusht`` package) behind this project's environment API.

Optional: ``pip install -r requirements-field.txt``. ``make("gym_pusht")`` then gives an env with
gym-pusht's own physics (pymunk, the same PD controller: k_p 100, k_v 20, dt 0.01, 10 Hz) and its own
renderer (pygame, then resized to ``image_size`` with OpenCV), so that the same recipe can be scored
on the package the field's papers use. What this wrapper adds, and nothing else:

- **the state**: this project's 7-vector ``[agent_x, agent_y, block_x, block_y, block_angle,
  agent_vx, agent_vy]`` (block pose = the pymunk body origin and angle in [0, 2π), as in ``pusht``);
  ``set_state`` rebuilds gym-pusht's space and sets the pose exactly (gym-pusht's own ``_set_state``
  runs one physics step after setting it);
- **the action**: relative, as in ``pusht`` (``a`` ∈ [-1, 1]² → PD target ``agent + 100·a``, clipped to
  the arena), converted to gym-pusht's absolute target in [0, 512]²;
- **the success test**: the paper's goal-conditioned one, as stable-worldmodel evaluates PushT —
  ``‖(agent, block) xy − goal‖ < 20`` and block angle within π/9 at any step — not gym-pusht's own
  "95% of the goal area covered", which is another task.

The T differs from this project's ``pusht``: gym-pusht's bar is 120 × 30 and its stem 30 × 90 (the
``pusht`` T: 160 × 40 and 40 × 120), and its goal outline is drawn at (256, 256, π/4) in every frame.
"""
from __future__ import annotations

import math

import numpy as np

from .pusht import ACTION_SCALE, AGENT_HI, AGENT_LO, ANGLE_TOL, GOAL_POSE, MAX_ANGLE, MAX_SPEED, POS_TOL, WORLD, PushT
from .base import Env

TEE_REACH = math.hypot(15.0, 120.0)
"""How far gym-pusht's T reaches from its origin (the stem's far corners, scale 30: 15 x 120 units)."""

INSTALL_HINT = "the gym_pusht environment needs the optional field packages: pip install -r requirements-field.txt"


def _gym_pusht_class():
    try:
        from gym_pusht.envs.pusht import PushTEnv
    except ImportError as e:  # the package, or one of its needs (pygame, opencv, shapely, gymnasium)
        raise ValueError(f"{INSTALL_HINT} ({e})") from None
    return PushTEnv


class GymPushT(Env):
    name = "gym_pusht"
    state_names = PushT.state_names
    state_bounds = PushT.state_bounds
    world = (f"agent positions in [0, {WORLD:g}] (the arena), block positions within {TEE_REACH:.0f} of it (the T's "
             f"reach from its origin), |block_angle| <= {MAX_ANGLE:g} rad, |agent_vx|, |agent_vy| <= {MAX_SPEED:g}")

    # gym-pusht's T hangs off its origin (the bar's edge) and its physics lets a hard push sink the block into a wall:
    # an expert episode put the origin at y = -23.7, and every evaluation on eval seed 0 stopped there
    block_margin = TEE_REACH
    valid_states = PushT.valid_states  # pusht's checks of start, goal and drawn states, with that margin

    _render_problem = PushT._render_problem
    _goal_vector = PushT._goal_vector
    landscape_dims = (2, 3)
    action_dim = 2
    max_episode_steps = 200
    success_threshold = POS_TOL

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None):
        PushTEnv = _gym_pusht_class()
        super().__init__(image_size, max_episode_steps, terminate_on_success, seed)
        self._g = PushTEnv(obs_type="state", render_mode="rgb_array",
                           observation_width=self.image_size, observation_height=self.image_size)
        self._g.reset(seed=0)  # builds its space
        self.goal_state = self._goal_from(np.asarray(GOAL_POSE))

    # ----------------------------------------------------------------- physics
    def _get_state(self) -> np.ndarray:
        a, b = self._g.agent, self._g.block
        ang = b.angle % (2 * math.pi)
        if float(np.float32(ang)) >= 2 * math.pi:  # float32 rounding would leave [0, 2π)
            ang = 0.0
        return np.array([a.position.x, a.position.y, b.position.x, b.position.y, ang,
                         a.velocity.x, a.velocity.y], np.float64)

    def _set_state(self, state: np.ndarray) -> None:
        g = self._g
        g._setup()  # a fresh space: no contact impulses of the previous state survive
        g.agent.position = (float(state[0]), float(state[1]))
        g.agent.velocity = (float(state[5]), float(state[6]))
        g.block.angle = float(state[4])  # angle first: the origin set next stays where it is put
        g.block.position = (float(state[2]), float(state[3]))
        g.block.velocity, g.block.angular_velocity = (0.0, 0.0), 0.0
        for body in (g.agent, g.block):  # pymunk caches shapes' world vertices until a step: update them now,
            g.space.reindex_shapes_for_body(body)  # so the next render shows this state

    def _apply_action(self, action: np.ndarray) -> None:
        p = self._g.agent.position
        target = np.array([min(max(p.x + ACTION_SCALE * float(action[0]), AGENT_LO), AGENT_HI),
                           min(max(p.y + ACTION_SCALE * float(action[1]), AGENT_LO), AGENT_HI)])
        self._g.step(target)  # gym-pusht's own PD loop and physics (10 sub-steps)

    def _sample_state(self, rng: np.random.Generator) -> np.ndarray:
        # gym-pusht's own reset ranges: agent in [50, 450)², block in [100, 400)², angle in [-π, π)
        ax, ay = rng.integers(50, 450, size=2)
        bx, by = rng.integers(100, 400, size=2)
        return np.array([ax, ay, bx, by, rng.uniform(-math.pi, math.pi) % (2 * math.pi), 0.0, 0.0], np.float64)

    def _sample_goal(self, rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
        return self._goal_from(np.asarray(GOAL_POSE))

    # ----------------------------------------------------------------- goal / success (the paper's test)
    def _goal_from(self, goal) -> np.ndarray:
        return PushT._goal_from(self, goal)

    def set_goal(self, goal_state) -> None:
        self.goal_state = self._goal_from(goal_state)

    def success_distance(self, state, goal) -> float:
        return PushT.success_distance(self, state, goal)

    def angle_error(self, state, goal) -> float:
        return PushT.angle_error(self, state, goal)

    def is_success(self, state=None, goal=None) -> bool:
        s = self.get_state() if state is None else state
        g = self.goal_state if goal is None else goal
        return bool(self.success_distance(s, g) < POS_TOL and self.angle_error(s, g) < ANGLE_TOL)

    def probe_quantities(self, states) -> dict[str, np.ndarray]:
        return PushT.probe_quantities(self, states)

    # ----------------------------------------------------------------- rendering (gym-pusht's)
    def _draw(self, state: np.ndarray) -> np.ndarray:
        saved = self._get_state()
        changed = not np.array_equal(saved, state)
        if changed:
            self._set_state(state)
        img = self._g._render(visualize=False)  # (S, S, 3) uint8, no action marker
        if changed:
            self._set_state(saved)
        return np.ascontiguousarray(img, dtype=np.uint8)
