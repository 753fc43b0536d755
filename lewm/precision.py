"""The precision policy: when to run the model under bf16 autocast.

``--precision {auto,fp32,bf16}`` (train, eval, bench, the app). bf16 covers the encoder, predictor
and projectors (their matmuls); SIGReg, the losses, BatchNorm statistics, the optimizer and the CEM
statistics stay fp32, and checkpoints hold fp32 weights whatever the precision.

``auto`` is measured, not assumed: on CUDA GPUs bf16 for everything; on a CPU with native bf16
(``avx512_bf16`` / AMX) bf16 for planning — a lean rollout runs 1.5–2x faster on this project's CPU —
and bf16 for training models at least ``TRAIN_BF16_MIN_WIDTH`` wide. With attention kept fp32 under
autograd (``lewm.attention.attention``: PyTorch's CPU bf16 flash-attention backward was 17x slower than
fp32's), bf16 training measured on an AMD EPYC with ``avx512_bf16`` only (one thread, docs/benchmarks.md):
cpu-small 1.85x, gpu-small 1.97x, the paper preset 1.67x, but cpu-tiny (width 32) 0.81x; on an Intel
Xeon with AMX tiles: gpu-small 2.53x, paper 2.1x, cpu-small 1.34x, cpu-tiny 0.76x. Narrow models stay
fp32 (their small matmuls gain less than the casts cost). Elsewhere fp32.
"""
from __future__ import annotations

import functools
import numbers

import torch

from .config import PRECISIONS


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags of Linux ``/proc/cpuinfo`` (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (flags ``avx512_bf16`` or ``amx_bf16``)."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


TRAIN_BF16_MIN_WIDTH = 128
"""The narrowest encoder (``model.enc_dim``) that ``auto`` trains in bf16 on a bf16 CPU (cpu-small's)."""


def _device_type(device) -> str:
    """'cpu' / 'cuda' / 'mps' ... of a torch.device or a device name; anything else is one ValueError (a
    non-device such as 'gpu' was silently fp32). Availability is not checked: this is a policy."""
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except (RuntimeError, ValueError):
            pass
    if not isinstance(device, torch.device):
        raise ValueError(f"device must be a torch.device or a device name (cpu, cuda, cuda:N, mps), got {device!r:.60}")
    return device.type


def resolve_precision(precision: str, device, workload: str = "train", model_width: int | None = None) -> bool:
    """-> whether to run under bf16 autocast. ``workload``: 'train' or 'plan'; ``model_width``: the
    encoder width (``model.enc_dim``) for CPU training, unknown = fp32 (see the module doc)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if workload not in ("train", "plan"):
        raise ValueError(f"workload must be 'train' or 'plan', got {workload!r}")
    if model_width is not None and (isinstance(model_width, bool) or not isinstance(model_width, numbers.Integral)
                                    or model_width < 1):
        raise ValueError(f"model_width must be the encoder width (a whole number >= 1) or None, got {model_width!r:.60}")
    kind = _device_type(device)
    if precision != "auto":
        return precision == "bf16"
    if kind == "cuda":
        return True
    if kind != "cpu":
        return False
    if workload == "plan":
        return cpu_has_bf16()
    # int(): a numpy width (np.int64(256)) answered np.True_, not JSON-serialisable where the result is recorded
    return cpu_has_bf16() and int(model_width or 0) >= TRAIN_BF16_MIN_WIDTH
