"""lewm.model_inputs: what LeWM.encode / predict / rollout accept, named in one error."""
import numpy as np
import pytest
import torch

from lewm.model_inputs import check_action_blocks, check_latents, check_pixels


def test_pixels_uint8_pass_float_must_be_normalised():
    px = torch.randint(0, 256, (2, 3, 3, 16, 16), dtype=torch.uint8)
    assert check_pixels(px, 16, torch.float32) is px
    norm = (px.float() / 255 - 0.45) / 0.225
    assert check_pixels(norm.double(), 16, torch.float32).dtype == torch.float32  # float64 -> the weights' dtype
    assert check_pixels(norm.bfloat16(), 16, torch.float32).dtype == torch.bfloat16  # autocast's choice stays
    with pytest.raises(ValueError, match=r"ImageNet-normalised .* got values up to 255"):
        check_pixels(px.float(), 16, torch.float32)
    with pytest.raises(TypeError, match=r"expected uint8 \(0-255\) or float"):
        check_pixels(px.long(), 16, torch.float32)
    with pytest.raises(ValueError, match=r"trained on 16x16 frames, got 32x32"):
        check_pixels(torch.zeros(1, 1, 3, 32, 32, dtype=torch.uint8), 16, torch.float32)
    with pytest.raises(ValueError, match=r"channels first"):
        check_pixels(torch.zeros(1, 1, 16, 16, 3, dtype=torch.uint8), 16, torch.float32)
    with pytest.raises(TypeError, match=r"got ndarray \(convert with torch.as_tensor\)"):
        check_pixels(np.zeros((1, 1, 3, 16, 16), np.uint8), 16, torch.float32)


def test_latents_and_action_blocks():
    assert check_latents(torch.zeros(2, 1, 4, dtype=torch.float64), 4, torch.float32).dtype == torch.float32
    assert check_action_blocks(torch.ones(2, 1, 6, dtype=torch.int64), 6, torch.float32).dtype == torch.float32
    assert check_action_blocks(torch.zeros(1, 0, 6), 6, torch.float32, "act_hist", allow_empty_time=True).shape == (1, 0, 6)
    for bad, pattern in [(torch.zeros(2, 4), r"^z: expected shape \(B, T, 4\), got \(2, 4\)"),
                         (torch.zeros(2, 1, 5), r"^z: expected shape \(B, T, 4\), got \(2, 1, 5\)"),
                         (torch.zeros(0, 1, 4), r"at least one entry in dimension 0")]:
        with pytest.raises(ValueError, match=pattern):
            check_latents(bad, 4, torch.float32)
    with pytest.raises(ValueError, match=r"at least one entry in dimension 1"):
        check_action_blocks(torch.zeros(1, 0, 6), 6, torch.float32)
    with pytest.raises(TypeError, match=r"expected real numbers, got dtype torch.bool"):
        check_action_blocks(torch.zeros(1, 1, 6, dtype=torch.bool), 6, torch.float32)
