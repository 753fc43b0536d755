"""The loop every sampling planner shares (CEM, MPPI): sample, clip, score, refit, repeat.

Planners are pure functions of a cost function ``cost_fn(actions (N, P, K)) -> costs (N,)`` (or
``(costs (N,), final latents (N, D))``). Actions live in the model's normalised (z-scored) space;
``bounds`` clip candidates to the normalised image of the environment's box [-1, 1].
"""
from __future__ import annotations

import time
import warnings
from typing import Callable

import torch

from .. import _api_checks as chk
from .config import PlannerConfig
from .env_space import check_plan_inputs, check_planner
from .records import IterationRecord, PlanResult


def check_call(fn: str, cost_fn, horizon, action_dim, cfg, device=None, record=False):
    """The arguments every solver entry point (``plan``, ``cem``, ``mppi``, ``grad_plan``) takes, checked
    once per plan, before the first candidate (never in the loop): ``cost_fn`` callable, ``horizon`` and
    ``action_dim`` whole numbers >= 1 (0 gave an empty plan of cost 0, -2 torch's "negative dimension"),
    ``cfg`` a PlannerConfig, ``record`` True or False (not a truthy 'no'), ``device`` None or usable here."""
    if not callable(cost_fn):
        raise TypeError(f"{fn}(cost_fn=...) must be callable: cost_fn(actions (N, P, K)) -> costs (N,), "
                        f"got {type(cost_fn).__name__}")
    chk.whole(fn, "horizon", horizon, 1)
    chk.whole(fn, "action_dim", action_dim, 1)
    check_planner(cfg, f"{fn}(cfg=...)")
    chk.flag(fn, "record", record)
    return check_plan_device(fn, device)


def check_plan_device(fn: str, device):
    """None (the default) or a device this machine has (was: torch's "not compiled with CUDA" / "Expected
    one of cpu, cuda, ..."); 'auto' is resolved."""
    if device is None:
        return None
    if isinstance(device, (str, torch.device)) and str(device).split(":")[0] == "meta":  # failed deep inside the cost
        raise ValueError("device 'meta' holds no numbers to plan with; use 'cpu' or 'cuda'")
    dev = chk.device(fn, device, "device")
    return dev if isinstance(device, str) and device == "auto" else device


def check_cost_output(out, N: int):
    """``cost_fn``'s return value as ``(costs (N,), final latents (N, D) or None)``, or one ValueError: a tuple
    that is not (costs, latents), costs that are not a real (N,) tensor, latents that are not (N, D) (round 17:
    a 1-tuple was an IndexError, a 3-tuple's extra item and (3,) latents were taken, complex costs cast with a
    warning only). Shapes and dtypes only: no device sync."""
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"cost_fn must return costs ({N},) or a pair (costs ({N},), final latents ({N}, D)); "
                             f"got a tuple of {len(out)} item{'s' * (len(out) != 1)}")
        costs, zf = out
    else:
        costs, zf = out, None
    if not isinstance(costs, torch.Tensor) or tuple(costs.shape) != (N,):
        got = f"shape {tuple(costs.shape)}" if hasattr(costs, "shape") else type(costs).__name__
        raise ValueError(f"cost_fn must return a torch tensor of costs of shape ({N},), one per candidate; got "
                         f"{type(costs).__name__} of {got}")
    if costs.is_complex():
        raise ValueError(f"cost_fn must return real costs, got a {str(costs.dtype).replace('torch.', '')} tensor")
    if zf is not None and (not isinstance(zf, torch.Tensor) or zf.ndim != 2 or zf.shape[0] != N):
        got = f"shape {tuple(zf.shape)}" if hasattr(zf, "shape") else type(zf).__name__
        raise ValueError(f"cost_fn's final latents (the second item of its pair) must be None or a torch tensor "
                         f"({N}, D), one row per candidate; got {type(zf).__name__} of {got}")
    return costs, zf


IN_PLACE = ("cost_fn changed the candidate actions it was given in place (a.clamp_(...), a.mul_(...), a[...] = ...): "
            "the planner keeps those candidates, so its plan would follow the changed values, not the ones scored "
            "as sampled; compute on a copy (a.clone()) or out of place (a.clamp(...))")


def _version(a: torch.Tensor) -> int | None:
    """``a``'s in-place write counter (None for an inference-mode tensor, which keeps none)."""
    try:
        return a._version
    except RuntimeError:
        return None


def score(cost_fn, a: torch.Tensor):
    """``(costs (N,), final latents or None, number of finite costs)``; when some but not all costs are
    finite, every non-finite one (NaN, +inf, -inf) becomes +inf: never an elite, weight 0 in MPPI. A cost_fn
    that writes into ``a`` is one ValueError (round 29: CEM then returned the written values, e.g. zeros)."""
    seen = _version(a)
    try:
        out = cost_fn(a)
    except RuntimeError as e:  # the gradient planner's leaf: autograd refuses the write first
        if "leaf Variable that requires grad is being used in an in-place operation" in str(e):
            raise ValueError(IN_PLACE) from None
        raise
    if seen is not None and _version(a) != seen:
        raise ValueError(IN_PLACE)
    costs, zf = check_cost_output(out, a.shape[0])
    n_finite = int(torch.isfinite(costs).sum())  # one device sync per call on the planning loop
    if 0 < n_finite < a.shape[0]:
        costs = torch.where(torch.isfinite(costs), costs, float("inf"))
    return costs, zf, n_finite


def evaluate_cost(cost_fn, a: torch.Tensor):
    """``cost_fn(a)`` as ``(costs (N,), final latents (N, D) or None)``.

    A cost that is not a real (N,) tensor is one ValueError; non-finite costs (NaN, ±inf) count as +inf
    (never an elite, weight 0 in MPPI), and a cost that is NaN/inf for every candidate is one ValueError,
    not a plan of random actions."""
    costs, zf, n_finite = score(cost_fn, a)
    N = a.shape[0]
    if n_finite == 0:
        if N == 0:  # was: "NaN/inf for all 0 candidates: the model or the goal ..."
            raise ValueError(f"evaluate_cost: no candidates to score (actions of shape {tuple(a.shape)}); "
                             f"give at least one (N, P, K) candidate")
        raise ValueError(f"cost_fn returned NaN/inf for all {N} candidates: the model or the goal holds "
                         "non-finite values (check the checkpoint and the goal frame)")
    return costs, zf


def clip(a: torch.Tensor, bounds) -> torch.Tensor:
    """Clip ``a`` (..., K) to ``bounds`` = (lo (K,), hi (K,)); None = unbounded."""
    if bounds is None:
        return a
    try:  # no check in the loop: a bad ``bounds`` is only explained once it has failed
        lo, hi = bounds
        return torch.maximum(torch.minimum(a, hi), lo)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"clip(bounds=...) must be None or a pair (lo, hi) of tensors broadcasting to the last "
                        f"dimension of a {tuple(a.shape)}, got {bounds!r:.80}") from None


def prepare(P: int, K: int, init_mean, bounds, device, dtype):
    """The starting mean (P, K) (zeros, or a copy of ``init_mean``) and the bounds on its device; every
    solver starts here, so the arguments are checked here (``check_plan_inputs``), once per plan."""
    init_mean, bounds = check_plan_inputs(P, K, init_mean, bounds, dtype)
    device = check_plan_device("prepare", device)
    mean = torch.zeros(P, K, device=device, dtype=dtype) if init_mean is None else init_mean.to(device, dtype).clone()
    if bounds is not None:  # checked: float64 (1,) or (K,) each
        bounds = tuple(b.to(mean.device, dtype).expand(K) for b in bounds)
    return mean, bounds


def randn(shape, generator, device, dtype) -> torch.Tensor:
    """Standard normal noise drawn by ``generator`` on its own device, then moved to ``device``: a
    CPU generator gives the same candidates whether the model runs on the CPU or a GPU."""
    if generator is not None and not isinstance(generator, torch.Generator):  # was: AttributeError 'device'
        raise TypeError(f"generator must be a torch.Generator (torch.Generator().manual_seed(0)) or None, "
                        f"got {type(generator).__name__}")
    gdev = generator.device if generator is not None else device
    try:  # no check in the loop: a non-floating dtype is only explained once torch has refused it
        return torch.randn(shape, generator=generator, device=gdev, dtype=dtype).to(device)
    except (NotImplementedError, RuntimeError, TypeError):
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"randn(dtype=...) must be a floating torch dtype (torch.float32), got {dtype}") from None
        raise


@torch.no_grad()
def sampling_planner(update: Callable, cost_fn: Callable, horizon: int, action_dim: int, cfg: PlannerConfig,
                     init_mean, bounds, generator, device, dtype, record: bool) -> PlanResult:
    """Shared loop of the sampling planners: sample around (mean, std), keep the mean as candidate 0,
    clip every candidate to ``bounds``, score, then ``update(cand, costs, elite) -> (mean, std)``; the
    plan is the final mean, clipped to ``bounds`` (with ``cfg.plan_from='best'``: the lowest-cost candidate
    scored, when it beats the final mean). With ``cfg.stop_tol > 0`` the loop ends early once an
    update moves the mean by less than it. Every candidate scored and the plan lie within ``bounds`` (the
    unclipped mean as candidate 0 planned outside them: an ``init_mean`` outside, or narrow bounds). When the
    final mean's cost is NaN/inf, the plan is the lowest-cost finite candidate scored (with a warning)."""
    t0 = time.perf_counter()
    P, K, N = horizon, action_dim, cfg.num_samples
    mean, bounds = prepare(P, K, init_mean, bounds, device, dtype)
    std = torch.full_like(mean, cfg.init_std)
    on_device = []  # per-iteration tensors, copied to the host once at the end (no sync per iteration)
    best_cost = torch.full((), float("inf"), device=mean.device)  # the lowest cost scored so far (no sync)
    best_seq = mean.clone()  # (P, K) its candidate: plan_from='best', or the final mean's cost is NaN
    for _ in range(cfg.iterations):
        eps = randn((N, P, K), generator, mean.device, dtype)  # (N, P, K)
        eps[0] = 0  # candidate 0 is the mean itself, clipped like the others (no extra op per iteration)
        cand = clip(mean + std * eps, bounds)  # (N, P, K)
        costs, zf = evaluate_cost(cost_fn, cand)  # (N,), (N, D)
        costs = costs.float()
        elite = torch.topk(costs, cfg.topk, largest=False).indices  # (k,)
        c0 = costs[elite[0]]  # this iteration's lowest cost (topk sorts)
        best_seq = torch.where(c0 < best_cost, cand[elite[0]], best_seq)  # (P, K)
        best_cost = torch.minimum(best_cost, c0)
        prev = mean
        mean, std = update(cand, costs, elite)  # (P, K), (P, K)
        std = std.clamp_min(cfg.min_std)
        on_device.append((costs, elite, mean, std, cand if record else None,
                          zf if (record and zf is not None) else None))
        if cfg.stop_tol > 0 and float((mean - prev).abs().max()) < cfg.stop_tol:  # settled: stop early
            break
    mean = clip(mean, bounds)  # a no-op inside the bounds; MPPI's weights sum to 1 only up to rounding
    final_cost, _, n_finite = score(cost_fn, mean[None])
    if not n_finite:  # every iteration scored finite candidates (else evaluate_cost stopped it): keep the best
        warnings.warn(f"the final sampling mean's cost is {float(final_cost[0])} (cost_fn is not finite there): "
                      f"the plan is the lowest-cost finite candidate scored instead (cost {float(best_cost):.6g})",
                      UserWarning, stacklevel=3)
        mean, final_cost = best_seq, best_cost[None]
    elif cfg.plan_from == "best" and float(best_cost) < float(final_cost[0]):  # commit to the best candidate
        mean, final_cost = best_seq, best_cost[None]
    recs = [IterationRecord(c.cpu(), e.cpu(), m.cpu(), sd.cpu(), float(c[e[0]]),
                            cd.cpu() if cd is not None else None, z.cpu() if z is not None else None)
            for c, e, m, sd, cd, z in on_device]
    return PlanResult(mean, float(final_cost[0]), recs, seconds=time.perf_counter() - t0)
