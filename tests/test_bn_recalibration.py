"""lewm.bn_recalibration: the running statistics become the plain average of the per-batch statistics."""
import torch

from lewm.config import get_preset
from lewm.data import WindowDataset


def _bn_inputs(model, batches):
    """Per BatchNorm, the (N, C) inputs it sees over train-mode passes of ``batches``."""
    from lewm.bn_recalibration import _batchnorms
    bns = _batchnorms(model)
    seen = {id(bn): [] for bn in bns}
    hooks = [bn.register_forward_hook(lambda m, i, o: seen[id(m)].append(i[0].detach().clone())) for bn in bns]
    model.train()
    with torch.no_grad():
        for b in batches:
            model.predict(model.encode(b["pixels"])[:, :-1], b["actions"])
    for h in hooks:
        h.remove()
    return bns, seen


def test_recalibrate_batchnorm_matches_per_batch_average(syn_h5):
    """Running stats after recalibration = the plain average of the per-batch BN input statistics
    (reference computed independently from hooked inputs); weights, momentum and mode untouched."""
    from lewm.data import batch_iterator
    from lewm.model import LeWM
    from lewm.bn_recalibration import recalibrate_batchnorm
    cfg = get_preset("cpu-tiny")
    torch.manual_seed(0)
    model = LeWM(cfg.model)
    ds = WindowDataset(syn_h5, cfg.model.history, cfg.model.frameskip, split="all")
    it = batch_iterator(ds, 8, torch.Generator().manual_seed(3))
    batches = [next(it) for _ in range(4)]
    bns, seen = _bn_inputs(model, batches)
    assert len(bns) == 2  # encoder projector + predictor projector
    for bn in bns:  # garbage statistics, as a lagging momentum average leaves them
        bn.running_mean.fill_(5.0)
        bn.running_var.fill_(1e-3)
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    model.eval()
    frames = recalibrate_batchnorm(model, batches)
    assert frames == 4 * 8 * (cfg.model.history + 1)
    assert not model.training and all(bn.momentum == 0.1 for bn in bns)
    for k, v in weights.items():
        torch.testing.assert_close(model.state_dict()[k], v)
    for bn in bns:
        xs = seen[id(bn)]
        want_mean = torch.stack([x.mean(0) for x in xs]).mean(0)
        want_var = torch.stack([x.var(0, unbiased=True) for x in xs]).mean(0)
        torch.testing.assert_close(bn.running_mean, want_mean, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(bn.running_var, want_var, rtol=1e-3, atol=1e-8)
    # no batch: nothing changes
    before = bns[0].running_mean.clone()
    assert recalibrate_batchnorm(model, []) == 0
    torch.testing.assert_close(bns[0].running_mean, before)
