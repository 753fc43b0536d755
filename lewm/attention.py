"""Scaled dot-product attention for the encoder and the predictor, with the one precision exception of a bf16
training step on a CPU (see :func:`attention`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _cpu_bf16 as cpu_bf16


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw) -> torch.Tensor:
    """``F.scaled_dot_product_attention(q, k, v, **kw)``, except in a bf16 training step on a CPU, where PyTorch's
    bf16 attention backward is slow: up to ``cpu_bf16.WRITTEN_OUT_MAX_KEYS`` keys the same function written out
    (``lewm._cpu_bf16.attention``), beyond it SDPA in fp32. Planning (no autograd), fp32 and GPUs keep SDPA."""
    if q.dtype == torch.bfloat16 and q.device.type == "cpu" and torch.is_grad_enabled():
        if k.shape[-2] <= cpu_bf16.WRITTEN_OUT_MAX_KEYS:
            return cpu_bf16.attention(q, k, v, **kw)
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), **kw).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, **kw)
