"""The MPC episode runner: plan in latent space, execute the first blocks, re-plan, until success.

``run_episode(env, model, cfg, pcfg, start, goal)`` is the paper's control loop (DESIGN §2):
encode the current frame, plan ``pcfg.horizon`` action blocks against the goal latent, execute
``pcfg.receding_horizon`` of them in the environment, and start again from the new frame, warm-
starting from the rest of the previous plan. The environment is passed in (planning never
builds one); success is the environment's own test at any step within the budget.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .. import _api_checks as chk
from ..config import LeWMConfig
from ..data import action_stats_of
from ..env_names import env_key
from ..model import LeWM
from ..precision import resolve_precision
from ..validate import Range, check_value
from .config import PlannerConfig
from .cost import LatentGoalCost
from .env_space import action_bounds, check_planner, check_state, to_pixels_tensor
from .graphed_cost import graphed_goal_cost
from .records import PlanResult
from .solvers import plan


@dataclass
class EpisodeResult:
    """One MPC episode: what happened in the environment and what the planner did."""

    success: bool
    steps: int
    frames: np.ndarray
    """(L, S, S, 3) every rendered frame, start included."""
    states: np.ndarray
    """(L, Q) true states."""
    actions: np.ndarray
    """(L-1, A) raw actions executed."""
    plan_seconds: list[float]
    plan_costs: list[float]
    goal_frame: np.ndarray
    first_success_step: int | None = None
    plans: list[PlanResult] = field(default_factory=list)
    plan_iterations: list[int] = field(default_factory=list)
    """Solver iterations each plan ran (fewer than ``pcfg.iterations`` when ``stop_tol`` stopped it early)."""


def _train_mode_layers(model) -> list[str]:
    """The kinds of layer of ``model`` in training mode whose forward depends on it (BatchNorm, Dropout):
    an analytic model left in training mode (no such layer) plans the same either way."""
    if not getattr(model, "training", False) or not callable(getattr(model, "modules", None)):
        return []
    kinds = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.dropout._DropoutNd)
    return sorted({type(m).__name__ for m in model.modules() if m.training and isinstance(m, kinds)})


def _takes_mean_weight(factory) -> bool:
    """Whether ``factory`` accepts a ``mean_weight=`` keyword (a parameter of that name, or ``**kwargs``);
    True when its signature cannot be read (a builtin): then the call itself says."""
    import inspect
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind == p.VAR_KEYWORD or (p.name == "mean_weight" and p.kind != p.POSITIONAL_ONLY) for p in params)


def run_episode(env, model: LeWM, cfg: LeWMConfig, pcfg: PlannerConfig, start_state, goal_state,
                budget: int = 50, generator: torch.Generator | None = None, record_plans: bool = False,
                stop_on_success: bool = True, precision: str = "fp32", cuda_graphs: bool = True,
                cost_factory: Callable | None = None) -> EpisodeResult:
    """Receding-horizon MPC in latent space from ``start_state`` to ``goal_state``.

    Each plan covers ``pcfg.horizon`` blocks of ``frameskip`` env steps; the first
    ``receding_horizon`` blocks are de-normalised, clipped to [-1, 1] and executed, then we
    re-plan from the new observation. Success = the env's test at any step within ``budget``.
    ``precision``: 'fp32' | 'bf16' | 'auto' (``lewm.precision.resolve_precision``) for the model's
    rollouts; costs and CEM statistics stay fp32. On CUDA with ``cuda_graphs`` the cost replays
    captured CUDA graphs (:mod:`lewm.planning.graphed_cost`; same numbers, far fewer launches).
    ``cost_factory(model, z_hist, z_goal, a_hist, steps) -> cost_fn`` replaces the world-model cost (called
    with ``mean_weight=`` too when ``pcfg.cost_mean_weight`` is set)
    (diagnostics: e.g. the true dynamics with the learned cost, ``scripts/oracle_split.py``); with
    ``record_plans`` a plan's ``imagined`` is filled only when that cost has an ``imagine`` method.
    """
    check_planner(pcfg)
    if not callable(getattr(model, "encode", None)) or not callable(getattr(model, "parameters", None)):
        chk.model("run_episode", model)  # was: AttributeError on 'parameters'
    if train_mode := _train_mode_layers(model):  # BatchNorm's "Expected more than 1 value per channel" at the first plan
        raise ValueError(f"run_episode(model=...) is in training mode: call model.eval() first (planning is eval-only; "
                         f"its {', '.join(train_mode)} layers act differently in training; the model is not switched "
                         f"for you)")
    chk.config("run_episode", cfg)  # a dict was AttributeError 'dict' object has no attribute 'env'
    check_value("budget", budget, Range(lo=1), int)  # 0 or -5 returned an episode of no step
    for name, v in (("record_plans", record_plans), ("stop_on_success", stop_on_success), ("cuda_graphs", cuda_graphs)):
        chk.flag("run_episode", name, v)  # 'no' was taken as True
    if cost_factory is not None and not callable(cost_factory):  # was: 'int' object is not callable, mid-episode
        raise TypeError(f"run_episode(cost_factory=...) must be None or callable: cost_factory(model, z_hist, z_goal, "
                        f"a_hist, steps) -> cost_fn, got {type(cost_factory).__name__}")
    if cost_factory is not None and pcfg.cost_mean_weight and not _takes_mean_weight(cost_factory):
        raise TypeError(f"run_episode(cost_factory=...) takes no mean_weight but pcfg.cost_mean_weight="
                        f"{pcfg.cost_mean_weight:g} passes it: add a mean_weight=0.0 parameter to the factory, or set "
                        f"cost_mean_weight=0")  # was: TypeError 'unexpected keyword argument' at the first plan
    if generator is not None and not isinstance(generator, torch.Generator):  # was found at the first plan
        raise TypeError(f"run_episode(generator=...) must be a torch.Generator (torch.Generator().manual_seed(0)) "
                        f"or None, got {type(generator).__name__}")
    start_state = check_state(env, start_state, "start_state", in_world=True)
    goal_state = check_state(env, goal_state, "goal_state", in_world=True)
    if cfg.env and getattr(env, "name", None) and env_key(cfg.env) != env_key(env.name):
        # was: a two_room model planned in a pusht world without a word (0% success)
        raise ValueError(f"the model was trained on {cfg.env!r} but the environment is {env.name!r}; "
                         f"plan in make({cfg.env!r})")
    mc = cfg.model
    dev = next(model.parameters()).device
    bf16 = resolve_precision(precision, dev, "plan")
    graphed = dev.type == "cuda" and cuda_graphs and not model.training
    stats = action_stats_of(cfg)
    bounds = action_bounds(stats, mc.frameskip)
    k, A, K = mc.frameskip, mc.action_dim, mc.action_block_dim
    obs, info = env.reset(state=start_state, goal=goal_state)
    goal_frame = env.render_state(goal_state)
    with torch.no_grad():
        z_goal = model.encode(to_pixels_tensor(goal_frame[None], dev))[0, 0]  # (D,)
    frames, states, actions = [obs], [info["state"]], []
    z_ctx, a_ctx = [], []  # latents of block-boundary frames, normalised blocks between them
    secs, costs, plans, iters = [], [], [], []
    mean = None
    success, first = bool(info["success"]), (0 if info["success"] else None)
    steps = 0
    while steps < budget and not (success and stop_on_success):
        with torch.no_grad():
            z_ctx.append(model.encode(to_pixels_tensor(obs[None], dev))[0, 0])  # (D,)
        z_ctx, a_ctx = z_ctx[-mc.history:], a_ctx[-(mc.history - 1):] if mc.history > 1 else []
        z_hist = torch.stack(z_ctx)[None]  # (1, H0, D)
        a_hist = torch.stack(a_ctx)[None] if a_ctx else None  # (1, H0-1, K)
        mw = pcfg.cost_mean_weight
        if cost_factory is not None:  # mean_weight only when set: factories written before it take none
            cost = cost_factory(model, z_hist, z_goal, a_hist, pcfg.cost_steps, **({"mean_weight": mw} if mw else {}))
        elif graphed:
            cost = graphed_goal_cost(model, z_hist, z_goal, a_hist, steps=pcfg.cost_steps, bf16=bf16, mean_weight=mw)
        else:
            cost = LatentGoalCost(model, z_hist, z_goal, a_hist, steps=pcfg.cost_steps, mean_weight=mw)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16 and not graphed and cost_factory is None):
            res = plan(cost, pcfg.horizon, K, pcfg, init_mean=mean if pcfg.warm_start else None,
                       bounds=bounds, generator=generator, device=dev, record=record_plans)
        if record_plans:
            if callable(getattr(cost, "imagine", None)):  # a plain cost_fn (cost_factory) has none: left None
                with torch.no_grad():
                    res.imagined = cost.imagine(res.actions[None])[0].cpu()
            plans.append(res)
        secs.append(res.seconds)
        costs.append(res.cost)
        iters.append(len(res.iterations))
        R = pcfg.receding_horizon
        for b in range(R):
            block = res.actions[b]  # (K,)
            raw = stats.denormalize(block.detach().cpu().numpy().reshape(k, A)).clip(-1, 1)  # (k, A)
            for a in raw:
                obs, _, _, _, info = env.step(a)
                frames.append(obs)
                states.append(info["state"])
                actions.append(a.astype(np.float32))
                steps += 1
                if info["success"] and not success:
                    success, first = True, steps
                if steps >= budget or (success and stop_on_success):
                    break
            a_ctx.append(torch.as_tensor(stats.normalize(raw).reshape(K), dtype=torch.float32, device=dev))
            if steps >= budget or (success and stop_on_success):
                break
            if b < R - 1:  # executed block boundary inside the receding horizon: extend the context
                with torch.no_grad():
                    z_ctx.append(model.encode(to_pixels_tensor(obs[None], dev))[0, 0])
        shifted = res.actions[R:]
        mean = torch.cat([shifted, torch.zeros(R, K, device=dev)], 0)  # (P, K) warm start
    return EpisodeResult(success, steps, np.stack(frames), np.stack(states),
                         np.asarray(actions, np.float32).reshape(-1, A), secs, costs, goal_frame, first, plans,
                         iters)
