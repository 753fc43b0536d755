"""lewm.diagnostics.dynamics: open-loop rollouts against known references, and temporal straightness."""
import math

import numpy as np
import pytest
import torch

from lewm import diagnostics as dg
from lewm.config import get_preset
from lewm.model import LeWM

from _known_worlds import PositionWorld, position_episode, world_cfg


def test_open_loop_is_exact_for_an_exact_model_and_copy_baseline_grows():
    ep = position_episode(np.random.default_rng(0), length=31)
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    r = dg.open_loop_dynamics(model, ep["pixels"], ep["action"], world_cfg(model), start=1)
    assert r.frames.tolist() == list(range(7, 31, 3)) and r.context_frames.tolist() == [1, 4]
    np.testing.assert_allclose(r.actual, ep["state"][r.frames])
    np.testing.assert_allclose(r.error, 0.0, atol=1e-9)
    np.testing.assert_allclose(r.copy_error, ((ep["state"][r.frames] - ep["state"][4]) ** 2).mean(1), rtol=1e-6)
    # a model that ignores actions is the copy baseline
    still = PositionWorld(history=2, frameskip=3, gain=0.0)
    r0 = dg.open_loop_dynamics(still, ep["pixels"], ep["action"], world_cfg(still), start=1, horizon=4)
    np.testing.assert_allclose(r0.error, r0.copy_error, rtol=1e-6)
    with pytest.raises(ValueError, match="horizon"):
        dg.open_loop_dynamics(model, ep["pixels"], ep["action"], world_cfg(model), start=1, horizon=9)


def test_open_loop_matches_a_step_by_step_reference_on_a_real_model():
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(model={"frameskip": 2}, action_mean=(0.1, -0.2), action_std=(0.5, 2.0))
    model = LeWM(cfg.model).eval()
    with torch.no_grad():  # non-trivial action conditioning (AdaLN is zero-initialised)
        for p in model.predictor.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g = np.random.default_rng(0)
    px = g.integers(0, 256, size=(15, 32, 32, 3), dtype=np.uint8)
    act = g.normal(size=(15, 2)).astype(np.float32)
    r = dg.open_loop_dynamics(model, px, act, cfg, start=0, horizon=4)
    H, fs = 2, 2
    with torch.no_grad():
        z = model.encode(torch.from_numpy(px[::fs][:H]).permute(0, 3, 1, 2)[None])[0]  # (H, D)
        a = torch.from_numpy(((act - [0.1, -0.2]) / [0.5, 2.0]).astype(np.float32))
        blocks = [a[i * fs:(i + 1) * fs].reshape(-1) for i in range(H + 4)]
        zs, acts, pred = list(z), blocks[:H], []
        for p in range(4):
            out = model.predict(torch.stack(zs[-H:])[None], torch.stack(acts[-H:])[None])[0, -1]
            pred.append(out)
            zs.append(out)
            acts.append(blocks[H + p])
    np.testing.assert_allclose(r.predicted, torch.stack(pred).numpy(), atol=1e-5)


def test_temporal_straightness_known_paths():
    t = np.arange(20)[:, None]
    assert dg.temporal_straightness(t * np.array([[1.0, 2.0, -1.0]])) == pytest.approx(1.0)
    zig = np.stack([np.arange(20), (np.arange(20) % 2)], 1).astype(float)  # velocities (1, ±1)
    assert dg.temporal_straightness(zig) == pytest.approx(0.0, abs=1e-12)
    theta = 0.3
    circle = np.stack([np.cos(theta * t[:, 0]), np.sin(theta * t[:, 0])], 1)
    assert dg.temporal_straightness(circle) == pytest.approx(math.cos(theta), abs=1e-9)
    assert math.isnan(dg.temporal_straightness(np.zeros((5, 3))))  # a frozen latent has no direction
    with pytest.raises(ValueError, match="at least 3 frames"):
        dg.temporal_straightness(np.zeros((2, 3)))


def test_sweep_starts_step_by_frameskip_and_leave_one_imagined_step():
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    cfg = world_cfg(model)
    # 31 frames, history 2 x frameskip 3: the last start with one imagined step is 31 - 1 - 6 = 24
    assert dg.sweep_starts(31, cfg).tolist() == list(range(0, 25, 3))
    assert dg.sweep_starts(31, cfg, max_starts=4).tolist() == [0, 9, 18]  # 9 starts -> every 3rd block
    assert dg.sweep_starts(6, cfg).tolist() == []  # too short for any imagined step


def test_open_loop_sweep_is_open_loop_dynamics_from_each_start():
    ep = position_episode(np.random.default_rng(1), length=31)
    model = PositionWorld(history=2, frameskip=3, gain=0.7)
    cfg = world_cfg(model)
    starts = dg.sweep_starts(31, cfg)
    sweep = dg.open_loop_sweep(model, ep["pixels"], ep["action"], cfg, starts, horizon=4)
    assert [int(r.context_frames[0]) for r in sweep] == starts.tolist()
    for s, r in zip(starts, sweep):
        want = min(4, (31 - 1 - int(s)) // 3 - 1)  # the horizon, or what the episode leaves
        ref = dg.open_loop_dynamics(model, ep["pixels"], ep["action"], cfg, start=int(s), horizon=want)
        assert len(r.frames) == want
        np.testing.assert_allclose(r.predicted, ref.predicted)
        np.testing.assert_allclose(r.error, ref.error)
