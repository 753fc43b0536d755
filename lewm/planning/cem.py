"""The cross-entropy method (CEM): the paper's planner, hand-written because it is the lesson.

Keep a Gaussian over action sequences, mean (P, K) and std (P, K), starting at mean 0, std 1 in
the normalised action space. Each iteration:

1. draw N candidate sequences ``mean + std * eps`` (clipped to the action box), with the current
   mean itself as candidate 0 (so the plan never gets worse than what we had);
2. score them all with the world model's goal cost (one batched rollout);
3. keep the k lowest-cost candidates (the elites) and refit mean and std to them
   (the std floored at ``min_std`` so the search keeps exploring).

After ``iterations`` rounds the plan is the final mean. The loop itself is shared with MPPI
(:mod:`.sampling`); CEM is its ``update``.
"""
from __future__ import annotations

from typing import Callable

import torch

from .config import PlannerConfig
from .records import PlanResult
from .sampling import check_call, sampling_planner


def cem(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig = PlannerConfig(), *,
        init_mean: torch.Tensor | None = None, bounds=None, generator: torch.Generator | None = None,
        device=None, dtype=torch.float32, record: bool = False) -> PlanResult:
    """Cross-entropy method: refit (mean, std) to the top-k candidates. The current mean is always
    candidate 0; the plan is the final mean. Every candidate and the plan lie within ``bounds``."""
    check_call("cem", cost_fn, horizon, action_dim, cfg, device, record)
    def update(cand, costs, elite):
        el = cand[elite]  # (k, P, K)
        return el.mean(0), el.std(0, unbiased=False)  # (P, K), (P, K)

    return sampling_planner(update, cost_fn, horizon, action_dim, cfg, init_mean, bounds, generator,
                            device, dtype, record)
