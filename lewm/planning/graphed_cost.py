"""The planning cost replayed as a CUDA graph: one launch per CEM iteration instead of hundreds.

A plan at the paper's settings calls the world-model cost 30 times on 300 candidates; each call
rolls the predictor over 5 blocks (5 x depth x ~15 small kernels). On a GPU those kernels take
microseconds each, so launching them from Python costs more than running them. The rollout's
shapes never change within a plan, so it is captured once as a CUDA graph and replayed: the
candidates (and, once per plan, the context and goal latents) are copied into static input
buffers, the graph is replayed, and the static outputs are read.

``GraphedGoalCost`` computes exactly what :class:`lewm.planning.cost.LatentGoalCost` computes
(same function, same order of operations; tested against it) and is a drop-in ``cost_fn`` for the
planners. Graphs are captured lazily per candidate count N (CEM uses N = num_samples, then 1 for
the final mean) and per context length (the context fills up over an episode's first blocks), and
cached per model by :func:`graphed_goal_cost`. CUDA only: on other devices use ``LatentGoalCost``.
"""
from __future__ import annotations

import weakref

import torch

from .. import _api_checks as chk
from ..model import LeWM
from .cost import LatentGoalCost


class GraphedGoalCost:
    """``LatentGoalCost`` whose rollout replays CUDA graphs captured on first use.

    context_len: H0, the number of context latents (1..history); bf16: run under bf16 autocast
    (the cost itself is computed in fp32, as in ``LatentGoalCost``).
    """

    def __init__(self, model: LeWM, context_len: int, steps: str = "last", bf16: bool = False,
                 mean_weight: float = 0.0):
        chk.model("GraphedGoalCost", model)
        chk.flag("GraphedGoalCost", "bf16", bf16)
        dev = next(model.parameters()).device
        if dev.type != "cuda":
            raise ValueError(f"GraphedGoalCost needs a CUDA model, got one on {dev}")
        if model.training:
            raise ValueError("GraphedGoalCost needs the model in eval mode (BatchNorm running statistics, "
                             "no dropout): call model.eval() first")
        mc = model.cfg
        self.model, self.steps, self.bf16, self.device = model, steps, bf16, dev
        self.z_hist = torch.zeros(1, context_len, mc.latent_dim, device=dev)  # (1, H0, D)
        self.z_goal = torch.zeros(mc.latent_dim, device=dev)  # (D,)
        self.act_hist = (torch.zeros(1, context_len - 1, mc.action_block_dim, device=dev)
                         if context_len > 1 else None)  # (1, H0-1, K)
        self._cost = LatentGoalCost(model, self.z_hist, self.z_goal, self.act_hist, steps=steps, mean_weight=mean_weight)
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def set_context(self, z_hist: torch.Tensor, z_goal: torch.Tensor, act_hist: torch.Tensor | None) -> "GraphedGoalCost":
        """Copy this plan's context (1, H0, D), goal (D,) and context actions (1, H0-1, K) in."""
        self.z_hist.copy_(z_hist.reshape(self.z_hist.shape))
        self.z_goal.copy_(z_goal.reshape(-1))
        if self.act_hist is not None:
            self.act_hist.copy_(act_hist.reshape(self.act_hist.shape))
        return self

    def _autocast(self):
        # cache_enabled=False: autocast's weight-cast cache must not outlive a graph capture
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False)

    def _capture(self, shape: tuple[int, int]):
        N, P = shape
        actions = torch.zeros(N, P, self.model.cfg.action_block_dim, device=self.device)  # (N, P, K)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.no_grad(), self._autocast():
            for _ in range(2):  # warm up: lazy inits and kernel selection happen outside the capture
                self._cost(actions)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.no_grad(), self._autocast():
            costs, zf = self._cost(actions)  # (N,), (N, D): static outputs, rewritten by every replay
        return graph, actions, costs, zf

    def __call__(self, actions: torch.Tensor):
        """actions (N, P, K) -> (costs (N,), final latents (N, D)), fresh tensors."""
        key = (actions.shape[0], actions.shape[1])
        if key not in self._graphs:
            self._graphs[key] = self._capture(key)
        graph, buf, costs, zf = self._graphs[key]
        buf.copy_(actions)
        graph.replay()
        return costs.clone(), zf.clone()

    def imagine(self, actions: torch.Tensor) -> torch.Tensor:
        """Eager imagined latents (N, P, D) (for records and views; not graphed)."""
        with torch.no_grad(), self._autocast():
            return self._cost.imagine(actions).float()


_CACHE: "weakref.WeakKeyDictionary[LeWM, dict]" = weakref.WeakKeyDictionary()


def graphed_goal_cost(model: LeWM, z_hist: torch.Tensor, z_goal: torch.Tensor, act_hist: torch.Tensor | None,
                      steps: str = "last", bf16: bool = False, mean_weight: float = 0.0) -> GraphedGoalCost:
    """The model's cached ``GraphedGoalCost`` for this context length / cost / precision, loaded with
    this plan's context. Graphs live as long as the model."""
    chk.model("graphed_goal_cost", model)  # was: "cannot create weak reference to 'NoneType' object"
    chk.flag("graphed_goal_cost", "bf16", bf16)
    per_model = _CACHE.setdefault(model, {})
    key = (z_hist.shape[1], steps, bf16, mean_weight)
    if key not in per_model:
        per_model[key] = GraphedGoalCost(model, z_hist.shape[1], steps, bf16, mean_weight)
    return per_model[key].set_context(z_hist, z_goal, act_hist)
