"""The world-model goal cost of a candidate action sequence: roll the predictor, compare to the goal.

``LatentGoalCost(actions (N, P, K)) -> (costs (N,), final latents (N, D))`` — the planners' cost
function (DESIGN §2). ``lewm.planning.graphed_cost.GraphedGoalCost`` computes the same on CUDA from captured
graphs.
"""
from __future__ import annotations

import torch

from ..model import LeWM


class LatentGoalCost:
    """cost(actions) = ‖ẑ_P − z_goal‖² of the last imagined latent (DESIGN §2), or with
    ``steps='all'`` the mean of ``‖ẑ_p − z_goal‖²`` over every imagined block p = 1..P.

    The context and the goal are encoded once, at construction; every call batches all candidates
    through one predictor call per plan step (``LeWM.rollout``).
    """

    def __init__(self, model: LeWM, z_hist: torch.Tensor, z_goal: torch.Tensor,
                 act_hist: torch.Tensor | None = None, steps: str = "last", lean: bool = True):
        if steps not in ("last", "all"):
            raise ValueError(f"steps must be 'last' or 'all', got {steps!r}")
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
        return self.model.rollout(self.z_hist, actions, self.act_hist, **kw)  # (N, P, D)

    def __call__(self, actions: torch.Tensor):
        z = self.imagine(actions).float()  # (N, P, D): fp32 distances, also under bf16 autocast
        zf = z[:, -1]  # (N, D)
        if self.steps == "all":
            return ((z - self.z_goal[:, None]) ** 2).sum(-1).mean(1), zf  # (N,), (N, D)
        return ((zf - self.z_goal) ** 2).sum(-1), zf  # (N,), (N, D)
