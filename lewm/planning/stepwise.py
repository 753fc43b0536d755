"""Planning one step at a time, for a view that shows what the planner imagines.

The browser lab's Planner page (and any notebook) calls these instead of the MPC loop: build the
goal cost for one (start, goal) pair once (:func:`setup_plan`), run one plan with every CEM
iteration recorded (:func:`plan_recorded`), imagine any candidate (:func:`imagine_candidate`) and
check it against the real environment, open loop (:func:`execute_plan`). The environment is
passed in: planning never builds one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _api_checks as chk
from ..data import action_stats_of
from .cost import LatentGoalCost
from .env_space import action_bounds, check_actions, check_planner, check_state, to_pixels_tensor
from .records import PlanResult
from .solvers import plan


@dataclass
class PlanSetup:
    """Everything a step-by-step planning view needs for one (start, goal) pair."""

    start_frame: np.ndarray
    """(S, S, 3) rendered start."""
    goal_frame: np.ndarray
    """(S, S, 3) rendered goal."""
    z_start: np.ndarray
    """(D,) latent of the start frame."""
    z_goal: np.ndarray
    """(D,) latent of the goal frame."""
    cost: Any
    """The :class:`lewm.planning.LatentGoalCost`."""
    bounds: Any
    """Normalised action bounds (lo (K,), hi (K,))."""


def setup_plan(model, cfg, env, start_state, goal_state) -> PlanSetup:
    """Render and encode start and goal; build the latent goal cost of :mod:`lewm.planning`."""
    dev = next(model.parameters()).device
    start_frame = env.render_state(check_state(env, start_state, "start_state", in_world=True))  # (S, S, 3)
    goal_frame = env.render_state(check_state(env, goal_state, "goal_state", in_world=True))  # (S, S, 3)
    with torch.no_grad():
        z = model.encode(to_pixels_tensor(np.stack([start_frame, goal_frame]), dev))[0]  # (2, D)
    cost = LatentGoalCost(model, z[None, :1], z[1])
    bounds = action_bounds(action_stats_of(cfg), cfg.model.frameskip)
    return PlanSetup(start_frame, goal_frame, z[0].float().cpu().numpy(), z[1].float().cpu().numpy(), cost, bounds)


def plan_recorded(setup: PlanSetup, cfg, pcfg, seed: int = 0) -> PlanResult:
    """Run one plan with every iteration recorded (candidates and their final latents).

    Returns the :class:`lewm.planning.PlanResult` with ``imagined`` filled in.
    """
    check_planner(pcfg)
    _check_setup("plan_recorded", setup)
    chk.config("plan_recorded", cfg)
    seed = chk.whole("plan_recorded", "seed", seed, 0, 2**63 - 1)  # 2.5 was taken as 2, 'a' int()'s message
    dev = setup.cost.z_goal.device
    gen = torch.Generator(device=dev).manual_seed(seed)
    res = plan(setup.cost, pcfg.horizon, cfg.model.action_block_dim, pcfg, bounds=setup.bounds, generator=gen,
               device=dev, record=True)
    with torch.no_grad():
        res.imagined = setup.cost.imagine(res.actions[None].to(dev))[0].float().cpu()  # (P, D)
    return res


def _check_setup(fn: str, setup) -> PlanSetup:
    if not isinstance(setup, PlanSetup):
        raise TypeError(f"{fn}(setup=...) must be a PlanSetup (lewm.planning.setup_plan(...)), "
                        f"got {type(setup).__name__}")
    return setup


def imagine_candidate(setup: PlanSetup, actions) -> np.ndarray:
    """Imagined latents (P, D) of one normalised action sequence (P, K), clipped to ``setup.bounds`` first
    as :func:`execute_plan` clips the raw actions to the env's box (1e30 imagined NaN latents)."""
    _check_setup("imagine_candidate", setup)
    dev = setup.cost.z_goal.device
    K = int(setup.bounds[0].numel() if hasattr(setup.bounds[0], "numel") else np.size(setup.bounds[0]))
    lo, hi = (torch.as_tensor(b, dtype=torch.float32, device=dev) for b in setup.bounds)
    a = torch.as_tensor(check_actions(actions, K), device=dev)  # (P, K)
    a = torch.maximum(torch.minimum(a, hi), lo)  # (P, K) what the env can execute
    with torch.no_grad():
        return setup.cost.imagine(a[None])[0].float().cpu().numpy()  # (P, D)


def execute_plan(env, cfg, start_state, goal_state, actions) -> dict[str, np.ndarray]:
    """Execute normalised action blocks (P, K) open loop from ``start_state``.

    Returns ``frames`` (P+1, S, S, 3) at block boundaries (start included), ``states`` (P+1, Q),
    ``all_states`` (P*frameskip+1, Q) and ``distance`` (P+1,) to the goal by the env's measure.
    """
    stats = action_stats_of(cfg)
    k, A = cfg.model.frameskip, cfg.model.action_dim
    acts = check_actions(actions, cfg.model.action_block_dim)  # (P, K)
    start_state = check_state(env, start_state, "start_state", in_world=True)
    goal_state = check_state(env, goal_state, "goal_state", in_world=True)
    obs, info = env.reset(state=start_state, goal=goal_state)
    frames, states, all_states = [obs], [info["state"]], [info["state"]]
    for block in acts:
        raw = np.clip(stats.denormalize(block.reshape(k, A)), -1.0, 1.0)  # (k, A)
        for a in raw:
            obs, _, _, _, info = env.step(a)
            all_states.append(info["state"])
        frames.append(obs)
        states.append(info["state"])
    dist = np.asarray([env.success_distance(s, goal_state) for s in states], np.float32)  # (P+1,)
    return {"frames": np.stack(frames), "states": np.stack(states), "all_states": np.stack(all_states),
            "distance": dist}


def latent_distances(z: np.ndarray, z_goal: np.ndarray) -> np.ndarray:
    """Squared L2 distance of each latent z (N, D) to z_goal (D,): the planner's cost."""
    D = np.asarray(z_goal).shape[-1]
    if np.asarray(z_goal).ndim != 1 or np.asarray(z).shape[-1] != D:
        raise ValueError(f"latent_distances: z (N, D) and z_goal (D,) must share D, got {np.asarray(z).shape} "
                         f"and {np.asarray(z_goal).shape}")
    try:
        z, g = np.asarray(z, np.float32).reshape(-1, D), np.asarray(z_goal, np.float32)  # (N, D), (D,)
    except (TypeError, ValueError):
        raise ValueError("latent_distances: z and z_goal must be arrays of numbers") from None
    for name, a in (("z", z), ("z_goal", g)):  # a NaN made every distance NaN, without a word
        if not np.isfinite(a).all():
            raise ValueError(f"latent_distances: {name} holds NaN/inf ({int((~np.isfinite(a)).sum())} values); "
                             f"give finite latents")
    return ((z - g[None]) ** 2).sum(-1)  # (N,)


def canvas_grid(env, n: int = 40) -> tuple[np.ndarray, np.ndarray] | None:
    """A grid of clickable positions (n*n, 2) in state coordinates and the canvas extent, for
    environments whose first two state components are a position on the rendered canvas (those
    with a ``canvas`` side, Two-Room). None for other environments."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"canvas_grid needs n >= 2 points per side, got {n!r}")
    if n > 1000:  # 10**5 asked numpy for 74.5 GiB
        raise ValueError(f"canvas_grid(n=...) must be at most 1000 points per side (n*n positions), got {n!r}")
    if not hasattr(env, "state_bounds"):  # was: None ("not a canvas env") for None or a typo'd object
        raise TypeError(f"canvas_grid(env=...) must be an environment (lewm.envs.make(...)), got {type(env).__name__}")
    canvas = getattr(env, "canvas", None)
    if canvas is None or env.state_bounds is None:
        return None
    (lo, *_), (hi, *_) = env.state_bounds
    g = np.linspace(lo, hi, n)  # (n,)
    xx, yy = np.meshgrid(g, g)  # (n, n)
    return np.stack([xx.ravel(), yy.ravel()], 1), np.asarray([0.0, canvas])


def clamp_state(env, state) -> np.ndarray:
    """Make a user-entered state valid: first the env's own bounds (``Env.clip_state``: Reacher's joint
    speeds clipped to ±8 rad/s and angles wrapped; PushT is left alone); then, for canvas
    envs, the position clipped to the world's range and, if it is still not a state the env can be in
    (Two-Room: a click inside the wall), moved to the nearest position that is, on a ring search out to
    a quarter of the canvas."""
    s = check_state(env, state, "state").copy()
    if callable(getattr(env, "clip_state", None)):  # was: Reacher speeds of 100 rad/s returned unchanged
        s = np.asarray(env.clip_state(s), np.float64)
    if getattr(env, "canvas", None) is not None and env.state_bounds is not None:
        lo, hi = env.state_bounds
        s[:2] = np.clip(s[:2], lo[:2], hi[:2])
        if not bool(env.valid_states(s[None])[0]):
            ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            for r in np.arange(1.0, env.canvas / 4, 1.0):  # the nearest ring with a valid point
                cand = np.repeat(s[None], len(ang), 0)  # (16, Q)
                cand[:, :2] = np.clip(s[:2] + r * np.stack([np.cos(ang), np.sin(ang)], 1), lo[:2], hi[:2])
                ok = np.flatnonzero(env.valid_states(cand))
                if len(ok):
                    return cand[ok[0]]
    return s
