"""Planning in latent space: CEM, MPPI and gradient descent over action blocks, plus MPC.

Planners are pure functions of a cost function ``cost_fn(actions (N, P, K)) -> costs (N,)``
(or ``(costs (N,), final latents (N, D))``) and return a ``PlanResult`` record with everything a
step-by-step "imagination" view needs: per-iteration candidate costs, elite indices, elite mean
and std, and (when the cost is a world-model cost) the best imagined latent trajectory.

Actions live in the model's normalised (z-scored) space; ``bounds`` clip candidates to the
normalised image of the environment's box [-1, 1].
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from .config import LeWMConfig
from .data import ActionStats
from .goal_cost import LatentGoalCost  # noqa: F401  (re-exported: lewm.planning.LatentGoalCost)
from .graphed_cost import graphed_goal_cost
from .model import LeWM


@dataclass(frozen=True)
class PlannerConfig:
    """Solver settings (DESIGN §2 defaults)."""

    solver: str = "cem"
    """'cem' | 'mppi' | 'grad'."""
    horizon: int = 5
    """Planning horizon P in action blocks (each block = frameskip env steps)."""
    num_samples: int = 300
    """Candidate action sequences per iteration (CEM / MPPI)."""
    topk: int = 30
    """Elites kept per CEM iteration."""
    iterations: int = 10
    """Optimisation iterations per plan (the paper: 30 for PushT, 10 otherwise)."""
    init_std: float = 1.0
    """Initial sampling std in the normalised action space."""
    min_std: float = 0.05
    """Floor on the sampling std (keeps exploring)."""
    temperature: float = 0.1
    """MPPI: softmax temperature, relative to the spread of the iteration's costs."""
    grad_lr: float = 0.1
    """Gradient planner: Adam learning rate on the actions."""
    grad_restarts: int = 16
    """Gradient planner: parallel random initialisations (the best one is returned)."""
    receding_horizon: int = 1
    """MPC: action blocks executed before re-planning."""
    warm_start: bool = True
    """MPC: initialise each plan with the previous plan shifted by the executed blocks."""
    cost_steps: str = "last"
    """Which imagined latents the goal cost reads: 'last' = ``‖ẑ_P − z_goal‖²`` only (the paper,
    DESIGN §2), or 'all' = the mean of ``‖ẑ_p − z_goal‖²`` over the P imagined blocks. A
    terminal-only cost is indifferent to *when* the goal is reached, so the CEM mean spreads the
    move over the whole horizon and receding-horizon MPC closes only ~1/P of the remaining gap per
    plan; 'all' rewards arriving early."""

    def __post_init__(self):
        if self.solver not in ("cem", "mppi", "grad"):
            raise ValueError(f"unknown solver '{self.solver}'; choose cem, mppi or grad")
        if not 1 <= self.topk <= self.num_samples:
            raise ValueError(f"topk must be in [1, num_samples={self.num_samples}], got {self.topk}")
        if not 1 <= self.receding_horizon <= self.horizon:
            raise ValueError(f"receding_horizon must be in [1, horizon={self.horizon}]")
        if self.cost_steps not in ("last", "all"):
            raise ValueError(f"cost_steps must be 'last' or 'all', got {self.cost_steps!r}")


@dataclass
class IterationRecord:
    costs: torch.Tensor
    """(N,) cost of every candidate this iteration."""
    elite_idx: torch.Tensor
    """(k,) indices of the elites (lowest costs) among the candidates."""
    mean: torch.Tensor
    """(P, K) sampling mean after the update."""
    std: torch.Tensor
    """(P, K) sampling std after the update."""
    best_cost: float
    candidates: torch.Tensor | None = None
    """(N, P, K) the candidates (only with ``record=True``)."""
    final_latents: torch.Tensor | None = None
    """(N, D) imagined last latents of the candidates (only with ``record=True`` and a latent cost)."""


@dataclass
class PlanResult:
    actions: torch.Tensor
    """(P, K) the plan (normalised actions)."""
    cost: float
    """Cost of the plan."""
    iterations: list[IterationRecord] = field(default_factory=list)
    imagined: torch.Tensor | None = None
    """(P, D) the plan's imagined latent trajectory (latent costs only)."""
    seconds: float = 0.0


def _eval(cost_fn, a: torch.Tensor):
    out = cost_fn(a)
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, None


def _clip(a: torch.Tensor, bounds) -> torch.Tensor:
    if bounds is None:
        return a
    lo, hi = bounds
    return torch.maximum(torch.minimum(a, hi), lo)


def _prepare(P: int, K: int, init_mean, bounds, device, dtype):
    mean = torch.zeros(P, K, device=device, dtype=dtype) if init_mean is None else init_mean.to(device, dtype).clone()
    if bounds is not None:
        bounds = tuple(torch.as_tensor(b, device=device, dtype=dtype).expand(K) for b in bounds)
    return mean, bounds


@torch.no_grad()
def _sampling_planner(update: Callable, cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig,
                      init_mean, bounds, generator, device, dtype, record: bool) -> PlanResult:
    """Shared loop of the sampling planners: sample around (mean, std), clip, keep the mean as
    candidate 0, score, then ``update(cand, costs) -> (mean, std)``; the plan is the final mean."""
    t0 = time.perf_counter()
    P, K, N = horizon, action_dim, cfg.num_samples
    mean, bounds = _prepare(P, K, init_mean, bounds, device, dtype)
    std = torch.full_like(mean, cfg.init_std)
    on_device = []  # per-iteration tensors, copied to the host once at the end (no sync per iteration)
    for _ in range(cfg.iterations):
        eps = _randn((N, P, K), generator, mean.device, dtype)  # (N, P, K)
        cand = _clip(mean + std * eps, bounds)  # (N, P, K)
        cand[0] = mean
        costs, zf = _eval(cost_fn, cand)  # (N,), (N, D)
        costs = costs.float()
        elite = torch.topk(costs, cfg.topk, largest=False).indices  # (k,)
        mean, std = update(cand, costs, elite)  # (P, K), (P, K)
        std = std.clamp_min(cfg.min_std)
        on_device.append((costs, elite, mean, std, cand if record else None,
                          zf if (record and zf is not None) else None))
    final_cost, _ = _eval(cost_fn, mean[None])
    recs = [IterationRecord(c.cpu(), e.cpu(), m.cpu(), sd.cpu(), float(c[e[0]]),
                            cd.cpu() if cd is not None else None, z.cpu() if z is not None else None)
            for c, e, m, sd, cd, z in on_device]
    return PlanResult(mean, float(final_cost[0]), recs, seconds=time.perf_counter() - t0)


def _randn(shape, generator, device, dtype) -> torch.Tensor:
    """Standard normal noise drawn by ``generator`` on its own device, then moved to ``device``: a
    CPU generator gives the same candidates whether the model runs on the CPU or a GPU."""
    gdev = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gdev, dtype=dtype).to(device)


def cem(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
        init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
        device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Cross-entropy method: refit (mean, std) to the top-k candidates. The current mean is always
    candidate 0; the plan is the final mean."""
    def update(cand, costs, elite):
        el = cand[elite]  # (k, P, K)
        return el.mean(0), el.std(0, unbiased=False)

    return _sampling_planner(update, cost_fn, horizon, action_dim, cfg, init_mean, bounds, generator,
                             device, dtype, record)


def mppi(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
         init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
         device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Model-predictive path integral: exponentially weighted average of sampled sequences."""
    def update(cand, costs, elite):
        spread = (costs.max() - costs.min()).clamp_min(1e-8)
        w = torch.softmax(-(costs - costs.min()) / (cfg.temperature * spread), dim=0)[:, None, None]  # (N, 1, 1)
        mean = (w * cand).sum(0)  # (P, K)
        return mean, (w * (cand - mean) ** 2).sum(0).sqrt()

    return _sampling_planner(update, cost_fn, horizon, action_dim, cfg, init_mean, bounds, generator,
                             device, dtype, record)


def grad_plan(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
              init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
              device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Adam on the action sequence through the differentiable cost, from ``grad_restarts`` starts
    (the first is ``init_mean``); each iteration is one Adam step. Returns the best sequence."""
    t0 = time.perf_counter()
    P, K, R = horizon, action_dim, cfg.grad_restarts
    mean, bounds = _prepare(P, K, init_mean, bounds, device, dtype)
    a0 = mean[None] + cfg.init_std * _randn((R, P, K), generator, mean.device, dtype)
    a0[0] = mean
    a = _clip(a0, bounds).requires_grad_(True)  # (R, P, K)
    opt = torch.optim.Adam([a], lr=cfg.grad_lr)
    recs = []
    steps = max(cfg.iterations, 1) * 3
    for it in range(steps):
        with torch.enable_grad():
            costs, zf = _eval(cost_fn, a)  # (R,)
            opt.zero_grad()
            costs.sum().backward()
        opt.step()
        with torch.no_grad():
            a.copy_(_clip(a, bounds))
        order = torch.argsort(costs.detach())
        recs.append(IterationRecord(costs.detach().cpu(), order[: min(cfg.topk, R)].cpu(),
                                    a.detach()[order[0]].cpu(), a.detach().std(0).cpu(),
                                    float(costs.detach().min()), a.detach().cpu() if record else None,
                                    zf.detach().cpu() if (record and zf is not None) else None))
    with torch.no_grad():
        costs, _ = _eval(cost_fn, a.detach())
        best = int(torch.argmin(costs))
    return PlanResult(a.detach()[best], float(costs[best]), recs, seconds=time.perf_counter() - t0)


SOLVERS = {"cem": cem, "mppi": mppi, "grad": grad_plan}


def plan(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig, **kw) -> PlanResult:
    """Dispatch to the solver named in ``cfg.solver``."""
    return SOLVERS[cfg.solver](cost_fn, horizon, action_dim, cfg, **kw)


# ---------------------------------------------------------------------------------------------
# The world-model cost: lewm/goal_cost.py (eager) and lewm/graphed_cost.py (CUDA graphs).
# ---------------------------------------------------------------------------------------------
def action_bounds(stats: ActionStats, frameskip: int, low: float = -1.0, high: float = 1.0):
    """Normalised-space bounds of a block of ``frameskip`` raw actions in [low, high]."""
    lo = torch.as_tensor(np.tile((low - stats.mean) / stats.std, frameskip), dtype=torch.float32)
    hi = torch.as_tensor(np.tile((high - stats.mean) / stats.std, frameskip), dtype=torch.float32)
    return lo, hi


def to_pixels_tensor(frames: np.ndarray, device) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> (1, T, 3, S, S) on device."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)[None].to(device)


# ---------------------------------------------------------------------------------------------
# MPC episode runner.
# ---------------------------------------------------------------------------------------------
@dataclass
class EpisodeResult:
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
    captured CUDA graphs (``lewm.graphed_cost``; same numbers, far fewer launches).
    ``cost_factory(model, z_hist, z_goal, a_hist, steps) -> cost_fn`` replaces the world-model cost
    (diagnostics: e.g. the true dynamics with the learned cost, ``scripts/oracle_split.py``).
    """
    from .precision import resolve_precision
    from .data import action_stats_of
    mc = cfg.model
    dev = next(model.parameters()).device
    bf16 = resolve_precision(precision, dev, "plan")
    graphed = dev.type == "cuda" and cuda_graphs and not model.training
    stats = action_stats_of(cfg)
    bounds = action_bounds(stats, mc.frameskip)
    k, A, K = mc.frameskip, mc.action_dim, mc.action_block_dim
    obs, info = env.reset(state=np.asarray(start_state), goal=np.asarray(goal_state))
    goal_frame = env.render_state(goal_state)
    with torch.no_grad():
        z_goal = model.encode(to_pixels_tensor(goal_frame[None], dev))[0, 0]  # (D,)
    frames, states, actions = [obs], [info["state"]], []
    z_ctx, a_ctx = [], []  # latents of block-boundary frames, normalised blocks between them
    secs, costs, plans = [], [], []
    mean = None
    success, first = bool(info["success"]), (0 if info["success"] else None)
    steps = 0
    while steps < budget and not (success and stop_on_success):
        with torch.no_grad():
            z_ctx.append(model.encode(to_pixels_tensor(obs[None], dev))[0, 0])  # (D,)
        z_ctx, a_ctx = z_ctx[-mc.history:], a_ctx[-(mc.history - 1):] if mc.history > 1 else []
        z_hist = torch.stack(z_ctx)[None]  # (1, H0, D)
        a_hist = torch.stack(a_ctx)[None] if a_ctx else None  # (1, H0-1, K)
        if cost_factory is not None:
            cost = cost_factory(model, z_hist, z_goal, a_hist, pcfg.cost_steps)
        elif graphed:
            cost = graphed_goal_cost(model, z_hist, z_goal, a_hist, steps=pcfg.cost_steps, bf16=bf16)
        else:
            cost = LatentGoalCost(model, z_hist, z_goal, a_hist, steps=pcfg.cost_steps)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16 and not graphed and cost_factory is None):
            res = plan(cost, pcfg.horizon, K, pcfg, init_mean=mean if pcfg.warm_start else None,
                       bounds=bounds, generator=generator, device=dev, record=record_plans)
        if record_plans:
            with torch.no_grad():
                res.imagined = cost.imagine(res.actions[None])[0].cpu()
            plans.append(res)
        secs.append(res.seconds)
        costs.append(res.cost)
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
                         np.asarray(actions, np.float32).reshape(-1, A), secs, costs, goal_frame, first, plans)
