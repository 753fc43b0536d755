"""The solvers by name: ``plan(cost_fn, P, K, cfg)`` runs the one ``cfg.solver`` names."""
from __future__ import annotations

from typing import Callable

from ..validate import Range, check_value

from .cem import cem
from .config import PlannerConfig
from .grad import grad_plan
from .mppi import mppi
from .records import PlanResult
from .sampling import check_call

SOLVERS = {"cem": cem, "mppi": mppi, "grad": grad_plan}


def plan(cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig, **kw) -> PlanResult:
    """Dispatch to the solver named in ``cfg.solver``."""
    for name, v in (("horizon", horizon), ("action_dim", action_dim)):
        check_value(f"plan: {name}", v, Range(lo=1), int)
    if not isinstance(cfg, PlannerConfig):
        raise ValueError(f"plan: cfg must be a lewm.planning.PlannerConfig, got {type(cfg).__name__}")
    check_call("plan", cost_fn, horizon, action_dim, cfg, kw.get("device"), kw.get("record", False))
    return SOLVERS[cfg.solver](cost_fn, horizon, action_dim, cfg, **kw)
