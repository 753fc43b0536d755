"""Two-Room: a red Gaussian dot navigates between two rooms joined by one door.

Geometry (DESIGN §4), in canvas units of a 224² canvas, whatever the rendered size:

- white floor; a black frame 4 units thick at 10–14 units from every edge;
- a vertical wall ``x ∈ [107, 117]`` (pixel columns 107..117 at 224 px) with one door
  ``y ∈ [35, 63]``;
- the agent is a red Gaussian dot (σ = 7) whose centre is clamped to ``[21, 203]``²;
- action ∈ [-1, 1]² moves the agent by ``5·a`` units per step;
- the wall blocks the dot's *body* (centre within σ of the wall, i.e. ``100 < x < 124``) unless
  the centre is at door height (``35 ≤ y ≤ 63``). Hitting the wall face stops the x motion
  (the dot slides along the wall); inside the doorway the dot slides along the door jambs.
- success: Euclidean distance between agent and target < 16 units.

The state is ``(agent_x, agent_y)`` in canvas units, pixel i of the 224 px image being centred on
coordinate i. The target is not drawn (the image shows only the agent), as in the reference.
"""
from __future__ import annotations

import numpy as np

from .base import Env

CANVAS = 224.0
SPEED = 5.0
LO, HI = 21.0, 203.0
WALL_X = (107.0, 117.0)
DOOR_Y = (35.0, 63.0)
SIGMA = 7.0
ZONE_X = (WALL_X[0] - SIGMA, WALL_X[1] + SIGMA)  # (100, 124): where the dot's body touches the wall
MID_X = 0.5 * (WALL_X[0] + WALL_X[1])  # 112: rooms are x < 112 (left) and x > 112 (right)
DOOR_CY = 0.5 * (DOOR_Y[0] + DOOR_Y[1])  # 49
AGENT_RGB = np.array([255.0, 0.0, 0.0], np.float32)

_BG_CACHE: dict[int, np.ndarray] = {}


def _background(size: int, ss: int = 8) -> np.ndarray:
    """Static walls at ``size``² with area anti-aliasing (``ss``² samples per pixel). Cached."""
    if size in _BG_CACHE:
        return _BG_CACHE[size]
    n = size * ss
    # sample positions in "edge" units: pixel i of the 224 px canvas covers [i, i+1)
    c = (np.arange(n) + 0.5) * (CANVAS / n)
    X, Y = c[None, :], c[:, None]
    in_outer = (X >= 10) & (X < 214) & (Y >= 10) & (Y < 214)
    in_inner = (X >= 14) & (X < 210) & (Y >= 14) & (Y < 210)
    frame = in_outer & ~in_inner
    wall = (X >= WALL_X[0]) & (X < WALL_X[1] + 1) & (Y >= 14) & (Y < 210) & ~((Y >= DOOR_Y[0]) & (Y < DOOR_Y[1] + 1))
    black = (frame | wall).astype(np.float32)
    cover = black.reshape(size, ss, size, ss).mean(axis=(1, 3))  # (S, S) fraction of black
    img = np.repeat(((1.0 - cover) * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    img.setflags(write=False)
    _BG_CACHE[size] = img
    return img


def move(pos: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One step of the dynamics: ``pos`` (2,) canvas units, ``action`` (2,) already in [-1, 1]."""
    x0, y0 = float(pos[0]), float(pos[1])
    x = min(max(x0 + SPEED * float(action[0]), LO), HI)
    y = min(max(y0 + SPEED * float(action[1]), LO), HI)
    if ZONE_X[0] < x < ZONE_X[1] and not (DOOR_Y[0] <= y <= DOOR_Y[1]):
        if ZONE_X[0] < x0 < ZONE_X[1]:  # inside the doorway: slide along the jambs
            y = min(max(y, DOOR_Y[0]), DOOR_Y[1])
        else:  # hit the wall face: stop at it, keep the y motion
            x = ZONE_X[0] if x0 <= ZONE_X[0] else ZONE_X[1]
    return np.array([x, y], np.float64)


def geodesic_distance(points, goal) -> np.ndarray:
    """Shortest path length (canvas units) for the dot's centre from each of ``points`` (N, 2) to
    ``goal`` (2,) around the wall: straight within a room, else through the doorway corridor
    (``x ∈ [100, 124]``, ``y ∈ [35, 63]``), minimised over where the path enters and leaves it."""
    p = np.asarray(points, np.float64).reshape(-1, 2)  # (N, 2)
    g = np.asarray(goal, np.float64).reshape(2)
    d = np.hypot(p[:, 0] - g[0], p[:, 1] - g[1])  # (N,) straight line
    cross = (p[:, 0] > MID_X) != (g[0] > MID_X)  # (N,)
    if cross.any():
        ys = np.linspace(DOOR_Y[0], DOOR_Y[1], 15)  # (J,) entry/exit heights
        q = p[cross]
        lx, rx = ZONE_X
        near_x = np.where(q[:, 0] < MID_X, lx, rx)  # (M,) side of the corridor the point is on
        far_x = rx + lx - near_x  # (M,)
        a = np.hypot(q[:, None, 0] - near_x[:, None], q[:, None, 1] - ys[None])  # (M, J)
        b = np.hypot(g[0] - far_x[:, None], g[1] - ys[None])  # (M, J)
        mid = np.hypot(rx - lx, ys[:, None] - ys[None])  # (J, J)
        tot = a[:, :, None] + mid[None] + b[:, None, :]  # (M, J, J)
        d[cross] = tot.reshape(len(q), -1).min(1)
    return d


def room_of(x: float) -> int:
    """0 = left room, 1 = right room (by the wall's mid-line)."""
    return int(x > MID_X)


class TwoRoom(Env):
    name = "two_room"
    state_names = ("agent_x", "agent_y")
    action_dim = 2
    max_episode_steps = 100
    success_threshold = 16.0
    state_bounds = ((LO, LO), (HI, HI))
    canvas = CANVAS
    world = (f"the dot's centre must be in [{LO:g}, {HI:g}] x [{LO:g}, {HI:g}] and not inside the wall "
             f"({ZONE_X[0]:g} < agent_x < {ZONE_X[1]:g} away from the door {DOOR_Y[0]:g} <= agent_y <= {DOOR_Y[1]:g})")

    def __init__(self, image_size: int = 64, max_episode_steps: int | None = None,
                 terminate_on_success: bool = False, seed: int | None = None,
                 other_room_prob: float = 0.5):
        super().__init__(image_size, max_episode_steps, terminate_on_success, seed)
        if isinstance(other_room_prob, bool) or not isinstance(other_room_prob, (int, float, np.integer, np.floating)) \
                or not 0.0 <= other_room_prob <= 1.0:  # 5 was taken as "always"
            raise ValueError(f"two_room: other_room_prob must be a probability in [0, 1], got {other_room_prob!r}")
        self.other_room_prob = float(other_room_prob)
        self._pos = np.array([60.0, 112.0])
        S = self.image_size
        self._bg = _background(S)
        self._u = (np.arange(S) + 0.5) * (CANVAS / S) - 0.5  # canvas coordinate of pixel centres (S,)

    # ----------------------------------------------------------------- state
    def _get_state(self) -> np.ndarray:
        return self._pos.copy()

    def _set_state(self, state: np.ndarray) -> None:
        self._pos = np.array(state[:2], np.float64)

    @staticmethod
    def sample_in_room(rng: np.random.Generator, room: int) -> np.ndarray:
        xr = (LO, ZONE_X[0]) if room == 0 else (ZONE_X[1], HI)
        return np.array([rng.uniform(*xr), rng.uniform(LO, HI)])

    def _sample_state(self, rng: np.random.Generator) -> np.ndarray:
        return self.sample_in_room(rng, int(rng.integers(2)))

    def _sample_goal(self, rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
        room = room_of(state[0])
        if rng.random() < self.other_room_prob:
            room = 1 - room
        for _ in range(100):
            g = self.sample_in_room(rng, room)
            if np.hypot(*(g - state[:2])) >= 2 * self.success_threshold:
                break
        return g

    # ----------------------------------------------------------------- dynamics
    def _apply_action(self, action: np.ndarray) -> None:
        self._pos = move(self._pos, action)

    def path_distance(self, states, goal) -> np.ndarray:
        """(N,) shortest-path distance around the wall (the planner's true cost-to-go)."""
        g = self._as_state(goal, "path_distance: goal")
        if not np.isfinite(g).all():  # was: array([nan]) without a word (success_distance refuses NaN)
            raise ValueError(f"{self.name}: path_distance: goal must be finite, got {g.tolist()}")
        return geodesic_distance(self._as_states(states, "path_distance: states"), g)  # a 3rd column was cut off

    def valid_states(self, states) -> np.ndarray:
        """(N,) bool: the dot's centre can be there (inside the frame, not inside the wall)."""
        s = self._as_states(states, "valid_states: states", finite=False)  # NaN: False
        x, y = s[:, 0], s[:, 1]
        inside = (x >= LO) & (x <= HI) & (y >= LO) & (y <= HI)
        in_wall = (x > ZONE_X[0]) & (x < ZONE_X[1]) & ~((y >= DOOR_Y[0]) & (y <= DOOR_Y[1]))
        return inside & ~in_wall

    def regions(self, states) -> tuple[np.ndarray, tuple[str, ...]]:
        """The two rooms, split at the wall's mid-line (the doorway goes half to each)."""
        x = self._as_states(states, "regions: states")[:, 0]
        return (x > MID_X).astype(np.int64), ("left room", "right room")

    def success_distance(self, state, goal) -> float:
        s, g = self._state_goal(state, goal)
        return float(np.hypot(s[0] - g[0], s[1] - g[1]))

    def _render_problem(self, s: np.ndarray) -> str | None:
        """Inside the wall is drawable (landscape grids cross it); off the canvas is not (1e300 drew
        the empty rooms)."""
        problem = super()._render_problem(s)  # NaN/inf
        if problem is None and not ((0.0 <= s[:2]) & (s[:2] <= CANVAS)).all():
            problem = f"is off the canvas: the dot's centre must be in [0, {CANVAS:g}] x [0, {CANVAS:g}]"
        return problem

    # ----------------------------------------------------------------- rendering
    def _draw(self, state: np.ndarray) -> np.ndarray:
        img = self._bg.copy()
        ax, ay = float(state[0]), float(state[1])  # finite and on the canvas (render_state checks)
        u, r = self._u, 4.0 * SIGMA  # beyond 4σ the dot changes no pixel value
        x0, x1 = np.searchsorted(u, ax - r), np.searchsorted(u, ax + r)
        y0, y1 = np.searchsorted(u, ay - r), np.searchsorted(u, ay + r)
        if x1 <= x0 or y1 <= y0:
            return img
        k = -0.5 / SIGMA**2
        gx = np.exp(k * (u[x0:x1] - ax) ** 2)  # (w,)
        gy = np.exp(k * (u[y0:y1] - ay) ** 2)  # (h,)
        alpha = (gy[:, None] * gx[None, :]).astype(np.float32)[..., None]  # (h, w, 1)
        patch = img[y0:y1, x0:x1].astype(np.float32)  # (h, w, 3)
        patch += alpha * (AGENT_RGB - patch)
        img[y0:y1, x0:x1] = (patch + 0.5).astype(np.uint8)
        return img
