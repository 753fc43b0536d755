"""The compiled rollout's few-key attention (``lewm._lean_rollout.few_key_attention``) against PyTorch's SDPA."""
import torch
import torch.nn.functional as F

from lewm._lean_rollout import few_key_attention


def test_few_key_attention_equals_sdpa_for_every_mask_the_rollout_uses():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(7, 4, 3, 16, generator=g)  # (B, h, T, d)
    k, v = torch.randn(2, 7, 4, 5, 16, generator=g)  # (B, h, S, d): 2 prefix keys + 3 own
    tril = torch.ones(3, 3, dtype=torch.bool).tril()
    prefix = torch.ones(3, 5, dtype=torch.bool).tril(2)  # position i sees the prefix and its own 0..i
    cases = [(q, k[:, :, 2:], v[:, :, 2:], dict(is_causal=True)),
             (q, k[:, :, 2:], v[:, :, 2:], dict(attn_mask=tril)),
             (q, k, v, dict(attn_mask=prefix)),
             (q[:, :, -1:], k, v, {})]  # the last position alone sees every key
    for qq, kk, vv, kw in cases:
        ref = F.scaled_dot_product_attention(qq, kk, vv, **kw)  # (B, h, T, d)
        torch.testing.assert_close(few_key_attention(qq, kk, vv, **kw), ref, atol=1e-6, rtol=1e-5)
    bf = few_key_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())  # bf16 in, fp32 arithmetic, bf16 out
    assert bf.dtype == torch.bfloat16
    ref = F.scaled_dot_product_attention(q, k, v)
    assert (bf.float() - ref).abs().max() < 0.03
