"""Training in bf16 on a CPU: two products of the model written in the forms oneDNN runs fast there.

Under CPU bf16 autocast with autograd on (``training()``), PyTorch's kernels for two of the model's operations are
slow in bf16 — much slower than the same arithmetic as plain matmuls:

- the patch embedding's strided convolution: its bf16 *backward* took 2.3x the time of the same product written as a
  matmul over the patches (27.6 vs 11.9 ms forward + backward for 256 frames of cpu-small, one thread, session 18);
- scaled dot-product attention: the bf16 flash-attention backward took 7x the fp32 kernel's time, and the fp32 kernel
  plus its casts 2x the explicit ``softmax(q kᵀ) v`` with bf16 matmuls and an fp32 softmax (10.8 vs 5.3 ms per
  encoder layer of cpu-small).

In fp32, in planning (no autograd) and on GPUs the model keeps PyTorch's kernels (and the fp32 path its bit-exact
match with the official code). Both forms compute the same function; in bf16 they agree with the kernels to bf16
precision (``tests/test_model.py``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

WRITTEN_OUT_MAX_KEYS = 128
"""Up to this many keys a bf16 training step writes attention out; longer sequences (the paper preset's 257 tokens)
keep SDPA in fp32, whose kernel does not hold the (B, h, T, S) scores: written out they cost as much as they saved
(4.43 against 4.46 samples/s at batch 8) and, at batch 64, hundreds of MB of scores per layer."""


def training(x: torch.Tensor) -> bool:
    """``x`` is on a CPU, under bf16 autocast, with autograd on: a bf16 training step."""
    return (x.device.type == "cpu" and torch.is_grad_enabled() and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)


def patch_embed(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """``conv(x).flatten(2).transpose(1, 2)`` for a patchify convolution (kernel = stride = P, no padding, S a
    multiple of P) as one matmul over the patches. x (B, C, S, S) -> (B, L, E)."""
    B, C, S, _ = x.shape
    P = conv.stride[0]
    g = S // P
    patches = x.reshape(B, C, g, P, g, P).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * P * P)  # (B, L, C*P*P)
    return F.linear(patches, conv.weight.reshape(conv.out_channels, -1), conv.bias)  # (B, L, E)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None,
              dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` written out: the two products in q's dtype (bf16), the scores' softmax
    in fp32. ``attn_mask``: bool (True = attend) or additive float, as SDPA takes it; ``is_causal``: SDPA's
    top-left aligned lower triangle. q (B, h, T, d), k and v (B, h, S, d) -> (B, h, T, d)."""
    s = (q @ k.transpose(-2, -1)).float() * (q.shape[-1] ** -0.5 if scale is None else scale)  # (B, h, T, S)
    if is_causal:
        T, S = s.shape[-2:]
        attn_mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril()  # (T, S)
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask
    w = s.softmax(-1)  # (B, h, T, S)
    if dropout_p > 0:
        w = F.dropout(w, dropout_p)
    return w.to(q.dtype) @ v  # (B, h, T, d)
