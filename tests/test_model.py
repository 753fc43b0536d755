import pytest
import torch

from lewm.config import PRESETS, LeWMConfig, get_preset
from lewm.model import AdaLNBlock, LeWM


def test_paper_preset_parameter_count():
    n = LeWM(PRESETS["paper"].model).num_params()
    assert n == 18_034_478  # the official PushT checkpoint's count (DESIGN §8)


def test_config_round_trip_and_unknown_fields():
    cfg = get_preset("cpu-small").with_overrides(model={"history": 1}, action_mean=(0.1, 0.2),
                                                  action_std=(1.0, 1.0))
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


@pytest.mark.parametrize("history,h0", [(3, 1), (3, 2), (3, 3), (1, 1), (2, 4)])
def test_lean_rollout_equals_the_plain_autoregression(history, h0):
    """Eval-mode rollout (action embeddings and AdaLN modulations computed once, the last layer and
    the projector on the last position only) against the plain loop over ``predict`` windows, with
    action-sensitive blocks (a fresh AdaLN-zero predictor would ignore the actions)."""
    from lewm.config import ModelConfig
    from lewm.model import LeWM
    torch.manual_seed(0)
    mc = ModelConfig(image_size=32, patch_size=8, enc_dim=32, enc_depth=1, enc_heads=2, enc_mlp=64, latent_dim=12,
                     proj_hidden=48, pred_dim=32, pred_depth=3, pred_heads=2, pred_dim_head=16, pred_mlp=64,
                     dropout=0.1, history=history)
    m = LeWM(mc)
    for blk in m.predictor.transformer.layers:
        torch.nn.init.normal_(blk.adaLN_modulation[1].weight, std=0.3)
    m.train()
    m.encode(torch.randint(0, 256, (8, 2, 3, 32, 32), dtype=torch.uint8))  # non-trivial BatchNorm statistics
    m.predict(torch.randn(8, 1, 12), torch.randn(8, 1, 10))
    m.eval()
    N, P, K = 6, 5, mc.action_block_dim
    z_hist, a_hist = torch.randn(1, h0, 12), torch.randn(1, h0 - 1, K)  # (1, H0, D), (1, H0-1, K)
    blocks = torch.randn(N, P, K)  # (N, P, K)
    with torch.no_grad():
        lean = m.rollout(z_hist, blocks, a_hist if h0 > 1 else None)  # (N, P, D)
        for n in range(N):
            zs = list(z_hist[0])
            acts = list(a_hist[0]) if h0 > 1 else []
            for p in range(P):
                acts.append(blocks[n, p])
                w = min(history, len(zs))
                zw, aw = torch.stack(zs[-w:])[None], torch.stack(acts[-w:])[None]  # (1, w, D), (1, w, K)
                zs.append(m.predict(zw, aw)[0, -1])
            torch.testing.assert_close(lean[n], torch.stack(zs[h0:]), rtol=1e-5, atol=1e-5)


def test_lean_action_encoding_is_the_action_encoder():
    """lewm._lean_rollout.encode_actions (the kernel-1 convolution as a linear on contiguous blocks) gives
    ActionEncoder's numbers, for a batch of candidates and for a single context row."""
    from lewm._lean_rollout import encode_actions
    torch.manual_seed(0)
    m = LeWM(get_preset("cpu-tiny").model).eval()
    for shape in ((64, 5, m.cfg.action_block_dim), (1, 2, m.cfg.action_block_dim)):
        a = torch.randn(*shape)  # (B, T, K)
        torch.testing.assert_close(encode_actions(m.action_encoder, a), m.action_encoder(a), atol=1e-6, rtol=1e-5)
