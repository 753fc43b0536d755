"""Model-predictive path integral (MPPI): CEM's loop with soft elites.

Instead of refitting to the k best candidates, every candidate gets the weight
``softmax(-(cost - min cost) / (temperature * cost spread))`` and the new mean (and std) is the
weighted average of all of them. A candidate whose cost is NaN/inf gets weight 0 (the spread is the
finite costs').
"""
from __future__ import annotations

from typing import Callable

import torch

from .config import PlannerConfig
from .records import PlanResult
from .sampling import check_call, sampling_planner


def mppi(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
         init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
         device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Model-predictive path integral: exponentially weighted average of sampled sequences. Every
    candidate and the plan lie within ``bounds``."""
    check_call("mppi", cost_fn, horizon, action_dim, cfg, device, record)
    def update(cand, costs, elite):
        # evaluate_cost made every non-finite cost +inf, and kept at least one finite: those get weight 0 and the
        # spread is the finite costs' (one inf made the spread inf and every weight NaN, round 17); the divisor is
        # kept above float32's smallest normal (a temperature of 1e-45 underflowed it to 0: 0/0 weights)
        fin = torch.isfinite(costs)
        lo = costs.min()
        spread = (torch.where(fin, costs, lo).max() - lo).clamp_min(1e-8)
        div = (cfg.temperature * spread).clamp_min(torch.finfo(costs.dtype).tiny)
        w = torch.softmax(torch.where(fin, -(costs - lo) / div, float("-inf")), dim=0)[:, None, None]  # (N, 1, 1)
        mean = (w * cand).sum(0)  # (P, K)
        return mean, (w * (cand - mean) ** 2).sum(0).sqrt()  # (P, K), (P, K)

    return sampling_planner(update, cost_fn, horizon, action_dim, cfg, init_mean, bounds, generator,
                            device, dtype, record)
