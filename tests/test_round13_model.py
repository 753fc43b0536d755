"""Round 13 (API): the model, SIGReg, the loss and the checkpoint refuse wrong arguments with one clear line
(api1-7, 26-31, 33-37, 53-57, 78 of the round's findings) and accept numpy numbers."""
import numpy as np
import pytest
import torch

from lewm import checkpoint as C
from lewm import model as M
from lewm import sigreg as SG
from lewm.config import get_preset
from lewm.loss import lewm_loss

CFG = get_preset("cpu-tiny")
D, K = CFG.model.latent_dim, CFG.model.action_block_dim


@pytest.fixture(scope="module")
def m():
    torch.manual_seed(0)
    return M.build_model(CFG.model).eval()


def _px(t=3):
    return torch.randint(0, 255, (1, t, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_model_config_arguments():  # api1, api2
    with pytest.raises(TypeError, match=r"^build_model\(cfg=\.\.\.\) must be a ModelConfig \(e.g. cfg.model\), got LeWMConfig"):
        M.build_model(CFG)
    with pytest.raises(TypeError, match=r"^build_model\(cfg=\.\.\.\) must be a ModelConfig .* got NoneType"):
        M.build_model(None)
    with pytest.raises(TypeError, match=r"^parameter_count\(mc=\.\.\.\) must be a ModelConfig \(e.g. cfg.model\), got LeWMConfig"):
        M.parameter_count(CFG)
    assert M.parameter_count(CFG.model) > 0


def test_predict_casts_half_latents_outside_autocast(m):  # api3
    ref = m.predict(torch.zeros(1, 2, D), torch.zeros(1, 2, K))
    out = m.predict(torch.zeros(1, 2, D).half(), torch.zeros(1, 2, K))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast still decides
        assert m.predict(torch.zeros(1, 2, D).bfloat16(), torch.zeros(1, 2, K)).shape == (1, 2, D)


def test_save_refuses_meta_model_and_huge_step(m, tmp_path):  # api4, api37
    with pytest.raises(ValueError, match=r"^save\(model=\.\.\.\) is on the meta device \(no weights to write\)"):
        C.save(str(tmp_path / "x.pt"), M.build_model(CFG.model).to("meta"), CFG)
    with pytest.raises(ValueError, match=r"^save\(step=\.\.\.\) must be at most 1000000000 .* got 1180591620717411303424"):
        C.save(str(tmp_path / "x.pt"), m, CFG, step=2**70)
    assert not (tmp_path / "x.pt").exists()
    C.save(str(tmp_path / "y.pt"), m, CFG, step=np.int64(10**9))
    assert C.load(str(tmp_path / "y.pt"))[2]["step"] == 10**9


def test_sigreg_arguments():  # api5, api6, api33, api34, api35, api36, api55, api78
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match=r"^sigreg\(generator=\.\.\.\) must be a torch.Generator or None, got numpy Generator"):
        SG.sigreg(torch.randn(4, 8, 16), num_proj=4, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"^random_directions\(generator=\.\.\.\) must be a torch.Generator"):
        SG.random_directions(16, 8, generator=3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^random_directions\(device=\.\.\.\) cuda: .* use device='cpu'"):
            SG.random_directions(16, 8, device="cuda")
    assert SG.random_directions(16, 8, device="cpu").shape == (16, 8)
    with pytest.raises(TypeError, match=r"^SIGReg num_proj must be a whole number >= 1, got True"):
        SG.sigreg(z, num_proj=True)
    for t_max in (float("inf"), float("nan"), 1e9):
        with pytest.raises(ValueError, match=r"^SIGReg t_max must be > 0 and at most 100, finite"):
            SG.sigreg(z, t_max=t_max)
    with pytest.raises(ValueError, match=r"^SIGReg t_max must be > 0 and at most 100"):
        SG.epps_pulley(torch.randn(8, 4), knots=2, t_max=1e9)
    with pytest.raises(TypeError, match=r"^SIGReg expects a torch tensor of latents of real floats, got dtype torch.complex64"):
        SG.sigreg(torch.randn(8, 16, dtype=torch.complex64), num_proj=8)
    with pytest.raises(ValueError, match=r"^SIGReg expects .* on the meta device"):
        SG.sigreg(z.to("meta"), num_proj=8)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    want = SG.sigreg(z, num_proj=4, knots=5, t_max=100, generator=g())
    got = SG.sigreg(z, num_proj=np.int64(4), knots=np.int64(5), t_max=np.float64(100.0), generator=g())
    torch.testing.assert_close(got, want)


def test_loss_arguments(m):  # api7, api56, api57
    batch = {"pixels": _px(), "actions": torch.zeros(1, 2, K)}
    with pytest.raises(TypeError, match=r"^lewm_loss\(model=\.\.\.\) must be a LeWM model .* got NoneType"):
        lewm_loss(None, batch, CFG)
    with pytest.raises(ValueError, match=r"^lewm_loss: a window needs >= 2 frames \(pixels T=1"):
        lewm_loss(m.train(), {"pixels": _px(1), "actions": torch.zeros(1, 0, K)}, CFG)
    with pytest.raises(TypeError, match=r"^lewm_loss\(sigreg_fn=\.\.\.\) must return a scalar tensor .* got str"):
        lewm_loss(m, batch, CFG, sigreg_fn=lambda *a, **k: "x")
    with pytest.raises(TypeError, match=r"must return a scalar tensor .* got a tensor of shape \(2,\)"):
        lewm_loss(m, batch, CFG, sigreg_fn=lambda *a, **k: torch.zeros(2))
    loss, pred, sig, _ = lewm_loss(m, batch, CFG, sigreg_fn=lambda *a, **k: 2.0)  # a plain number still works
    assert float(sig) == 2.0 and torch.isclose(loss, pred + CFG.sigreg.weight * 2.0)
    m.eval()


def test_non_finite_inputs_are_refused(m):  # api26, api27, api28
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^pixels: the frames hold 3072 NaN/inf values of 3072"):
            m.encode(torch.full((1, 1, 3, 32, 32), bad))
    with pytest.raises(ValueError, match=r"^predict\(actions=\.\.\.\) holds 20 NaN/inf values of 20"):
        m.predict(torch.zeros(1, 2, D), torch.full((1, 2, K), float("nan")))
    with pytest.raises(ValueError, match=r"^predict\(z=\.\.\.\) holds 32 NaN/inf values"):
        m.predict(torch.full((1, 2, D), float("inf")), torch.zeros(1, 2, K))
    with pytest.raises(ValueError, match=r"^rollout\(act_hist=\.\.\.\) holds 10 NaN/inf values"):
        m.rollout(torch.zeros(1, 2, D), torch.zeros(1, 3, K), torch.full((1, 1, K), float("nan")))
    blocks = torch.zeros(1, 3, K)
    blocks[0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^rollout\(action_blocks=\.\.\.\) holds 1 NaN/inf"):
        m.rollout(torch.zeros(1, 1, D), blocks)
    # check_finite=False: the caller guards the result itself (the training loss; planning's cost)
    assert m.predict(torch.zeros(1, 2, D), torch.full((1, 2, K), float("nan")), check_finite=False).isnan().all()
    with pytest.raises(TypeError, match=r"^predict\(check_finite=\.\.\.\) must be True or False, got 'no'"):
        m.predict(torch.zeros(1, 2, D), torch.zeros(1, 2, K), check_finite="no")


def test_rollout_context_and_flags(m):  # api29, api31
    with pytest.raises(ValueError, match=r"^act_hist: 2 context frames need 1 action block\(s\) between them, got None"):
        m.rollout(torch.zeros(1, 2, D), torch.zeros(1, 3, K))
    with pytest.raises(ValueError, match=r"^act_hist: 2 context frames"):  # the compiled cost's path too
        m.context_window(torch.zeros(1, 2, D), None, torch.zeros(4, 3, K))
    assert m.rollout(torch.zeros(1, 1, D), torch.zeros(2, 3, K)).shape == (2, 3, D)  # one frame: None is right
    with pytest.raises(TypeError, match=r"^rollout\(lean=\.\.\.\) must be True or False, got 'no'"):
        m.rollout(torch.zeros(1, 2, D), torch.zeros(1, 3, K), torch.zeros(1, 1, K), lean="no")
    z, blocks, ah = torch.randn(1, 2, D), torch.randn(3, 2, K), torch.randn(1, 1, K)
    torch.testing.assert_close(m.rollout(z, blocks, ah, lean=np.False_), m.rollout(z, blocks, ah, lean=True),
                               atol=1e-5, rtol=1e-5)


def test_normalize_pixels_and_devices(m):  # api30, api53, api54
    with pytest.raises(TypeError, match=r"^pixels: expected uint8 \(0-255\) or float .* got torch.int64"):
        m.normalize_pixels(torch.zeros(2, 3, 32, 32, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^pixels: expected shape \(\.\.\., 3, 32, 32\) \(channels first, RGB\), got \(1, 32, 32, 3\)"):
        m.normalize_pixels(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))
    assert m.normalize_pixels(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"^pixels: the tensor is on meta, the model on cpu; move it with \.to\('cpu'\)"):
        m.encode(_px().to("meta"))
    with pytest.raises(ValueError, match=r"^z: the tensor is on meta, the model on cpu"):
        m.predict(torch.zeros(1, 2, D, device="meta"), torch.zeros(1, 2, K))
