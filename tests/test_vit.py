"""lewm.vit: the encoder's position codes and its bf16 training patch embedding."""
import pytest
import torch

from lewm.config import get_preset
from lewm.model import LeWM


def test_sincos_position_codes_and_frequency_scale():
    """Channel layout [sin(row·ω), cos(row·ω), sin(col·ω), cos(col·ω)], ω_k = s / 10000^(k/q):
    checked element-wise against the formula, and the scale reaches the model's embeddings."""
    import math
    from dataclasses import replace
    from lewm.vit import sincos_2d
    grid, dim, s = 8, 32, 0.2
    q = dim // 4
    pe = sincos_2d(grid, dim, s)  # (L, E)
    for row, col in [(0, 0), (3, 5), (7, 2)]:
        for k in range(q):
            w = s / 10000 ** (k / q)
            want = [math.sin(row * w), math.cos(row * w), math.sin(col * w), math.cos(col * w)]
            got = [pe[row * grid + col, j * q + k].item() for j in range(4)]
            assert got == pytest.approx(want, abs=1e-6)
    # at scale 0.2 the fastest channel is monotone across the grid; at 1.0 it is not
    fast = lambda p: p[:grid, 2 * q].numpy()  # sin(col·ω_0) along the first row
    assert (torch.diff(torch.from_numpy(fast(pe))) > 0).all()
    assert not (torch.diff(torch.from_numpy(fast(sincos_2d(grid, dim)))) > 0).all()
    cfg = get_preset("cpu-tiny")
    cfg = replace(cfg, model=replace(cfg.model, pos_freq_scale=s))
    m = LeWM(cfg.model)
    g = cfg.model.image_size // cfg.model.patch_size
    want = sincos_2d(g, cfg.model.enc_dim, s)
    assert torch.allclose(m.encoder.embeddings.position_embeddings[0, 1:], want)
    with pytest.raises(ValueError, match="pos_freq_scale"):
        replace(cfg.model, pos_freq_scale=0.0)


def test_bf16_training_patch_embedding_is_the_convolution():
    """Under CPU bf16 autocast with autograd the patch embedding runs as a matmul over the patches (oneDNN's bf16
    convolution backward is slow): the same outputs and weight gradient as the convolution, to bf16 precision."""
    torch.manual_seed(0)
    pe = LeWM(get_preset("cpu-tiny").model).encoder.embeddings.patch_embeddings
    x = torch.randn(6, 3, pe.projection.stride[0] * 4, pe.projection.stride[0] * 4)  # (B, 3, S, S)
    ref = pe.projection(x).flatten(2).transpose(1, 2)  # (B, L, E) fp32 convolution
    ref.square().sum().backward()
    ref_grad, pe.projection.weight.grad = pe.projection.weight.grad.clone(), None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pe(x)  # the matmul form
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref.detach(), atol=3e-2, rtol=3e-2)
    out.float().square().sum().backward()
    torch.testing.assert_close(pe.projection.weight.grad, ref_grad, atol=0.05 * ref_grad.abs().max().item(), rtol=0.05)
