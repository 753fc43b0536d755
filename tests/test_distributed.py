"""Data-parallel training on 2 CPU processes (gloo) equals one process on the global batch."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lewm.config import get_preset
from lewm.model import LeWM
from lewm.train import lewm_loss

WORLD = 2
GLOBAL_B = 8
SIG_SEED = 123


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg():
    cfg = get_preset("cpu-tiny")
    assert cfg.model.dropout == 0 and cfg.model.emb_dropout == 0
    return cfg


def _global_batch(cfg):
    mc = cfg.model
    g = torch.Generator().manual_seed(7)
    T = mc.history + 1
    return {
        "pixels": torch.randint(0, 256, (GLOBAL_B, T, 3, mc.image_size, mc.image_size), generator=g,
                                dtype=torch.uint8),  # (B, T, 3, S, S)
        "actions": torch.randn(GLOBAL_B, T - 1, mc.action_block_dim, generator=g),  # (B, T-1, K)
    }


def _model(cfg) -> LeWM:
    torch.manual_seed(0)
    return LeWM(cfg.model).train()


def _worker(rank: int, port: int, out: str, h5: str) -> None:
    from lewm import distributed
    from lewm.train import train
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        cfg = _cfg()
        model = _model(cfg)
        ctx = distributed.DistContext(rank=rank, world_size=WORLD, device=torch.device("cpu"))
        net = distributed.wrap_ddp(model, cfg, ctx)
        b = GLOBAL_B // WORLD
        batch = {k: v[rank * b:(rank + 1) * b] for k, v in _global_batch(cfg).items()}  # this rank's share
        loss, pred, sig, z = net(batch, torch.Generator().manual_seed(SIG_SEED))
        loss.backward()
        glob = distributed.mean_over_ranks(torch.stack([loss.detach(), pred.detach(), sig.detach()]))
        torch.save({"loss": glob, "grads": {n: p.grad.clone() for n, p in model.named_parameters()},
                    "buffers": {n: v.clone() for n, v in model.named_buffers()}},
                   os.path.join(out, f"step{rank}.pt"))
        # the real training loop under DDP: runs, rank 0 writes, ranks stay in sync
        res = train(cfg, h5, os.path.join(out, "run"), steps=3, device="cpu", progress=False, val_batches=1)
        torch.save({"step": res.step, "loss": res.metrics["loss"]}, os.path.join(out, f"train{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ddp_two_ranks_match_single_process(tmp_path, syn_h5):
    out = str(tmp_path)
    mp.spawn(_worker, args=(_free_port(), out, syn_h5), nprocs=WORLD, join=True)

    # single process on the same global batch, same init, same SIGReg directions
    cfg = _cfg()
    ref = _model(cfg)
    loss, pred, sig, _ = lewm_loss(ref, _global_batch(cfg), cfg, torch.Generator().manual_seed(SIG_SEED))
    loss.backward()

    for rank in range(WORLD):
        got = torch.load(os.path.join(out, f"step{rank}.pt"), weights_only=True)
        torch.testing.assert_close(got["loss"], torch.stack([loss, pred, sig]).detach(), rtol=1e-4, atol=1e-6)
        for n, p in ref.named_parameters():
            torch.testing.assert_close(got["grads"][n], p.grad, rtol=1e-4, atol=1e-6, msg=lambda m: f"{n}: {m}")
        for n, v in ref.named_buffers():  # BatchNorm running statistics of the global batch
            torch.testing.assert_close(got["buffers"][n], v, rtol=1e-4, atol=1e-6, msg=lambda m: f"{n}: {m}")

    t0, t1 = (torch.load(os.path.join(out, f"train{r}.pt"), weights_only=True) for r in range(WORLD))
    assert t0["step"] == t1["step"] == 3 and t0["loss"] == t1["loss"]  # global loss on every rank
    from lewm import checkpoint
    m, c, meta = checkpoint.load(os.path.join(out, "run", "last.pt"))
    assert meta["step"] == 3 and "val_pred_loss" in meta["metrics"]
    # BatchNorm re-estimated on every rank's batches: the recorded count is the global one
    tc = cfg.train
    assert meta["metrics"]["bn_recalibration_frames"] == tc.bn_recalibrate_batches * tc.batch_size * (cfg.model.history + 1)
    lines = open(os.path.join(out, "run", "metrics.jsonl")).read().splitlines()
    assert len(lines) == 3  # rank 0 only (log_every 1)


def test_sigreg_global_is_plain_sigreg_without_group():
    from lewm.distributed import sigreg_global
    from lewm.sigreg import sigreg
    z = torch.randn(3, 16, 8)
    a = sigreg_global(z, 32, generator=torch.Generator().manual_seed(1))
    b = sigreg(z, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_sigreg_global_refuses_nan_latents_like_sigreg():
    from lewm.distributed import LossModule, sigreg_global
    from lewm.sigreg import sigreg
    z = torch.randn(3, 16, 8)
    z[1, 2, 3] = float("nan")
    for fn in (sigreg, sigreg_global):
        with pytest.raises(ValueError, match=r"SIGReg: the latents hold 1 NaN/inf values"):
            fn(z, 32)
    assert torch.isnan(sigreg_global(z, 32, check_finite=False))  # the training loss checks the loss itself
    with pytest.raises(TypeError, match="SIGReg expects a torch tensor"):
        sigreg_global(z.numpy(), 32)
    # the training path does not pay a NaN check (a device sync) per step
    assert LossModule(torch.nn.Linear(1, 1), _cfg()).sigreg_fn.keywords == {"check_finite": False}


def test_init_from_env_and_convert_batchnorm_take_device_names(monkeypatch):
    from lewm import distributed
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = distributed.init_from_env("cpu")
    assert ctx.device == torch.device("cpu") and isinstance(ctx.device, torch.device) and not ctx.enabled
    with pytest.raises(TypeError, match=r"init_from_env: device must be a torch\.device or a device name"):
        distributed.init_from_env(None)
    with pytest.raises(ValueError, match=r"init_from_env: device 'gpu' is not a device"):
        distributed.init_from_env("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"init_from_env: device cuda: .*CUDA"):
            distributed.init_from_env("cuda")
    with pytest.raises(TypeError, match=r"convert_batchnorm: module must be a torch\.nn\.Module, got NoneType"):
        distributed.convert_batchnorm(None, torch.device("cpu"))
    m = distributed.convert_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm1d(3)), "cpu")
    assert type(m[0]) is distributed.GlobalBatchNorm1d
    distributed.unconvert_batchnorm(m)
