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

On the CPU two inductor options go with it (``CPU_INDUCTOR``): the compiled code calls its kernels from
C++ rather than from Python (``cpp_wrapper``), and the weights are frozen into it as constants
(``freezing``: their bf16 casts and oneDNN's packing done once at compile time, not at every call).
Together they took a Two-Room iteration from 18.2 to 14.3 ms on one AMX Xeon thread (docs/benchmarks.md,
session 18). Frozen weights are a copy: the rollout is compiled on a private copy of the model made when it
is compiled, and a change of the model's weights afterwards (an optimizer step, ``load_state_dict``) is
noticed at the next call, which compiles again on a fresh copy — never a plan with yesterday's weights.

``CompiledGoalCost`` computes what :class:`lewm.planning.cost.LatentGoalCost` computes (same function;
at fp32 equal to ~1e-6, tested) and is a drop-in ``cost_fn`` for the planners; pass ``bf16`` to run
the rollout under bf16 autocast (the cost itself stays fp32). Gradient-based planning (``grad``)
runs eagerly: the compiled function is traced for inference only.
"""
from __future__ import annotations

import contextlib
import itertools

import torch

from .. import _api_checks as chk
from .cost import LatentGoalCost
from ..model import LeWM

MIN_CANDIDATES = 16
"""Candidate batches smaller than this run eagerly (a compilation would cost more than it saves)."""


CPU_INDUCTOR = {"cpp_wrapper": True, "freezing": True}
"""Inductor settings for the compiled rollout on a CPU (see the module docstring)."""


def _weights_key(model: LeWM) -> tuple:
    """Changes when any weight or buffer is modified in place (its version counter) or replaced (its storage)."""
    return tuple((t.data_ptr(), t._version) for t in itertools.chain(model.parameters(), model.buffers()))


def inductor_options(device_type: str):
    """The context the compiled rollout is called (and so compiled) in: ``CPU_INDUCTOR`` on the CPU."""
    if device_type != "cpu":
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config
    return inductor_config.patch(CPU_INDUCTOR)


def compiled_rollout(model: LeWM):
    """``model._lean_rollout`` compiled (static shapes) on a private copy of the model's current weights; kept on
    the model and made again when its weights change (frozen weights must never go stale)."""
    key = _weights_key(model)
    entry = model.__dict__.get("_compiled_lean_rollout")
    if entry is None or entry[0] != key:
        frozen = type(model)(model.cfg)
        frozen.load_state_dict(model.state_dict())
        p = next(model.parameters())
        frozen = frozen.to(device=p.device, dtype=p.dtype).eval().requires_grad_(False)
        # every copy stays alive with its model: the compiled code's guards tell copies apart by identity, and a
        # freed copy's id could be taken by the next one, whose call would then run the old frozen weights
        model.__dict__.setdefault("_frozen_copies", []).append(frozen)
        entry = (key, torch.compile(frozen._lean_rollout, dynamic=False))
        model.__dict__["_compiled_lean_rollout"] = entry
    return entry[1]


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
            fn = compiled_rollout(self.model)
            with inductor_options(self.device_type):
                return fn(z.contiguous(), a_prev.contiguous(), actions)  # (N, P, D)


def compiled_cost_factory(bf16: bool = False):
    """A ``run_episode(cost_factory=...)`` that plans with :class:`CompiledGoalCost`."""
    chk.flag("compiled_cost_factory", "bf16", bf16)  # 'no' was taken as True
    def factory(model, z_hist, z_goal, a_hist, steps):
        return CompiledGoalCost(model, z_hist, z_goal, a_hist, steps=steps, bf16=bf16)
    return factory
