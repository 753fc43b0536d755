"""The solvers by name: ``plan(cost_fn, P, K, cfg)`` runs the one ``cfg.solver`` names."""
from __future__ import annotations

from typing import Callable

from .cem import cem
from .config import PlannerConfig
from .grad import grad_plan
from .mppi import mppi
from .records import PlanResult

SOLVERS = {"cem": cem, "mppi": mppi, "grad": grad_plan}


def plan(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig, **kw) -> PlanResult:
    """Dispatch to the solver named in ``cfg.solver``."""
    return SOLVERS[cfg.solver](cost_fn, horizon, action_dim, cfg, **kw)
