"""Why an MPC episode failed, from what it recorded: the goal cost along the executed path.

:func:`path_goal_cost` encodes the frames the agent really saw and scores each with the planner's
cost ‖z(frame) − z_goal‖². :func:`explain_failure` (pure numpy) reads that cost next to the env's
true distance to the goal (and, when given, the best cost each plan imagined) and names the failure:

- ``out of budget`` — the agent was still moving (usually approaching) when the steps ran out;
- ``false minimum`` — the agent settled far from the goal where the model's goal cost is already low
  (the world model believes it has nearly arrived: its latent distance is wrong there);
- ``stuck`` — the agent settled where the goal cost is still high: no move it imagined lowered the
  cost (a local minimum, typically a wall), or its plans imagined a lower cost that the real moves
  never reached (its predictions are wrong there).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUT_OF_BUDGET, FALSE_MINIMUM, STUCK = "out of budget", "false minimum", "stuck"
BAND = 0.1
"""The agent has settled once its true distance stays within this fraction of the distance's range."""
LOW_COST = 0.25
"""A goal cost at most this fraction of the start's is 'low' (the model thinks it is nearly there)."""


@dataclass(frozen=True)
class EpisodeFailure:
    kind: str
    """``out of budget``, ``false minimum`` or ``stuck``."""
    why: str
    """One line with the numbers that decided."""
    stuck_step: int
    """The env step from which the agent stayed put (for ``out of budget``: the last step)."""
    best_step: int
    """The env step where the true distance was smallest."""
    cost: np.ndarray
    """(L,) the goal cost of every executed frame."""
    distance: np.ndarray
    """(L,) the true distance to the goal of every executed state."""


def path_goal_cost(model, frames, goal_frame, batch: int = 256) -> np.ndarray:
    """(L,) ‖z(frame_t) − z_goal‖² of every frame (L, S, S, 3) the agent saw (the planner's cost)."""
    from ._dyn_checks import frames as checked_frames
    from .encoding import encode_frames
    px = checked_frames("path_goal_cost", frames, "frames")  # None was torch's "can't convert np.ndarray of type object"
    if goal_frame is None or np.ndim(goal_frame) != 3:
        raise ValueError(f"path_goal_cost(goal_frame=...) must be one uint8 frame (S, S, 3), got "
                         f"{np.shape(goal_frame) if goal_frame is not None else None}")
    goal = checked_frames("path_goal_cost", np.asarray(goal_frame)[None], "goal_frame")
    z = encode_frames(model, px, batch)  # (L, D)
    zg = encode_frames(model, goal, 1)  # (1, D)
    return ((z - zg) ** 2).sum(-1).numpy().astype(np.float64)


def _numbers(x, what: str) -> np.ndarray:
    """``x`` as a finite float64 vector >= 0 (a distance, a squared norm), or one ValueError naming ``what``
    (numpy's "could not convert string to float", None read as NaN, a (3, 2) cost flattened to 6 steps, a NaN
    distance read as "distance nan", a negative one as a cost of -500000000000000% of the start's)."""
    try:
        a = x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x)
    except (TypeError, ValueError):
        a = np.asarray(None, dtype=object)
    if x is None or a.dtype.kind not in "iuf":
        raise ValueError(f"explain_failure: {what} must be a list of numbers, got {x!r:.60}")
    a = a.astype(np.float64)
    if a.ndim != 1:
        raise ValueError(f"explain_failure: {what} must be 1-D (L,), one value per step, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"explain_failure: {what} holds NaN/inf at step(s) {np.flatnonzero(~np.isfinite(a))[:5].tolist()}")
    if (a < 0).any():
        raise ValueError(f"explain_failure: {what} must be >= 0 (a distance or a squared norm), got "
                         f"{a[a < 0][:3].tolist()} at step(s) {np.flatnonzero(a < 0)[:5].tolist()}")
    return a


def explain_failure(cost, distance, threshold: float, plan_costs=None) -> EpisodeFailure:
    """Name the failure of an episode from its per-step goal ``cost`` and true ``distance`` (L,),
    the env's success ``threshold`` and, optionally, the best imagined cost of each plan."""
    c, d = _numbers(cost, "cost"), _numbers(distance, "distance")
    if len(c) != len(d) or len(d) < 2:
        raise ValueError(f"cost and distance need the same length >= 2, got {len(c)} and {len(d)}")
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not np.isfinite(threshold) or threshold < 0:  # 'x' was a format-code error, NaN "success below nan"
        raise ValueError(f"explain_failure: threshold must be a finite number >= 0 (the env's success distance), "
                         f"got {threshold!r}")
    L = len(d)
    tol = max(BAND * float(d.max() - d.min()), 1e-9)
    # settled: the first step from which every later distance stays within tol of each other
    hi = np.maximum.accumulate(d[::-1])[::-1]
    lo = np.minimum.accumulate(d[::-1])[::-1]
    stuck = int(np.argmax(hi - lo <= tol))
    best = int(np.argmin(d))
    c0 = max(float(c[0]), 1e-12)
    c_end = float(np.mean(c[stuck:]))
    if stuck >= L - max(3, L // 10):  # it never settled before the last few steps: it was still moving
        how = (f"still approaching when the budget ran out: the distance fell from {d[0]:.3g} to {d[-1]:.3g}"
               if d[-1] < d[0] - tol else f"still moving when the budget ran out (distance {d[0]:.3g} → {d[-1]:.3g})")
        why = f"{how} in {L - 1} steps (success below {threshold:g}) — give it a larger budget"
        return EpisodeFailure(OUT_OF_BUDGET, why, L - 1, best, c, d)
    at = f"from step {stuck} on the agent stays {d[stuck:].mean():.3g} from the goal (success below {threshold:g})"
    if c_end <= LOW_COST * c0:
        why = (f"{at}, yet the model's goal cost there is {c_end:.3g}, {100 * c_end / c0:.0f}% of the start's "
               f"{c0:.3g}: the world model believes it has nearly arrived — a false minimum of its latent distance")
        return EpisodeFailure(FALSE_MINIMUM, why, stuck, best, c, d)
    why = f"{at} while the goal cost stays at {c_end:.3g} ({100 * c_end / c0:.0f}% of the start's {c0:.3g})"
    pc = None if plan_costs is None else _numbers(plan_costs, "plan_costs")
    if pc is not None and len(pc):
        tail = pc[-max(1, len(pc) * (L - stuck) // L):]  # the plans made while settled
        p = float(np.mean(tail))
        if p < 0.7 * c_end:
            why += (f"; its plans imagined reaching {p:.3g}, which the real moves never did — the model's "
                    "predictions are wrong here")
        else:
            why += (f"; the best plans it imagined were no better ({p:.3g}) — a local minimum of the cost, "
                    "often a wall between the agent and the goal")
    else:
        why += ": a local minimum of the cost, often a wall between the agent and the goal"
    return EpisodeFailure(STUCK, why, stuck, best, c, d)
