"""Model-predictive path integral (MPPI): CEM's loop with soft elites.

Instead of refitting to the k best candidates, every candidate gets the weight
``softmax(-(cost - min cost) / (temperature * cost spread))`` and the new mean (and std) is the
weighted average of all of them.
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
        spread = (costs.max() - costs.min()).clamp_min(1e-8)
        w = torch.softmax(-(costs - costs.min()) / (cfg.temperature * spread), dim=0)[:, None, None]  # (N, 1, 1)
        mean = (w * cand).sum(0)  # (P, K)
        return mean, (w * (cand - mean) ** 2).sum(0).sqrt()  # (P, K), (P, K)

    return sampling_planner(update, cost_fn, horizon, action_dim, cfg, init_mean, bounds, generator,
                            device, dtype, record)
