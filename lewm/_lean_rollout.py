"""The planning rollout's fast path (``LeWM._lean_rollout``): :meth:`lewm.model.LeWM.rollout` in eval mode
with the work every candidate shares done once. Kept apart from :mod:`lewm.model` for its size."""
from __future__ import annotations

import torch
import torch.nn.functional as F


FEW_KEYS = 16
"""Up to this many keys the compiled rollout writes attention out (``few_key_attention``)."""


def few_key_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None,
                      is_causal: bool = False) -> torch.Tensor:
    """``F.scaled_dot_product_attention(q, k, v, attn_mask=..., is_causal=...)`` (a bool mask, True = attend) written
    elementwise, in fp32, for the rollout's few keys (a window of ``history`` frames). Compiled, it is one fused loop;
    PyTorch's CPU flash-attention kernel, which ``torch.compile`` calls as it is, cost ~1 ms a call at 300 candidates
    x 3 keys: 30% of a compiled Reacher CEM iteration on one AMD EPYC thread (session 22).
    q (B, h, T, d), k and v (B, h, S, d) -> (B, h, T, d) in q's dtype."""
    s = (q.float().unsqueeze(-2) * k.float().unsqueeze(-3)).sum(-1) * q.shape[-1] ** -0.5  # (B, h, T, S)
    if is_causal:
        attn_mask = torch.ones(s.shape[-2:], dtype=torch.bool, device=q.device).tril()  # (T, S)
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))  # (B, h, T, S)
    w = s.softmax(-1)  # (B, h, T, S)
    return (w.unsqueeze(-1) * v.float().unsqueeze(-3)).sum(-2).to(q.dtype)  # (B, h, T, d)


def single_frame_attention(attn, x: torch.Tensor) -> torch.Tensor:
    """``_CausalAttention`` on a window of one frame, which attends only to itself: the output is its value (exact).
    Only the value third of ``to_qkv``, as 2-D matmuls (inductor lowers a (B, 1, W) input to a slow decomposed bmm on
    a CPU); compiled, ``W_o W_v`` is one (W, W) matrix, a constant of the compiled code: one matmul fewer per layer.
    x (B, 1, W) -> (B, 1, W)."""
    B = x.shape[0]
    w_v, out = attn.to_qkv.weight[2 * attn.heads * attn.dim_head:], attn.to_out[0]  # (h*dh, W), Linear(h*dh -> W)
    n = attn.norm(x).view(B, -1)  # (B, W)
    if torch.compiler.is_compiling():
        with torch.autocast(x.device.type, enabled=False):
            w = out.weight @ w_v  # (W, W)
        return F.linear(n, w, out.bias).view(B, 1, -1)  # (B, 1, W)
    return attn.to_out(F.linear(n, w_v)).view(B, 1, -1)  # (B, 1, W)


def encode_actions(encoder, a: torch.Tensor) -> torch.Tensor:
    """``ActionEncoder.forward`` with its kernel-1 convolution written as the linear map it is, on the contiguous
    blocks: the same numbers, but one (rows x K) matmul where the transposed input made the next linear a batch of
    N small matmuls (compiled: ``aten.bmm`` over 300 candidates, ~1 ms of a 15 ms Two-Room iteration).
    a (B, T, K) -> (B, T, W)."""
    conv = encoder.patch_embed
    B, T, K = a.shape
    h = F.linear(a.reshape(B * T, K), conv.weight[..., 0], conv.bias)  # (B*T, action_hidden)
    return encoder.embed(h).view(B, T, -1)  # (B, T, W): 2-D rows, so that compiled, each SiLU fuses into its matmul


def project(proj, h: torch.Tensor) -> torch.Tensor:
    """``Projector.forward`` in eval mode; compiled, with its BatchNorm folded into the first linear (the running
    statistics are constants there), so that the GELU fuses into that matmul: the same function (to ~1e-7 in fp32),
    one pass over the (rows x hidden) activations fewer per rollout step. h (..., W) -> (..., D)."""
    lin, bn, act, out = proj.net
    if not torch.compiler.is_compiling() or bn.training or bn.running_mean is None:
        return proj(h)
    s = torch.rsqrt(bn.running_var + bn.eps)  # (hidden,)
    if bn.weight is not None:
        s = s * bn.weight
    b = (lin.bias - bn.running_mean) * s + (bn.bias if bn.bias is not None else 0.0)  # (hidden,)
    x = act(F.linear(h.reshape(-1, h.shape[-1]), lin.weight * s[:, None], b))  # (rows, hidden)
    return out(x).view(*h.shape[:-1], -1)  # (..., D)


def lean_rollout(model, z: torch.Tensor, a_prev: torch.Tensor, action_blocks: torch.Tensor) -> torch.Tensor:
    """``rollout`` in eval mode, computing each quantity once (same numbers to ~1e-6):

    - the action embeddings and every layer's AdaLN modulation depend on an action block alone:
      computed once for the whole sequence (all layers in one matmul), not at every window step;
    - a context common to all candidates (B = 1) is computed once, not N times: its actions'
      modulations, and in every window the leading context frames whose action is a context
      action (causal attention: they see only each other, so they are the same for every
      candidate). They run at batch 1 and hand their keys and values to the candidates' frames;
    - only the last position's prediction is used: the last layer, the output projection and the
      projector run on it alone (with history 1, attention is the value alone, ``lean``).
    z (B, w, D), a_prev (B, w-1, K) with B = 1 or N, action_blocks (N, P, K) -> (N, P, D).
    """
    N, P, _ = action_blocks.shape
    H, h0 = model.cfg.history, a_prev.shape[1]  # frames 0..h0 are the context; frame j has action j
    layers = model.predictor.transformer.layers
    c_ctx = encode_actions(model.action_encoder, a_prev) if h0 else None  # (B, h0, W)
    mods_ctx = [blk.adaLN_modulation(c_ctx) for blk in layers] if h0 else []  # each (B, h0, 6W)
    c = encode_actions(model.action_encoder, action_blocks)  # (N, P, W)
    lin = [blk.adaLN_modulation[1] for blk in layers]  # every layer's modulation in one matmul (N*P rows)
    mods = list(F.linear(F.silu(c), torch.cat([m.weight for m in lin]), torch.cat([m.bias for m in lin])
                         ).split(6 * c.shape[-1], dim=-1))  # each (N, P, 6W)
    if h0:
        mods = [torch.cat([mc.expand(N, -1, -1), m], dim=1) for mc, m in zip(mods_ctx, mods)]  # (N, h0+P, 6W)
    shared = z.shape[0] == 1 and N > 1
    out = []  # imagined frames h0+1, h0+2, ... each (N, 1, D)
    for p in range(P):
        hi = h0 + p + 1  # the window ends with frame h0+p, whose action is candidate block p
        lo = max(0, hi - H)
        s = max(0, h0 - lo) if shared else 0  # leading frames with a context action: common to all
        frames = [z[:, lo + s:h0 + 1].expand(N, -1, -1)] if lo + s <= h0 else []  # (N, <=h0+1, D)
        frames += out[max(0, lo - h0 - 1):]
        zw = torch.cat(frames, dim=1)  # (N, w - s, D)
        prefix = None
        if s:
            prefix = []
            model.predictor(z[:, lo:lo + s], None, [m[:, lo:lo + s] for m in mods_ctx], keep_kvs=prefix)  # (1, s, D)
        h = model.predictor(zw, None, [m[:, lo + s:hi] for m in mods], last_only=True,
                            prefix_kvs=prefix, lean=True)  # (N, 1, D)
        out.append(project(model.pred_proj, h))  # (N, 1, D)
    return torch.cat(out, dim=1)  # (N, P, D)
