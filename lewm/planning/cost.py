"""The world-model goal cost of a candidate action sequence: roll the predictor, compare to the goal.

``LatentGoalCost(actions (N, P, K)) -> (costs (N,), final latents (N, D))`` — the planners' cost
function (DESIGN §2). ``lewm.planning.graphed_cost.GraphedGoalCost`` computes the same on CUDA from captured
graphs.
"""
from __future__ import annotations

import torch

from ..model import LeWM
from ..validate import Range, check_value


def _check_inputs(model, z_hist, z_goal, act_hist) -> None:
    """One TypeError/ValueError naming the argument of ``LatentGoalCost`` (was: a numpy ``z_hist`` an
    AttributeError on 'detach', ``model=None`` constructed fine and failed at the first call)."""
    if not callable(getattr(model, "rollout", None)):  # duck-typed models (tests' analytic ones) have rollout
        raise TypeError(f"LatentGoalCost(model=...) must be a world model with a rollout method (lewm.model.LeWM, "
                        f"e.g. from lewm.checkpoint.load), got {type(model).__name__}")
    for name, v, want in (("z_hist", z_hist, "(1, H0, D)"), ("z_goal", z_goal, "(D,)"),
                          ("act_hist", act_hist, "(1, H0-1, K) or None")):
        if v is None and name == "act_hist":
            continue
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"LatentGoalCost({name}=...) must be a torch tensor {want}, got {type(v).__name__}"
                            f"{' (torch.from_numpy(...))' if hasattr(v, '__array__') else ''}")
        if not v.is_floating_point():
            raise TypeError(f"LatentGoalCost({name}=...) must be a floating tensor {want}, got {v.dtype}")
    if z_hist.ndim != 3 or z_hist.shape[1] < 1:  # (N, H0, D) is fine too: one context per candidate
        raise ValueError(f"LatentGoalCost(z_hist=...) must be a (1, H0, D) tensor of context latents, "
                         f"got shape {tuple(z_hist.shape)}")
    if act_hist is not None and act_hist.ndim != 3:
        raise ValueError(f"LatentGoalCost(act_hist=...) must be a (1, H0-1, K) tensor of past action blocks or None, "
                         f"got shape {tuple(act_hist.shape)}")


class LatentGoalCost:
    """cost(actions) = ‖ẑ_P − z_goal‖² of the last imagined latent (DESIGN §2), or with
    ``steps='all'`` the mean of ``‖ẑ_p − z_goal‖²`` over every imagined block p = 1..P, or with
    ``steps='min'`` their minimum (the goal reached at any block); ``mean_weight`` × the mean over the blocks
    is added to any of them (a tie-break toward arriving sooner, ``PlannerConfig.cost_mean_weight``).

    The context and the goal are encoded once, at construction; every call batches all candidates
    through one predictor call per plan step (``LeWM.rollout``).
    """

    def __init__(self, model: LeWM, z_hist: torch.Tensor, z_goal: torch.Tensor,
                 act_hist: torch.Tensor | None = None, steps: str = "last", lean: bool = True,
                 mean_weight: float = 0.0):
        if steps not in ("last", "all", "min"):
            raise ValueError(f"steps must be 'last', 'all' or 'min', got {steps!r}")
        _check_inputs(model, z_hist, z_goal, act_hist)  # shapes and types only: no device sync
        self.mean_weight = float(check_value("LatentGoalCost(mean_weight=...)", mean_weight, Range(lo=0.0, hi=100.0), float))
        self.steps, self.lean = steps, lean  # lean=False: the plain rollout (benchmarks' reference)
        self.model = model
        # The context is fixed: detached, so the 'grad' solver's backward reaches only the actions (a
        # z_hist encoded outside no_grad was "Trying to backward through the graph a second time")
        self.z_hist = z_hist.detach()  # (1, H0, D)
        self.z_goal = z_goal.detach().reshape(1, -1)  # (1, D)
        self.act_hist = None if act_hist is None else act_hist.detach()  # (1, H0-1, K)
        if self.z_goal.shape[1] != self.z_hist.shape[-1]:  # was a broadcast error at the first call
            raise ValueError(f"z_goal: expected {self.z_hist.shape[-1]} numbers (the latent dimension of z_hist), "
                             f"got shape {tuple(z_goal.shape)}")

    def imagine(self, actions: torch.Tensor) -> torch.Tensor:
        kw = {} if self.lean else {"lean": False}  # duck-typed models (tests' analytic ones) take no flag
        if isinstance(self.model, LeWM):  # no NaN check (a device sync) per CEM iteration: NaN costs are
            kw["check_finite"] = False  # handled by the planner (never an elite; all NaN is one error)
        return self.model.rollout(self.z_hist, actions, self.act_hist, **kw)  # (N, P, D)

    def __call__(self, actions: torch.Tensor):
        z = self.imagine(actions).float()  # (N, P, D): fp32 distances, also under bf16 autocast
        zf = z[:, -1]  # (N, D)
        d = ((z - self.z_goal[:, None]) ** 2).sum(-1)  # (N, P)
        c = d[:, -1] if self.steps == "last" else d.mean(1) if self.steps == "all" else d.min(1).values  # (N,)
        if self.mean_weight:
            c = c + self.mean_weight * d.mean(1)  # (N,)
        return c, zf  # (N,), (N, D)
