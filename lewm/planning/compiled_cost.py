"""The planning cost with the predictor's rollout compiled by ``torch.compile`` (inductor).

One CEM iteration rolls the predictor over 300 candidates x 5 blocks. Its matrices are small
(300-900 rows x 128-192 columns), so on a CPU the many elementwise steps around them — AdaLN's
shift / scale / gate, LayerNorm, GELU, SiLU, the residual adds and, under bf16, the casts — take
as long as the matmuls. Inductor fuses them into a few vectorised C++ loops, and the window's attention over its
few keys is written out so that it fuses too (``lewm._lean_rollout.few_key_attention``). Measured on this project's
2-core AMD EPYC (one thread, shipped agents, bf16, per CEM iteration; docs/benchmarks.md, session 22): PushT
0.26 -> 0.064 s, x4.0 against the plain fp32 rollout (Reacher x3.7, Two-Room x2.6).

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
is compiled. Each cost object (one per plan) compares the model's weights and buffers with that copy's, value for
value (the predictor's, action encoder's and projector's: ~1 ms per plan, not per CEM iteration), and any difference — an optimizer step,
``load_state_dict``, an edit through ``p.data`` — compiles again on a fresh copy: never a plan with yesterday's
weights. After ``MAX_RECOMPILES`` such changes a model plans eagerly (it is being trained, and every compilation
would cost more than it saves), with one warning.

``CompiledGoalCost`` computes what :class:`lewm.planning.cost.LatentGoalCost` computes (same function;
at fp32 equal to ~1e-6, tested) and is a drop-in ``cost_fn`` for the planners; pass ``bf16`` to run
the rollout under bf16 autocast (the cost itself stays fp32). Gradient-based planning (``grad``)
runs eagerly: the compiled function is traced for inference only.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from .. import _api_checks as chk
from .cost import LatentGoalCost
from ..model import LeWM
from ..model_inputs import check_action_blocks

MIN_CANDIDATES = 16
"""Candidate batches smaller than this run eagerly (a compilation would cost more than it saves)."""


CPU_INDUCTOR = {"cpp_wrapper": True, "freezing": True}
"""Inductor settings for the compiled rollout on a CPU (see the module docstring)."""


MAX_RECOMPILES = 4
"""Weight changes after which a model's rollout stops being compiled again (it plans eagerly)."""


ROLLOUT_PARTS = ("action_encoder", "predictor", "pred_proj")
"""The modules the lean rollout runs (not the encoder: the bulk of the weights)."""


def _rollout_tensors(model: LeWM) -> dict:
    return {f"{part}.{k}": t for part in ROLLOUT_PARTS
            for k, t in [*getattr(model, part).named_parameters(), *getattr(model, part).named_buffers()]}


def _same_weights(model: LeWM, frozen: LeWM) -> bool:
    """The rollout's parameters and buffers in ``model`` equal, name for name and value for value, those of its
    frozen copy."""
    a, b = _rollout_tensors(model), _rollout_tensors(frozen)
    if a.keys() != b.keys():
        return False
    for k, t in a.items():
        u = b[k]
        if t.dtype != u.dtype or t.device != u.device or t.shape != u.shape or not torch.equal(t.detach(), u):
            return False
    return True


def inductor_options(device_type: str):
    """The context the compiled rollout is called (and so compiled) in: ``CPU_INDUCTOR`` on the CPU."""
    if device_type != "cpu":
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config
    return inductor_config.patch(CPU_INDUCTOR)


def compiled_rollout(model: LeWM):
    """``model._lean_rollout`` compiled (static shapes) on a private copy of the model's current weights; kept on
    the model and made again when its weights differ from the copy's (frozen weights must never go stale).
    None once the weights have changed ``MAX_RECOMPILES`` times (the caller then runs the eager rollout)."""
    entry = model.__dict__.get("_compiled_lean_rollout")
    if entry is not None and _same_weights(model, entry[0]):
        return entry[1]
    copies = model.__dict__.setdefault("_frozen_copies", [])
    if len(copies) > MAX_RECOMPILES:
        return None
    if len(copies) == MAX_RECOMPILES:
        copies.append(None)  # warned once
        warnings.warn(f"the model's weights changed {MAX_RECOMPILES} times since its planning rollout was first "
                      f"compiled: it now plans with the eager rollout (the same numbers; a compilation per change "
                      f"would cost more than it saves)", stacklevel=3)
        return None
    frozen = type(model)(model.cfg)
    frozen.load_state_dict(model.state_dict())
    p = next(model.parameters())
    frozen = frozen.to(device=p.device, dtype=p.dtype).eval().requires_grad_(False)
    # every copy stays alive with its model: the compiled code's guards tell copies apart by identity, and a freed
    # copy's id could be taken by the next one, whose call would then run the old frozen weights
    copies.append(frozen)
    entry = (frozen, torch.compile(frozen._lean_rollout, dynamic=False))
    model.__dict__["_compiled_lean_rollout"] = entry
    return entry[1]


class CompiledGoalCost(LatentGoalCost):
    """``LatentGoalCost`` whose rollout runs compiled (see the module docstring).

    bf16: the rollout under bf16 autocast on the model's device (the distances stay fp32).
    """

    def __init__(self, model: LeWM, z_hist: torch.Tensor, z_goal: torch.Tensor,
                 act_hist: torch.Tensor | None = None, steps: str = "last", bf16: bool = False,
                 mean_weight: float = 0.0):
        if model.training:
            raise ValueError("CompiledGoalCost needs the model in eval mode (BatchNorm running statistics, "
                             "no dropout): call model.eval() first")
        super().__init__(model, z_hist, z_goal, act_hist, steps=steps, mean_weight=mean_weight)
        self.bf16 = chk.flag("CompiledGoalCost", "bf16", bf16)
        self.device_type = z_hist.device.type
        self._fn = None  # the compiled rollout for the model's weights now: looked up at the first large batch

    def imagine(self, actions: torch.Tensor) -> torch.Tensor:
        """actions (N, P, K) -> imagined latents (N, P, D). The actions are checked as ``LeWM.rollout`` checks them
        (a list, another shape or no block is the same one-line error; fp64 / fp16 become the weights' dtype)."""
        ref = self.model.pixel_mean  # the weights' dtype and device
        actions = check_action_blocks(actions, self.model.cfg.action_block_dim, ref.dtype, "action_blocks",
                                      weights=ref)
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            if actions.shape[0] < MIN_CANDIDATES or torch.is_grad_enabled():
                return super().imagine(actions)
            if self._fn is None:  # once per cost object (a plan): the weights cannot change within a plan
                self._fn = compiled_rollout(self.model) or False
            if self._fn is False:
                return super().imagine(actions)
            z, a_prev = self.model.context_window(self.z_hist, self.act_hist, actions)  # (B, H0, D), (B, H0-1, K)
            with inductor_options(self.device_type):
                return self._fn(z.contiguous(), a_prev.contiguous(), actions.contiguous())  # (N, P, D)


def compiled_cost_factory(bf16: bool = False):
    """A ``run_episode(cost_factory=...)`` that plans with :class:`CompiledGoalCost`."""
    chk.flag("compiled_cost_factory", "bf16", bf16)  # 'no' was taken as True
    def factory(model, z_hist, z_goal, a_hist, steps, mean_weight=0.0):
        return CompiledGoalCost(model, z_hist, z_goal, a_hist, steps=steps, bf16=bf16, mean_weight=mean_weight)
    return factory
