"""lewm.loss: the training loss is the teacher-forced next-embedding MSE plus λ times the SIGReg value,
recomputed here from the model's encoder and predictor."""
import pytest
import torch

from lewm.config import get_preset
from lewm.loss import lewm_loss
from lewm.model import LeWM
from lewm.sigreg import sigreg


def test_loss_is_prediction_mse_plus_weighted_sigreg():
    cfg = get_preset("cpu-tiny").with_overrides(sigreg={"weight": 0.25})
    torch.manual_seed(0)
    model = LeWM(cfg.model).eval()
    T, S, A = cfg.model.history + 1, cfg.model.image_size, cfg.model.action_dim * cfg.model.frameskip
    batch = {"pixels": torch.randint(0, 256, (3, T, 3, S, S), dtype=torch.uint8), "actions": torch.randn(3, T - 1, A)}
    with torch.no_grad():
        loss, pred_loss, sig, z = lewm_loss(model, batch, cfg, generator=torch.Generator().manual_seed(4))
        z_ref = model.encode(batch["pixels"])  # (B, T, D)
        pred = model.predict(z_ref[:, :-1], batch["actions"])  # (B, T-1, D)
        mse = ((pred - z_ref[:, 1:]) ** 2).mean()
        s = cfg.sigreg
        sig_ref = sigreg(z_ref.transpose(0, 1), num_proj=s.num_proj, knots=s.knots, t_max=s.t_max,
                         generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(z, z_ref)
    assert float(pred_loss) == pytest.approx(float(mse), rel=1e-6)
    assert float(sig) == pytest.approx(float(sig_ref), rel=1e-6)
    assert float(loss) == pytest.approx(float(mse) + 0.25 * float(sig_ref), rel=1e-6)
    # a SIGReg function of one's own (the data-parallel wrapper's) replaces the default one
    with torch.no_grad():
        loss2, _, sig2, _ = lewm_loss(model, batch, cfg, sigreg_fn=lambda zt, **kw: torch.tensor(2.0))
    assert float(sig2) == 2.0 and float(loss2) == pytest.approx(float(mse) + 0.5, rel=1e-6)
