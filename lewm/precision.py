"""The precision policy: when to run the model under bf16 autocast.

``--precision {auto,fp32,bf16}`` (train, eval, bench, the app). bf16 covers the encoder, predictor
and projectors (their matmuls); SIGReg, the losses, BatchNorm statistics, the optimizer and the CEM
statistics stay fp32, and checkpoints hold fp32 weights whatever the precision.

``auto`` is measured, not assumed: on CUDA GPUs bf16 for everything; on a CPU with native bf16
(``avx512_bf16`` / AMX) bf16 for planning — a lean rollout runs 1.5–2x faster on this project's CPU.
Training in bf16 pays only on a CPU with AMX tiles (``amx_bf16``: a 2048² bf16 matmul at 1,123
GFLOP/s against 173 in fp32 on one thread) and for models at least ``TRAIN_BF16_MIN_WIDTH`` wide: on
such a CPU, with attention kept fp32 under autograd (``lewm.model.attention``), bf16 trained gpu-small
(D = 192, batch 128, 2 threads) 2.53x faster, the paper preset 2.1x and cpu-small 1.34x, but cpu-tiny
(width 32) 0.76x. On CPUs with ``avx512_bf16`` alone bf16 training was slower (0.62x at cpu-small),
so fp32 there. Elsewhere fp32.
"""
from __future__ import annotations

import functools

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


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU has AMX bf16 tiles (flag ``amx_bf16``)."""
    return "amx_bf16" in _cpu_flags()


TRAIN_BF16_MIN_WIDTH = 128
"""The narrowest encoder (``model.enc_dim``) that ``auto`` trains in bf16 on an AMX CPU (cpu-small's)."""


def resolve_precision(precision: str, device, workload: str = "train", model_width: int | None = None) -> bool:
    """-> whether to run under bf16 autocast. ``workload``: 'train' or 'plan'; ``model_width``: the
    encoder width (``model.enc_dim``) for CPU training, unknown = fp32 (see the module doc)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if workload not in ("train", "plan"):
        raise ValueError(f"workload must be 'train' or 'plan', got {workload!r}")
    if precision != "auto":
        return precision == "bf16"
    kind = getattr(device, "type", str(device))
    if kind.startswith("cuda"):
        return True
    if kind != "cpu":
        return False
    if workload == "plan":
        return cpu_has_bf16()
    return cpu_has_amx_bf16() and (model_width or 0) >= TRAIN_BF16_MIN_WIDTH
