"""What a plan returns: the plan itself and, per iteration, everything a step-by-step view needs.

Every solver returns a :class:`PlanResult`; its ``iterations`` hold one :class:`IterationRecord`
per optimisation step (candidate costs, elite indices, the sampling mean and std after the update,
and with ``record=True`` the candidates and their imagined final latents).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


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
    """(P, D) the plan's imagined latent trajectory (latent costs only: None for a cost without ``imagine``)."""
    seconds: float = 0.0
