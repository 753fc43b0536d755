"""The planning cost with the predictor's rollout compiled by ``torch.compile`` (inductor).

One CEM iteration rolls the predictor over 300 candidates x 5 blocks. Its matrices are small
(300-900 rows x 128-192 columns), so on a CPU the many elementwise steps around them — AdaLN's
shift / scale / gate, LayerNorm, GELU, SiLU, the residual adds and, under bf16, the casts — take
as long as the matmuls. Inductor fuses them into a few vectorised C++ loops. Measured on this
project's 2-core CPU (one thread, shipped agents, bf16, per CEM iteration; docs/benchmarks.md):
PushT 0.44 -> 0.16 s (x2.8 against the plain fp32 rollout; x1.7 for the eager lean bf16 rollout).

The compilation happens on the first call for each shape — the candidate count N and the context
length H0 (1..history while an episode's first blocks fill it) — and costs tens of seconds per shape
on this CPU; compiled code is then reused by every later plan of the process (cached on the model).
So it pays off for evaluations and long planning sessions, not for one plan. Calls with fewer than
``MIN_CANDIDATES`` candidates (CEM's final mean, N = 1) run the eager lean rollout.

``CompiledGoalCost`` computes what :class:`lewm.planning.cost.LatentGoalCost` computes (same function;
at fp32 equal to ~1e-6, tested) and is a drop-in ``cost_fn`` for the planners; pass ``bf16`` to run
the rollout under bf16 autocast (the cost itself stays fp32). Gradient-based planning (``grad``)
runs eagerly: the compiled function is traced for inference only.
"""
from __future__ import annotations

import torch

from .. import _api_checks as chk
from .cost import LatentGoalCost
from ..model import LeWM

MIN_CANDIDATES = 16
"""Candidate batches smaller than this run eagerly (a compilation would cost more than it saves)."""


def compiled_rollout(model: LeWM):
    """``model._lean_rollout`` compiled (static shapes), made once per model and kept on it."""
    fn = model.__dict__.get("_compiled_lean_rollout")
    if fn is None:
        fn = torch.compile(model._lean_rollout, dynamic=False)
        model.__dict__["_compiled_lean_rollout"] = fn
    return fn


class CompiledGoalCost(LatentGoalCost):
    """``LatentGoalCost`` whose rollout runs compiled (see the module docstring).

    bf16: the rollout under bf16 autocast on the model's device (the distances stay fp32).
    """

    def __init__(self, model: LeWM, z_hist: torch.Tensor, z_goal: torch.Tensor,
                 act_hist: torch.Tensor | None = None, steps: str = "last", bf16: bool = False):
        if model.training:
            raise ValueError("CompiledGoalCost needs the model in eval mode (BatchNorm running statistics, "
                             "no dropout): call model.eval() first")
        super().__init__(model, z_hist, z_goal, act_hist, steps=steps)
        self.bf16 = chk.flag("CompiledGoalCost", "bf16", bf16)
        self.device_type = z_hist.device.type

    def imagine(self, actions: torch.Tensor) -> torch.Tensor:
        """actions (N, P, K) -> imagined latents (N, P, D)."""
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            if actions.shape[0] < MIN_CANDIDATES or torch.is_grad_enabled():
                return super().imagine(actions)
            z, a_prev = self.model.context_window(self.z_hist, self.act_hist, actions)  # (B, H0, D), (B, H0-1, K)
            return compiled_rollout(self.model)(z.contiguous(), a_prev.contiguous(), actions)  # (N, P, D)


def compiled_cost_factory(bf16: bool = False):
    """A ``run_episode(cost_factory=...)`` that plans with :class:`CompiledGoalCost`."""
    chk.flag("compiled_cost_factory", "bf16", bf16)  # 'no' was taken as True
    def factory(model, z_hist, z_goal, a_hist, steps):
        return CompiledGoalCost(model, z_hist, z_goal, a_hist, steps=steps, bf16=bf16)
    return factory
