"""Goal-cost landscapes: is the planner's cost a usable distance to go?

:func:`goal_cost_landscape` renders a grid of true states, encodes it and compares the planner's
goal cost ‖z(s) − z_goal‖² with the env's true distance to the goal (Spearman ρ, greedy-step
accuracy); :func:`landscape_score` summarises several goals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._common import ArrayLike, _state_grid
from ._probe_checks import check_cache, check_env, check_grid, check_numbers
from .encoding import encode_frames


@dataclass
class GoalLandscape:
    """The latent goal cost ‖z(render(s)) − z_goal‖² on an n×n grid of two state components."""

    xs: np.ndarray
    """(n,) values of state component ``dims[0]`` (grid columns)."""
    ys: np.ndarray
    """(n,) values of state component ``dims[1]`` (grid rows)."""
    cost: np.ndarray
    """(n, n) latent cost, NaN where the state is invalid (e.g. inside a wall)."""
    true_dist: np.ndarray
    """(n, n) true distance to the goal (shortest path where the env knows it), NaN if invalid."""
    goal: np.ndarray
    """(Q,) goal state."""
    dims: tuple[int, int]
    spearman: float
    """Rank correlation of cost and true distance over valid cells (1 = a perfect map)."""
    greedy_accuracy: float
    """Fraction of valid non-goal cells whose lowest-cost neighbour (8-neighbourhood) is closer to
    the goal in truth: how often one greedy step on the latent cost is right (chance ≈ 0.5)."""


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr
    if len(a) < 3:  # e.g. a grid almost all inside a wall: documented NaN
        return float("nan")
    return float(spearmanr(a, b).statistic)


def goal_cost_landscape(model, env, goal_state: ArrayLike, n: int = 32, dims: tuple[int, int] | None = None,
                        lo: Sequence[float] | None = None, hi: Sequence[float] | None = None,
                        base_state: ArrayLike | None = None, batch: int = 256,
                        cache: dict | None = None) -> GoalLandscape:
    """Render the state grid (other components from ``base_state``, default the goal), encode it
    and compare the planner's cost with the env's true distance to go (``env.path_distance``).

    ``dims`` default to ``env.landscape_dims``; ``lo``/``hi`` bound the two components (default:
    ``env.state_bounds``, else [0, 224]; lo < hi). Pass the same ``cache`` dict for several goals: grids
    whose states are identical (e.g. every Two-Room goal) are rendered and encoded once."""
    fn = "goal_cost_landscape"
    check_env(fn, env, ("render_state", "valid_states", "path_distance", "state_dim", "state_names", "landscape_dims"))
    cache = check_cache(fn, cache)  # a list was "list indices must be integers or slices, not tuple"
    # None / 'ab' were read as 1 component / numpy's "could not convert string to float"
    goal = check_numbers(fn, "goal_state", goal_state, f"the env's {env.state_dim} state").reshape(-1)  # (Q,)
    Q = int(env.state_dim)
    if len(goal) != Q:
        raise ValueError(f"goal_state must have the env's {Q} state components ({', '.join(env.state_names)}), "
                         f"got {len(goal)}")
    if not np.isfinite(goal).all():  # a landscape of NaN distances (and a NaN column of costs) without a word
        raise ValueError(f"goal_state must be finite, got {goal.tolist()}")
    if hasattr(env, "valid_states") and not bool(np.asarray(env.valid_states(goal[None])).reshape(-1)[0]):
        # (1e6, 1e6) was scored against a grid it is not on
        raise ValueError(f"goal_state {goal.tolist()} is outside the world"
                         + (f": {env.world}" if getattr(env, "world", "") else ""))
    # n=1: one cell, Spearman NaN; 10**5: a MemoryError; lo == hi: a grid of one state, Spearman NaN
    n, dims, lo, hi, base = check_grid(fn, env, n, dims, lo, hi, base_state, n_what=(
        "goal_cost_landscape: n (grid points per side; a rank correlation and a greedy step need neighbours)"))
    dims, xs, ys, states = _state_grid(env, n, dims, lo, hi, goal if base is None else base)
    key = (states.tobytes(), batch)
    if cache is not None and key in cache:
        valid, z = cache[key]
    else:
        valid = env.valid_states(states)  # (n*n,)
        z = encode_frames(model, np.stack([env.render_state(s) for s in states]), batch)  # (n*n, D)
        if cache is not None:
            cache[key] = (valid, z)
    zg = encode_frames(model, env.render_state(goal)[None], 1)  # (1, D)
    cost = ((z - zg) ** 2).sum(-1).numpy().astype(np.float64)  # (n*n,)
    true = np.asarray(env.path_distance(states, goal), np.float64)  # (n*n,)
    cost[~valid], true[~valid] = np.nan, np.nan
    C, Tg = cost.reshape(n, n), true.reshape(n, n)
    ok = valid & np.isfinite(cost)
    rho = _spearman(cost[ok], true[ok])
    # greedy step: for each valid cell, the valid neighbour with the lowest latent cost
    pad_c = np.pad(C, 1, constant_values=np.nan)
    pad_t = np.pad(Tg, 1, constant_values=np.nan)
    offs = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
    nb_c = np.stack([pad_c[1 + di:1 + di + n, 1 + dj:1 + dj + n] for di, dj in offs])  # (8, n, n)
    nb_t = np.stack([pad_t[1 + di:1 + di + n, 1 + dj:1 + dj + n] for di, dj in offs])  # (8, n, n)
    step = (xs[1] - xs[0]) if n > 1 else 1.0
    has = np.isfinite(nb_c).any(0) & np.isfinite(Tg) & (Tg > 1.5 * abs(step))  # (n, n)
    greedy = float("nan")
    if has.any():
        best = np.nanargmin(np.where(np.isfinite(nb_c), nb_c, np.inf), axis=0)  # (n, n)
        t_best = np.take_along_axis(nb_t, best[None], 0)[0]  # (n, n)
        greedy = float((t_best[has] < Tg[has]).mean())
    return GoalLandscape(xs=xs, ys=ys, cost=C, true_dist=Tg, goal=goal, dims=dims, spearman=rho,
                         greedy_accuracy=greedy)


def goal_cost_landscapes(model, env, goals: Sequence[ArrayLike], n: int = 24, **kw) -> list[GoalLandscape]:
    """:func:`goal_cost_landscape` for several goals, sharing the grid encoding where it repeats."""
    cache: dict = {}
    return [goal_cost_landscape(model, env, g, n=n, cache=cache, **kw) for g in goals]


def landscape_summary(ls: Sequence[GoalLandscape]) -> dict[str, Any]:
    """Mean Spearman ρ and greedy-step accuracy over landscapes (plus the per-goal values)."""
    if isinstance(ls, (str, bytes)) or not hasattr(ls, "__iter__"):  # None was "object of type 'NoneType' has no len()"
        raise TypeError(f"landscape_summary(ls=...) must be a list of GoalLandscape (goal_cost_landscapes(...)), "
                        f"got {type(ls).__name__}")
    ls = list(ls)
    bad = [i for i, l in enumerate(ls) if not isinstance(l, GoalLandscape)]
    if bad:  # [1, 2] was "'int' object has no attribute 'spearman'"
        raise TypeError(f"landscape_summary(ls=...) must be a list of GoalLandscape, item {bad[0]} is a "
                        f"{type(ls[bad[0]]).__name__}")
    if len(ls) == 0:  # was NaN means of no goals, with numpy's "Mean of empty slice"
        raise ValueError("landscape_summary needs at least one goal landscape, got none")
    rho, greedy = [l.spearman for l in ls], [l.greedy_accuracy for l in ls]
    return {"spearman": float(np.nanmean(rho)), "greedy_accuracy": float(np.nanmean(greedy)), "goals": len(ls),
            "spearman_per_goal": rho, "greedy_accuracy_per_goal": greedy}


def landscape_score(model, env, goals: Sequence[ArrayLike], n: int = 24, **kw) -> dict[str, Any]:
    """One number pair for "does ‖z − z_goal‖² behave like a distance to go?": the
    :func:`landscape_summary` of :func:`goal_cost_landscapes`."""
    return landscape_summary(goal_cost_landscapes(model, env, goals, n=n, **kw))
