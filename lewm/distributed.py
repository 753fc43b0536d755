"""Data-parallel training helpers: process group from the environment, global BatchNorm, global SIGReg.

``torchrun --nproc_per_node N -m lewm train ...`` runs N copies of the training loop, one per
device, wrapped in DistributedDataParallel (DDP). Each rank sees ``batch_size / N`` windows; the
run is meant to be the single-device run on the global batch, so the two batch-coupled parts of
LeWM are computed on the GLOBAL batch:

* **SIGReg.** The Epps–Pulley statistic depends on the batch only through
  ``mean_b cos(t h_b)`` and ``mean_b sin(t h_b)`` (sigreg.py). Every rank draws the same random
  directions (the SIGReg generator has the same seed on every rank), sums cos/sin over its own
  samples, and an autograd-aware all-reduce turns those into global sums: the statistic is the
  single-device one, up to float summation order.
* **BatchNorm in the projectors.** Batch statistics must be global too. On CUDA the modules are
  converted to ``torch.nn.SyncBatchNorm``; that class refuses CPU tensors in this torch (2.13:
  "SyncBatchNorm expected input tensor to be on GPU"), so on CPU/gloo they become
  ``GlobalBatchNorm1d`` below, which computes the same global mean and (biased) variance with two
  autograd-aware all-reduces and updates the running statistics exactly like BatchNorm1d on the
  whole batch (unbiased variance over the global count).

**Why the gradients come out right.** Rank r minimises its local loss
``L_r = pred_r + λ·SIGReg(global)`` and DDP averages gradients: ``g = (1/N) Σ_r ∂L_r/∂θ``,
which is the gradient of ``(1/N) Σ_r L_r = mean_r pred_r + λ·SIGReg`` — the single-device loss
(equal per-rank batches make the mean of the local MSEs the global MSE). A global quantity
``S = Σ_r s_r`` appears in every ``L_r``; the backward of the summing all-reduce sums the
incoming gradients ``∂L_q/∂S`` over ranks, so rank r receives ``Σ_q ∂L_q/∂S · ∂S/∂s_r``: exactly
the cross-rank terms of ``Σ_q L_q`` that flow through its own samples, which DDP then divides
by N. No extra scaling is needed (for SIGReg, whose value is identical on all ranks, this is the
factor N of the backward all-reduce cancelling DDP's 1/N).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

from .sigreg import _as_tbd, quadrature, random_directions, sigreg
from .validate import check_device


def _device(device, who: str) -> torch.device:
    """A torch.device or a device name as a torch.device ('cpu' was kept a str, and failed later on
    ``.type``); a device this machine lacks (cuda without CUDA) is one ValueError naming ``who``."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{who} must be a torch.device or a device name (cpu, cuda, cuda:N), got {device!r:.60}")
    return check_device(device, who)


# ---------------------------------------------------------------------------------------------
# Process group.
# ---------------------------------------------------------------------------------------------
@dataclass
class DistContext:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False
    """True when ``init_from_env`` created the process group (``shutdown`` then destroys it)."""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_dist() -> bool:
    """A process group with more than one rank is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env(device: torch.device) -> DistContext:
    """Join the process group described by torchrun's environment, or describe the existing one.

    * a group already initialised by the caller (tests, notebooks) is used as is;
    * ``WORLD_SIZE > 1`` in the environment (torchrun) initialises one with backend ``nccl`` on
      CUDA and ``gloo`` otherwise (``MASTER_ADDR``/``MASTER_PORT`` from the environment);
    * otherwise this is a single-process run (rank 0 of 1) on ``device``.

    On CUDA each rank takes ``cuda:LOCAL_RANK`` unless ``device`` names an index explicitly.
    """
    from .faults import torchrun_env
    device = _device(device, "init_from_env: device")
    _, env_world, local_rank = torchrun_env()  # a malformed variable is named (was: invalid literal for int())
    already = dist.is_available() and dist.is_initialized()
    if not already and env_world <= 1:
        return DistContext(device=device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    here = False
    if not already:
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch has no torch.distributed support")
        _check_rendezvous_env(env_world)
        backend = "nccl" if device.type == "cuda" else "gloo"
        kw = {"device_id": device} if backend == "nccl" else {}
        dist.init_process_group(backend=backend, init_method="env://", **kw)
        here = True
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       device=device, initialized_here=here)


def _check_rendezvous_env(world: int) -> None:
    """The variables torch's ``env://`` rendezvous reads besides WORLD_SIZE, before it runs (a missing RANK
    was torch's "Error initializing torch.distributed using env:// rendezvous" naming no remedy)."""
    import os
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name, "").strip()]
    if missing:
        raise ValueError(f"environment variable WORLD_SIZE={world} asks for a distributed run, but "
                         f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set (torchrun sets RANK, "
                         f"MASTER_ADDR and MASTER_PORT); launch with torchrun, or unset WORLD_SIZE for a "
                         f"single-process run")


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group if ``init_from_env`` created it."""
    if not isinstance(ctx, DistContext):  # None was "'NoneType' object has no attribute 'initialized_here'"
        raise TypeError(f"shutdown(ctx=...) must be the DistContext that init_from_env returned, got {ctx!r:.60}")
    if ctx.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# Collectives.
# ---------------------------------------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose backward is again a sum over ranks (see the module docstring).

    Same maths as ``torch.distributed.nn.functional.all_reduce`` (deprecated in this torch).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        y = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        g = g.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(g, op=dist.ReduceOp.SUM, group=ctx.group)
        return g, None


def all_reduce_sum(x: torch.Tensor, group=None) -> torch.Tensor:
    """Differentiable sum over ranks (identity when not distributed)."""
    if not is_dist():
        return x
    return _AllReduceSum.apply(x, group)


@torch.no_grad()
def mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """Average a (detached) tensor over ranks, e.g. per-step metrics for rank-0 logging."""
    if not is_dist():
        return x
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / dist.get_world_size()


@torch.no_grad()
def global_count(n: int, device) -> int:
    """Sum of a per-rank count over ranks."""
    if not is_dist():
        return n
    c = torch.tensor([n], device=device, dtype=torch.int64)
    dist.all_reduce(c)
    return int(c.item())


# ---------------------------------------------------------------------------------------------
# SIGReg on the global batch.
# ---------------------------------------------------------------------------------------------
def sigreg_global(z: torch.Tensor, num_proj: int = 1024, knots: int = 17, t_max: float = 3.0,
                  generator: torch.Generator | None = None, group=None, *, check_finite: bool = True) -> torch.Tensor:
    """SIGReg of the latents of ALL ranks, (T, b, D) per rank -> scalar, same on every rank.

    A drop-in ``sigreg_fn`` for ``train.lewm_loss``. The directions come from ``generator``, which
    must be seeded identically on every rank. Without a process group this is ``sigreg.sigreg``.
    ``check_finite``: refuse NaN/inf latents (of any rank, on every rank) in one line, as ``sigreg``
    does (was: a NaN result); the training loss (``LossModule``) turns it off, the trainer checks the loss.
    """
    if not is_dist():
        return sigreg(z, num_proj, knots, t_max, generator, check_finite=check_finite)
    z = _as_tbd(z)  # a non-tensor or a wrong shape: one line before any collective
    if check_finite:
        bad = global_count(int((~torch.isfinite(z)).sum()), z.device)  # every rank raises, none waits for ever
        if bad:
            raise ValueError(f"SIGReg: the latents of all ranks hold {bad} NaN/inf values (this rank's shape "
                             f"{tuple(z.shape)}); check the encoder's weights or the frames")
    with torch.autocast(z.device.type, enabled=False):  # fp32 inside a bf16 step too, as sigreg.sigreg
        return _sigreg_global_fp32(z.float(), num_proj, knots, t_max, generator, group)


def _sigreg_global_fp32(z: torch.Tensor, num_proj: int, knots: int, t_max: float, generator, group) -> torch.Tensor:
    """The body of :func:`sigreg_global` on fp32 latents (T, b, D), autocast off."""
    u = random_directions(z.shape[-1], num_proj, device=z.device, dtype=z.dtype, generator=generator)  # (D, M)
    t, phi, w = quadrature(knots, t_max, device=z.device, dtype=z.dtype)  # (K,) each
    x = (z @ u).unsqueeze(-1) * t  # (T, b, M, K)
    sums = torch.stack([torch.cos(x).sum(dim=1), torch.sin(x).sum(dim=1)])  # (2, T, M, K)
    sums = all_reduce_sum(sums, group)  # (2, T, M, K) global sums
    n = global_count(z.shape[1], z.device)
    cos_m, sin_m = sums[0] / n, sums[1] / n  # (T, M, K) global means
    err = (cos_m - phi) ** 2 + sin_m**2  # (T, M, K)
    stat = n * (err * w).sum(dim=-1)  # (T, M)
    return stat.mean()


# ---------------------------------------------------------------------------------------------
# BatchNorm on the global batch.
# ---------------------------------------------------------------------------------------------
class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training-mode statistics are those of the batch of all ranks.

    Same parameters and buffers as ``nn.BatchNorm1d`` (so the same state_dict keys). Used instead
    of ``nn.SyncBatchNorm`` where that one refuses the device (CPU in torch 2.13). Input (N, C).
    In eval mode, or without a process group, it is exactly ``nn.BatchNorm1d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_dist()):
            if self.training and torch.is_tensor(x) and x.dim() in (2, 3) and x.shape[0] * (x.shape[2] if x.dim() == 3 else 1) == 1:
                raise ValueError(_one_value_msg(tuple(x.shape), "in this call"))  # was torch's "Expected more than 1 value"
            return super().forward(x)
        if x.dim() != 2:
            raise ValueError(f"GlobalBatchNorm1d expects (N, C) input, got {tuple(x.shape)}")
        xf = x.float()  # (N, C) statistics in fp32 whatever the autocast dtype
        n = global_count(xf.shape[0], xf.device)
        if n < 2:
            raise ValueError(_one_value_msg(tuple(x.shape), "over all ranks"))
        mean = all_reduce_sum(xf.sum(dim=0)) / n  # (C,)
        xc = xf - mean  # (N, C)
        var = all_reduce_sum((xc * xc).sum(dim=0)) / n  # (C,) biased, as used to normalise
        y = xc * torch.rsqrt(var + self.eps)  # (N, C)
        if self.affine:
            y = y * self.weight + self.bias  # (N, C)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        return y.to(x.dtype)


def _one_value_msg(shape: tuple, where: str) -> str:
    return (f"GlobalBatchNorm1d: train mode needs at least 2 rows {where} (batch statistics of one value per "
            f"channel are undefined), got input of shape {shape}; pass at least 2 rows per call, or call .eval()")


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Make every BatchNorm1d use global batch statistics. Parameters and buffers are kept (the
    optimizer's references stay valid): ``nn.SyncBatchNorm`` on CUDA, ``GlobalBatchNorm1d``
    elsewhere."""
    if not isinstance(module, nn.Module):  # None was an AttributeError inside torch
        raise TypeError(f"convert_batchnorm: module must be a torch.nn.Module, got {type(module).__name__}")
    device = _device(device, "convert_batchnorm: device")
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for m in module.modules():
        if type(m) is nn.BatchNorm1d:
            m.__class__ = GlobalBatchNorm1d
    return module


def unconvert_batchnorm(module: nn.Module) -> nn.Module:
    """Undo ``convert_batchnorm``'s CPU conversion (GlobalBatchNorm1d -> BatchNorm1d)."""
    if not isinstance(module, nn.Module):  # None was an AttributeError ('NoneType' ... 'modules')
        raise TypeError(f"unconvert_batchnorm: module must be a torch.nn.Module, got {type(module).__name__}")
    for m in module.modules():
        if type(m) is GlobalBatchNorm1d:
            m.__class__ = nn.BatchNorm1d
    return module


# ---------------------------------------------------------------------------------------------
# The module DDP wraps.
# ---------------------------------------------------------------------------------------------
class LossModule(nn.Module):
    """``forward(batch, generator) -> (loss, pred_loss, sigreg, z)``: ``train.lewm_loss`` as a
    module, because DDP synchronises gradients through ``forward`` and LeWM's public operations
    are ``encode``/``predict``. ``self.model`` is the LeWM itself (save ``.model``)."""

    def __init__(self, model: nn.Module, cfg, sigreg_fn: Callable | None = None):
        super().__init__()
        self.model = model
        self.cfg = cfg
        # a training loss: no NaN check (a device sync per step); the trainer stops on a non-finite loss
        self.sigreg_fn = sigreg_fn or partial(sigreg_global, check_finite=False)

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None):
        from .loss import lewm_loss
        return lewm_loss(self.model, batch, self.cfg, generator, sigreg_fn=self.sigreg_fn)


def wrap_ddp(model: nn.Module, cfg, ctx: DistContext) -> nn.Module:
    """Global BatchNorm + ``LossModule`` + DDP. Call after ``model.to(ctx.device)``."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    convert_batchnorm(model, ctx.device)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # Buffers (BN running stats) stay identical on every rank by construction: no per-step sync.
    import inspect
    no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
               else {"broadcast_buffers": False})
    return DDP(LossModule(model, cfg), device_ids=ids, gradient_as_bucket_view=True, **no_sync)
