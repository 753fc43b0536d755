"""lewm/_cpu_bf16.py: the bf16 CPU training forms compute what PyTorch's kernels compute."""
import pytest
import torch
import torch.nn.functional as F

from lewm import _cpu_bf16 as cpu_bf16


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3}, {"mask": "bool"}, {"mask": "float"}])
def test_attention_is_sdpa(kw):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 5, 8, generator=g) for _ in range(3))  # (B, h, T, d)
    kw = dict(kw)
    mask = kw.pop("mask", None)
    if mask == "bool":
        kw["attn_mask"] = torch.rand(5, 5, generator=g) > 0.3
        kw["attn_mask"][:, 0] = True  # every query sees a key
    elif mask == "float":
        kw["attn_mask"] = torch.randn(5, 5, generator=g)
    ref = F.scaled_dot_product_attention(q, k, v, **kw)
    torch.testing.assert_close(cpu_bf16.attention(q, k, v, **kw), ref, atol=1e-5, rtol=1e-5)


def test_attention_float_mask_and_prefix_mask():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 2, 3, 4, generator=g)  # (B, h, T, d)
    k, v = torch.randn(2, 2, 7, 4, generator=g), torch.randn(2, 2, 7, 4, generator=g)  # (B, h, S+T, d)
    add = torch.randn(3, 7, generator=g)
    torch.testing.assert_close(cpu_bf16.attention(q, k, v, attn_mask=add),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=add), atol=1e-5, rtol=1e-5)
    prefix = torch.ones(3, 7, dtype=torch.bool).tril(4)  # the predictor's mask with 4 cached positions
    torch.testing.assert_close(cpu_bf16.attention(q, k, v, attn_mask=prefix),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=prefix), atol=1e-5, rtol=1e-5)


def test_training_is_only_a_cpu_bf16_step_with_autograd():
    x = torch.zeros(1)
    assert not cpu_bf16.training(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert cpu_bf16.training(x)
        with torch.no_grad():
            assert not cpu_bf16.training(x)


def test_a_bf16_training_step_matches_fp32():
    """A cpu-tiny loss and its gradients under bf16 autocast (both forms on) stay within bf16 precision of fp32."""
    from lewm.config import get_preset
    from lewm.loss import lewm_loss
    from lewm.model import LeWM
    cfg = get_preset("cpu-tiny")
    g = torch.Generator().manual_seed(0)
    T, S = cfg.model.history + 1, cfg.model.image_size
    batch = {"pixels": torch.randint(0, 256, (8, T, 3, S, S), generator=g, dtype=torch.uint8),
             "actions": torch.randn(8, T - 1, cfg.model.action_block_dim, generator=g)}
    torch.manual_seed(0)
    m = LeWM(cfg.model).train()
    grads, losses = [], []
    for bf16 in (False, True):
        m.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = lewm_loss(m, batch, cfg, torch.Generator().manual_seed(0))[0]
        loss.backward()
        losses.append(float(loss))
        grads.append(torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None]))
    assert abs(losses[1] - losses[0]) < 0.05 * abs(losses[0])
    cos = F.cosine_similarity(grads[0], grads[1], dim=0)
    assert cos > 0.98, cos


def test_long_sequences_keep_fp32_sdpa():
    """Beyond WRITTEN_OUT_MAX_KEYS keys a bf16 training step keeps SDPA in fp32 (the scores are not materialised)."""
    from lewm.attention import attention
    g = torch.Generator().manual_seed(2)
    L = cpu_bf16.WRITTEN_OUT_MAX_KEYS + 1
    q, k, v = (torch.randn(1, 2, L, 8, generator=g).bfloat16().requires_grad_() for _ in range(3))
    o = attention(q, k, v)
    ref = F.scaled_dot_product_attention(*(t.detach().float() for t in (q, k, v))).bfloat16()
    assert torch.equal(o.detach(), ref)
