"""lewm.attention: SDPA, written out for a bf16 training step on a CPU."""
import torch


def test_cpu_bf16_attention_with_autograd_is_written_out():
    """lewm.attention.attention: bf16 on a CPU with autograd on (a bf16 training step) runs softmax(q kᵀ) v written out
    (bf16 products, fp32 softmax: PyTorch's bf16 CPU attention backward is slow, lewm/_cpu_bf16.py); without
    autograd (planning) it is SDPA's bf16 kernel as it is. Values against an fp32 reference, the gradients' dtype."""
    from lewm.attention import attention
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g) for _ in range(3))  # (B, h, L, dh)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)  # fp32
    qb, kb, vb = (t.bfloat16().requires_grad_() for t in (q, k, v))
    o = attention(qb, kb, vb, is_causal=True)
    assert o.dtype == torch.bfloat16
    assert (o.detach().float() - ref).abs().max() < 0.05
    o.float().sum().backward()
    assert qb.grad.dtype == torch.bfloat16 and torch.isfinite(qb.grad.float()).all()
    with torch.no_grad():  # planning: bf16 kernels as they are
        ob = attention(qb, kb, vb, is_causal=True)
    direct = torch.nn.functional.scaled_dot_product_attention(qb.detach(), kb.detach(), vb.detach(), is_causal=True)
    assert ob.dtype == torch.bfloat16 and torch.equal(ob, direct)
