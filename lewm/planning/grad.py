"""Gradient planning: Adam on the action sequence, through the differentiable world-model cost.

The literature's alternative to CEM (84% vs 96% on PushT, DESIGN §2): cheaper per iteration, but
it follows the local slope of the cost and so gets stuck where CEM's sampling does not. Runs
``grad_restarts`` starts in parallel (the first is ``init_mean``) and returns the best.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from .config import PlannerConfig
from .records import IterationRecord, PlanResult
from .sampling import check_call, clip, evaluate_cost, prepare, randn


def grad_plan(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
              init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
              device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Adam on the action sequence through the differentiable cost, from ``grad_restarts`` starts
    (the first is ``init_mean``); each iteration is one Adam step. Returns the best sequence."""
    check_call("grad_plan", cost_fn, horizon, action_dim, cfg, device, record)
    t0 = time.perf_counter()
    P, K, R = horizon, action_dim, cfg.grad_restarts
    mean, bounds = prepare(P, K, init_mean, bounds, device, dtype)
    a0 = mean[None] + cfg.init_std * randn((R, P, K), generator, mean.device, dtype)  # (R, P, K)
    a0[0] = mean
    a = clip(a0, bounds).requires_grad_(True)  # (R, P, K)
    opt = torch.optim.Adam([a], lr=cfg.grad_lr)
    recs = []
    steps = max(cfg.iterations, 1) * 3
    for it in range(steps):
        with torch.enable_grad():
            costs, zf = evaluate_cost(cost_fn, a)  # (R,)
            if not costs.requires_grad:  # "element 0 of tensors does not require grad" from autograd
                raise ValueError("solver 'grad' needs a differentiable cost_fn (its costs carry no gradient: "
                                 "computed under no_grad or from detached actions); use solver 'cem' or 'mppi'")
            opt.zero_grad()
            costs.sum().backward()
        opt.step()
        with torch.no_grad():
            a.copy_(clip(a, bounds))
        order = torch.argsort(costs.detach())
        recs.append(IterationRecord(costs.detach().cpu(), order[: min(cfg.topk, R)].cpu(),
                                    a.detach()[order[0]].cpu(),
                                    (a.detach().std(0) if R > 1 else torch.zeros_like(a.detach()[0])).cpu(),  # 1 start: no spread
                                    float(costs.detach().min()), a.detach().cpu() if record else None,
                                    zf.detach().cpu() if (record and zf is not None) else None))
    with torch.no_grad():
        costs, _ = evaluate_cost(cost_fn, a.detach())
        best = int(torch.argmin(costs))
    return PlanResult(a.detach()[best], float(costs[best]), recs, seconds=time.perf_counter() - t0)
