import pytest
import torch

from lewm.config import PRESETS, LeWMConfig, get_preset
from lewm.model import AdaLNBlock, LeWM


def test_paper_preset_parameter_count():
    n = LeWM(PRESETS["paper"].model).num_params()
    assert n == 18_034_478  # the official PushT checkpoint's count (DESIGN §8)


def test_config_round_trip_and_unknown_fields():
    cfg = get_preset("cpu-small").with_overrides(model={"history": 1}, action_mean=(0.1, 0.2))
    assert LeWMConfig.from_dict(cfg.to_dict()) == cfg
    d = cfg.to_dict()
    d["model"]["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        LeWMConfig.from_dict(d)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")


def test_adaln_zero_block_is_identity_at_init():
    blk = AdaLNBlock(PRESETS["cpu-tiny"].model).eval()
    x, c = torch.randn(3, 2, 32), torch.randn(3, 2, 32)
    torch.testing.assert_close(blk(x, c), x)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return LeWM(PRESETS["cpu-tiny"].model).eval()


def test_shapes_and_uint8_normalisation(tiny):
    px = torch.randint(0, 256, (2, 3, 3, 32, 32), dtype=torch.uint8)
    z = tiny.encode(px)
    assert z.shape == (2, 3, 16)
    # float input is taken as already normalised: same result as normalising by hand
    torch.testing.assert_close(tiny.encode(tiny.normalize_pixels(px.flatten(0, 1)).view(2, 3, 3, 32, 32)), z)
    a = torch.randn(2, 2, 10)
    assert tiny.predict(z[:, :2], a).shape == (2, 2, 16)
    with pytest.raises(ValueError, match="action blocks"):
        tiny.predict(z[:, :2], torch.randn(2, 2, 7))
    with pytest.raises(ValueError, match="context is 2 frames"):
        tiny.predict(z, torch.randn(2, 3, 10))
    with pytest.raises(ValueError, match="32x32"):
        tiny.encode(torch.zeros(1, 1, 3, 64, 64, dtype=torch.uint8))


def test_predictor_is_causal(tiny):
    z, a = torch.randn(1, 2, 16), torch.randn(1, 2, 10)
    out = tiny.predict(z, a)
    z2, a2 = z.clone(), a.clone()
    z2[:, 1] += 5
    a2[:, 1] += 5
    torch.testing.assert_close(tiny.predict(z2, a2)[:, 0], out[:, 0])


def test_rollout_matches_manual_autoregression(tiny):
    H = tiny.cfg.history  # 2
    z0 = torch.randn(1, 1, 16)
    blocks = torch.randn(4, 3, 10)
    roll = tiny.rollout(z0, blocks)  # (4, 3, 16)
    for n in range(4):
        zs, acts = [z0[0, 0]], []
        for p in range(3):
            acts.append(blocks[n, p])
            zw = torch.stack(zs[-H:])[None]
            aw = torch.stack(acts[-H:])[None]
            zs.append(tiny.predict(zw, aw)[0, -1])
        torch.testing.assert_close(roll[n], torch.stack(zs[1:]), rtol=1e-5, atol=1e-5)


def test_sincos_position_codes_and_frequency_scale():
    """Channel layout [sin(row·ω), cos(row·ω), sin(col·ω), cos(col·ω)], ω_k = s / 10000^(k/q):
    checked element-wise against the formula, and the scale reaches the model's embeddings."""
    import math
    from dataclasses import replace
    from lewm.model import sincos_2d
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
