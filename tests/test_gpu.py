"""The GPU path checked against the CPU: model, SIGReg, CEM, checkpoints, training.

The device under test is ``$LEWM_TEST_DEVICE`` (default ``cuda``; these tests are skipped when
it is not available). ``bash scripts/gpu_check.sh`` runs them on the GPU; ``--cpu-smoke`` runs
the same lines with ``LEWM_TEST_DEVICE=cpu`` (the comparisons are then CPU against CPU, which
checks that every line runs, not the numbers).
"""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch

from lewm.config import ModelConfig, get_preset
from lewm.model import LeWM
from lewm.planning import LatentGoalCost, PlannerConfig, cem

pytestmark = pytest.mark.gpu
DEV = torch.device(os.environ.get("LEWM_TEST_DEVICE", "cuda"))
if DEV.type == "cuda" and not torch.cuda.is_available():
    pytestmark = [pytest.mark.gpu, pytest.mark.skip(reason="no CUDA device (set LEWM_TEST_DEVICE=cpu for a CPU smoke run)")]
CUDA = DEV.type == "cuda"

# A small model with every part of the paper's architecture (BN projectors, AdaLN predictor, history 3).
MC = ModelConfig(image_size=32, patch_size=8, enc_dim=64, enc_depth=2, enc_heads=2, enc_mlp=128, latent_dim=16,
                 proj_hidden=64, pred_dim=64, pred_depth=2, pred_heads=4, pred_dim_head=16, pred_mlp=128,
                 dropout=0.0, history=3)


@pytest.fixture(autouse=True)
def _exact_fp32():
    """fp32 means fp32: no TF32 in matmuls or convolutions while comparing against the CPU."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _batch(B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    T, S = MC.history + 1, MC.image_size
    return {"pixels": torch.randint(0, 256, (B, T, 3, S, S), generator=g, dtype=torch.uint8),  # (B, T, 3, S, S)
            "actions": torch.randn(B, T - 1, MC.action_block_dim, generator=g)}  # (B, T-1, K)


def _fwd_bwd(model, batch, bf16: bool):
    dev = next(model.parameters()).device
    b = {k: v.to(dev) for k, v in batch.items()}
    model.zero_grad(set_to_none=True)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        z = model.encode(b["pixels"])  # (B, T, D)
        pred = model.predict(z[:, :-1], b["actions"])  # (B, T-1, D)
    loss = ((pred.float() - z[:, 1:].float()) ** 2).mean() + (z.float() ** 2).mean()
    loss.backward()
    grads = {n: p.grad.detach().float().cpu() for n, p in model.named_parameters() if p.grad is not None}
    return z.detach().float().cpu(), pred.detach().float().cpu(), grads


def _rel(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_forward_backward_on_device_matches_cpu(bf16):
    torch.manual_seed(0)
    ref = LeWM(MC).train()
    dut = copy.deepcopy(ref).to(DEV)
    batch = _batch()
    z0, p0, g0 = _fwd_bwd(ref, batch, bf16=False)  # the fp32 CPU reference
    z1, p1, g1 = _fwd_bwd(dut, batch, bf16=bf16)
    tol = 3e-2 if bf16 else 1e-4  # bf16 keeps 8 bits of mantissa: ~0.4% per op, compounded
    assert _rel(z1, z0) < tol and _rel(p1, p0) < tol, (_rel(z1, z0), _rel(p1, p0))
    assert set(g1) == set(g0)
    # biases in front of a BatchNorm or LayerNorm-to-BatchNorm chain have a zero true gradient (the
    # norm removes them); compare the gradients that carry signal
    top = max(float(g.norm()) for g in g0.values())
    worst = max(_rel(g1[n], g0[n]) for n in g0 if g0[n].norm() > 1e-4 * top)
    assert worst < (0.1 if bf16 else 1e-3), worst


def test_sigreg_on_device_matches_cpu():
    from lewm.sigreg import sigreg
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, 64, 16, generator=g) * 1.3 + 0.2  # (T, B, D)
    ref = sigreg(z, num_proj=256, generator=torch.Generator().manual_seed(5))
    # the directions are drawn by a CPU generator on either device, so both see the same ones
    out = sigreg(z.to(DEV), num_proj=256, generator=torch.Generator().manual_seed(5))
    assert abs(float(out) - float(ref)) <= 1e-4 * abs(float(ref)) + 1e-6, (float(out), float(ref))


def test_cem_on_device_picks_the_same_elites_as_cpu():
    target = torch.tensor([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.0]])  # (P, K): the known minimum

    def quad(dev):
        t = target.to(dev)
        return lambda a: ((a - t) ** 2).sum((1, 2))  # (N,)

    cfg = PlannerConfig(num_samples=200, topk=20, iterations=8)
    r_cpu = cem(quad("cpu"), 3, 2, cfg, generator=torch.Generator().manual_seed(3), device="cpu")
    r_dev = cem(quad(DEV), 3, 2, cfg, generator=torch.Generator().manual_seed(3), device=DEV)
    for a, b in zip(r_cpu.iterations, r_dev.iterations):
        assert torch.equal(a.elite_idx.sort().values, b.elite_idx.sort().values)
    assert torch.allclose(r_dev.actions.cpu(), r_cpu.actions, atol=1e-5)
    assert float((r_cpu.actions - target).abs().max()) < 0.1  # and CEM found the minimum


def test_world_model_plan_on_device_matches_cpu():
    torch.manual_seed(0)
    ref = LeWM(MC).eval()
    for blk in ref.predictor.transformer.layers:  # a fresh AdaLN-zero predictor ignores the actions: every
        torch.nn.init.normal_(blk.adaLN_modulation[1].weight, std=0.3)  # candidate would tie; wake it up
    dut = copy.deepcopy(ref).to(DEV)
    b = _batch(B=1, seed=2)
    cfg = PlannerConfig(num_samples=64, topk=8, iterations=4, horizon=3)
    out = []
    for m in (ref, dut):
        d = next(m.parameters()).device
        with torch.no_grad():
            z = m.encode(b["pixels"].to(d))  # (1, T, D)
            cost = LatentGoalCost(m, z[:, :3], z[0, 3], b["actions"][:, :2].to(d))
        out.append(cem(cost, 3, MC.action_block_dim, cfg, generator=torch.Generator().manual_seed(4), device=d))
    assert torch.equal(out[0].iterations[0].elite_idx.sort().values, out[1].iterations[0].elite_idx.sort().values)
    assert torch.allclose(out[1].actions.cpu(), out[0].actions, atol=1e-3)


@pytest.mark.skipif(not CUDA, reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_graphed_cost_matches_the_eager_cost(bf16):
    from lewm.planning.graphed_cost import graphed_goal_cost
    torch.manual_seed(0)
    model = LeWM(MC).to(DEV).eval()
    b = _batch(B=1, seed=3)
    g = torch.Generator(device=DEV).manual_seed(0)
    with torch.no_grad():
        z = model.encode(b["pixels"].to(DEV))  # (1, T, D)
        for H0 in (1, 3):  # a context still filling up, then a full one
            a_hist = b["actions"][:, :H0 - 1].to(DEV) if H0 > 1 else None
            eager = LatentGoalCost(model, z[:, :H0], z[0, 3], a_hist)
            graphed = graphed_goal_cost(model, z[:, :H0], z[0, 3], a_hist, bf16=bf16)
            for _ in range(2):  # the second call replays the captured graph with new inputs
                acts = torch.randn(50, 4, MC.action_block_dim, generator=g, device=DEV)  # (N, P, K)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                    c0 = eager(acts)[0]
                c1 = graphed(acts)[0]
                assert torch.allclose(c1, c0, rtol=1e-5 if not bf16 else 2e-2, atol=1e-6), (c1 - c0).abs().max()


def test_save_on_device_load_on_cpu(tmp_path):
    from lewm import checkpoint
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 3})
    torch.manual_seed(0)
    model = LeWM(cfg.model).to(DEV)
    path = str(tmp_path / "m.pt")
    checkpoint.save(path, model, cfg, 7, {"loss": 1.0})
    back, cfg2, meta = checkpoint.load(path, device="cpu")
    assert meta["step"] == 7 and cfg2.model == cfg.model
    for (n, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a.cpu(), b), n


def test_gpu_resident_batches_gather_the_right_windows(syn_h5):
    from lewm.data import WindowDataset
    from lewm.train import _gpu_resident_batches
    ds = WindowDataset(syn_h5, 3, 5, split="train")
    b = next(_gpu_resident_batches(ds, 6, torch.Generator().manual_seed(0), DEV))
    idx = np.searchsorted(ds.starts, b["index"].cpu().numpy())  # window numbers of the drawn starts
    ref = ds.get_batch(idx)
    assert torch.equal(b["pixels"].cpu(), ref["pixels"])
    assert torch.allclose(b["actions"].cpu(), ref["actions"])


def test_thirty_training_steps_on_device_lower_the_loss(tmp_path, syn_h5):
    import json
    from lewm.train import train
    cfg = get_preset("cpu-tiny").with_overrides(train={"lr": 3e-3, "warmup_steps": 3, "log_every": 1,
                                                      "ckpt_every": 15, "batch_size": 16})
    res = train(cfg, syn_h5, str(tmp_path / "run"), steps=30, device=str(DEV), progress=False)
    assert res.step == 30 and os.path.exists(res.checkpoint)
    recs = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
    loss = np.array([r["loss"] for r in recs])
    assert np.isfinite(loss).all() and len(loss) == 30
    assert loss[-5:].mean() < 0.8 * loss[:5].mean(), (loss[:5], loss[-5:])
