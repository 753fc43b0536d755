"""lewm.train: training reduces the loss, saves and resumes; divergence stops cleanly; BatchNorm recalibration;
--init; the compiled path; the train CLI's precision."""
import json
import os

import pytest
import torch

from lewm import checkpoint
from lewm.checkpoint import CheckpointError
from lewm.config import get_preset
from lewm.data import WindowDataset
from lewm.train import TrainingDiverged, train


def test_train_reduces_loss_saves_and_resumes(tmp_path, syn_h5):
    cfg = get_preset("cpu-tiny")
    seen = []
    res = train(cfg, syn_h5, str(tmp_path / "run"), steps=40, progress=False, on_step=lambda s: seen.append(s))
    assert res.step == 40 and len(seen) == 40 and seen[-1].latents.shape == (16, 3, 16)
    lines = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
    assert lines[-1]["step"] == 40
    first = sum(l["pred_loss"] for l in lines[:5]) / 5
    last = sum(l["pred_loss"] for l in lines[-5:]) / 5
    assert last < first
    model, cfg2, meta = checkpoint.load(res.checkpoint)
    assert meta["step"] == 40 and cfg2.env == "synthetic_dot" and len(cfg2.action_mean) == 2
    # resume continues from the saved step
    res2 = train(cfg, syn_h5, str(tmp_path / "run"), steps=45, progress=False)
    assert res2.step == 45
    # a different architecture in the same folder is refused
    with pytest.raises(CheckpointError, match="different architecture"):
        train(cfg.with_overrides(model={"latent_dim": 8}), syn_h5, str(tmp_path / "run"), steps=50, progress=False)


def test_nan_loss_stops_with_clear_message_and_keeps_checkpoint(tmp_path, syn_h5):
    cfg = get_preset("cpu-tiny").with_overrides(train={"ckpt_every": 5})
    calls = {"n": 0}

    def poison(info):
        calls["n"] += 1

    out = str(tmp_path / "nan")
    train(cfg, syn_h5, out, steps=5, progress=False)
    good = checkpoint.load(os.path.join(out, "last.pt"))[2]["step"]
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train(cfg.with_overrides(train={"lr": 1e30}), syn_h5, out, steps=30, progress=False, resume=False)
    assert checkpoint.load(os.path.join(out, "last.pt"))[2]["step"] == good


def test_training_saves_recalibrated_batchnorm_and_export_can_redo_it(tmp_path, syn_h5, capsys):
    """The saved checkpoint's eval-mode statistics match the data at the saved weights (the
    momentum trail would lag a fast-moving run); ``export --data`` recalibrates old checkpoints."""
    from lewm.cli import main
    from lewm.data import batch_iterator
    from test_bn_recalibration import _bn_inputs
    cfg = get_preset("cpu-tiny").with_overrides(train={"lr": 3e-3, "bn_recalibrate_batches": 8})
    res = train(cfg, syn_h5, str(tmp_path / "run"), steps=30, progress=False)
    assert res.metrics["bn_recalibration_frames"] == 8 * cfg.train.batch_size * (cfg.model.history + 1)
    model, cfg2, _ = checkpoint.load(res.checkpoint)
    ds = WindowDataset(syn_h5, cfg2.model.history, cfg2.model.frameskip, split="all")
    it = batch_iterator(ds, 64, torch.Generator().manual_seed(9))
    bns, seen = _bn_inputs(model, [next(it) for _ in range(4)])
    x = torch.cat(seen[id(bns[0])])  # (N, C) encoder-projector BN inputs over fresh windows
    z_err = ((bns[0].running_mean - x.mean(0)).abs() / x.std(0)).median()
    assert z_err < 0.3, f"running mean is {z_err:.2f} std off the data"
    # export --data: corrupt the statistics, export re-estimates them
    bns[0].running_mean.add_(10 * x.std(0))
    checkpoint.save(str(tmp_path / "bad.pt"), model, cfg2, 30, {})
    assert main(["export", "--checkpoint", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "fixed.pt"),
                 "--data", syn_h5, "--bn-batches", "4", "--fp32"]) == 0
    assert "re-estimated" in capsys.readouterr().out
    fixed, _, meta = checkpoint.load(str(tmp_path / "fixed.pt"))
    fixed_bn = [m for m in fixed.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    assert ((fixed_bn.running_mean - x.mean(0)).abs() / x.std(0)).median() < 0.3
    assert meta["metrics"]["bn_recalibration_frames"] > 0
    # data of another environment is refused, naming both
    from lewm.collect import collect
    other = collect("two_room", 2, str(tmp_path / "tr.h5"), image_size=32, episode_len=16, workers=1, progress=False)
    assert main(["export", "--checkpoint", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "x.pt"),
                 "--data", other]) == 2
    err = capsys.readouterr().err
    assert "'two_room'" in err and "'synthetic_dot'" in err


def test_init_continues_another_run_on_other_data(tmp_path, syn_h5):
    """--init: weights, optimizer and step of run A, continued on run B's data (actions z-scored
    with B's data, as a resumed run would); clear errors otherwise."""
    import h5py
    import numpy as np
    from lewm.synthetic import write_synthetic_h5
    from lewm.train import action_stats_of
    cfg = get_preset("cpu-tiny")
    a = train(cfg, syn_h5, str(tmp_path / "a"), steps=10, progress=False)
    other = write_synthetic_h5(str(tmp_path / "other.h5"), episodes=12, length=40, image_size=32, seed=5)
    firsts = []
    b = train(cfg, other, str(tmp_path / "b"), steps=15, progress=False, init=a.checkpoint,
              on_step=lambda s: firsts.append(s.step))
    assert b.step == 15 and firsts[0] == 11  # continued at A's step, not from scratch
    _, cfg_a, _ = checkpoint.load(a.checkpoint)
    _, cfg_b, meta_b = checkpoint.load(b.checkpoint)
    own = WindowDataset(other, cfg.model.history, cfg.model.frameskip, split="all").action_stats
    assert np.allclose(action_stats_of(cfg_b).mean, own.mean) and np.allclose(action_stats_of(cfg_b).std, own.std)
    assert not np.allclose(own.mean, action_stats_of(cfg_a).mean)  # ... which differ from A's
    # the same as copying A's checkpoint into B's folder and resuming there
    import shutil
    os.makedirs(tmp_path / "b2")
    shutil.copy(a.checkpoint, tmp_path / "b2" / "last.pt")
    b2 = train(cfg, other, str(tmp_path / "b2"), steps=15, progress=False)
    m_b, _, _ = checkpoint.load(b.checkpoint)
    m_b2, _, _ = checkpoint.load(b2.checkpoint)
    for (n, p), (_, q) in zip(m_b.state_dict().items(), m_b2.state_dict().items()):
        torch.testing.assert_close(p, q, msg=lambda m: f"{n}: {m}")
    lines = [json.loads(l) for l in open(tmp_path / "b" / "metrics.jsonl")]
    assert lines and lines[0]["step"] > 10  # B's own log only
    # its throughput counts its own samples only (was A's 10 steps too: a silently inflated samples/s)
    last = lines[-1]
    assert last["samples_per_s"] * last["elapsed_s"] == pytest.approx((last["step"] - 10) * cfg.train.batch_size, rel=1e-6)
    with pytest.raises(ValueError, match=r"\(--init, train\(init=\.\.\.\)\) is at step 10: ask for more steps .*train\(steps=\.\.\.\)"):
        train(cfg, other, str(tmp_path / "c"), steps=10, progress=False, init=a.checkpoint)
    with pytest.raises(CheckpointError, match="latent_dim"):
        train(cfg.with_overrides(model={"latent_dim": 8}), other, str(tmp_path / "d"), steps=20, progress=False,
              init=a.checkpoint)
    with h5py.File(other, "a") as f:
        f.attrs["env"] = "two_room"
    with pytest.raises(ValueError, match="synthetic_dot"):
        train(cfg, other, str(tmp_path / "e"), steps=20, progress=False, init=a.checkpoint)


@pytest.mark.slow  # torch.compile on the CPU: ~80 s of C++ compilation.  pytest -m slow tests/test_train.py
def test_compiled_training_recalibrates_eagerly(tmp_path, syn_h5, monkeypatch):
    """train.compile=true: the checkpoint-time BatchNorm recalibration and the final validation run
    eagerly (force_eager), so they compile no graphs of their own; the saved weights are finite."""
    import contextlib

    import torch._dynamo
    from torch._dynamo.utils import counters

    import lewm.train as T
    cfg = get_preset("cpu-tiny").with_overrides(train={"compile": True, "ckpt_every": 5})

    def graphs(out: str) -> int:
        torch._dynamo.reset()
        counters.clear()
        res = train(cfg, syn_h5, str(tmp_path / out), steps=12, progress=False)
        assert res.step == 12
        return counters["stats"]["unique_graphs"]

    eager_side_passes = graphs("run")
    model, _, meta = checkpoint.load(str(tmp_path / "run" / "last.pt"))
    assert meta["step"] == 12 and meta["metrics"]["bn_recalibration_frames"] > 0
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())
    monkeypatch.setattr(T, "_eager", contextlib.nullcontext)  # the side passes compiled, as before
    assert graphs("run2") > eager_side_passes > 0


def test_train_cli_takes_precision(tmp_path, syn_h5):
    """`train --precision bf16` reaches the saved config; an unknown value is refused by the parser."""
    import argparse

    from lewm.cli import add_train_args, run_train
    p = argparse.ArgumentParser()
    add_train_args(p)
    a = p.parse_args(["--data", syn_h5, "--preset", "cpu-tiny", "--steps", "2", "--precision", "bf16",
                      "--out", str(tmp_path / "run")])
    assert run_train(a) == 0
    _, cfg, _ = checkpoint.load(str(tmp_path / "run" / "last.pt"))
    assert cfg.train.precision == "bf16"
    with pytest.raises(SystemExit):
        p.parse_args(["--data", syn_h5, "--out", "x", "--precision", "fp16"])
