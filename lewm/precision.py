"""The precision policy: when to run the model under bf16 autocast.

``--precision {auto,fp32,bf16}`` (train, eval, bench, the app). bf16 covers the encoder, predictor
and projectors (their matmuls); SIGReg, the losses, BatchNorm statistics, the optimizer and the CEM
statistics stay fp32, and checkpoints hold fp32 weights whatever the precision.

``auto`` is measured, not assumed: on CUDA GPUs bf16 for everything; on a CPU with native bf16
(``avx512_bf16`` / AMX) bf16 for planning — a lean rollout runs 1.5–2x faster on this project's CPU —
but fp32 for training, where bf16 autocast was slower at the cpu-small preset (0.8x: its matrices are
too small to pay for the casts). Elsewhere fp32.
"""
from __future__ import annotations

import functools

from .config import PRECISIONS


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (Linux ``/proc/cpuinfo`` flags ``avx512_bf16`` or ``amx_bf16``)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, device, workload: str = "train") -> bool:
    """-> whether to run under bf16 autocast. ``workload``: 'train' or 'plan' (see the module doc)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if workload not in ("train", "plan"):
        raise ValueError(f"workload must be 'train' or 'plan', got {workload!r}")
    if precision != "auto":
        return precision == "bf16"
    kind = getattr(device, "type", str(device))
    if kind.startswith("cuda"):
        return True
    return kind == "cpu" and workload == "plan" and cpu_has_bf16()
