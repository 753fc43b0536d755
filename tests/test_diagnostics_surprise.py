"""lewm.diagnostics.surprise: the surprise trace against a windowed reference, the surprise test in a known world."""
import math

import numpy as np
import pytest
import torch

from lewm import diagnostics as dg
from lewm.config import get_preset
from lewm.model import LeWM

from _known_worlds import PositionWorld, StubEnv, position_episode, world_cfg


def test_surprise_trace_matches_windowed_reference():
    torch.manual_seed(1)
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 3, "frameskip": 2})
    model = LeWM(cfg.model).eval()
    g = np.random.default_rng(1)
    px = g.integers(0, 256, size=(14, 32, 32, 3), dtype=np.uint8)
    act = g.normal(size=(14, 2)).astype(np.float32)
    tr = dg.surprise_trace(model, px, act, cfg)
    assert tr.frames.tolist() == [0, 2, 4, 6, 8, 10, 12] and math.isnan(tr.error[0])
    with torch.no_grad():
        z = model.encode(torch.from_numpy(px[::2]).permute(0, 3, 1, 2)[None])[0]  # (7, D)
        a = torch.from_numpy(act[:12].reshape(6, 4))
        for k in range(1, 7):
            lo = max(0, k - 3)
            pred = model.predict(z[None, lo:k], a[None, lo:k])[0, -1]
            assert tr.error[k] == pytest.approx(((pred - z[k]) ** 2).mean().item(), rel=1e-4)


def test_surprise_spikes_on_teleport_and_colour_in_a_known_world():
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    cfg = world_cfg(model)
    eps = [position_episode(np.random.default_rng(s)) for s in range(7)]
    bounds = (np.zeros(2), np.full(2, 255.0))  # wide: nothing is clipped after the jump
    res = dg.surprise_test(model, cfg, eps, env=StubEnv(), perturbations=("teleport", "colour"), bounds=bounds)
    tp = res["teleport"]
    assert tp.frame.tolist() == [15] * 7  # kept frame nearest the middle of 31 frames, stride 3
    np.testing.assert_allclose(tp.clean, 0.0, atol=1e-9)  # an exact model is never surprised
    # the spike is exactly the squared jump per dimension
    jump = np.stack([255.0 - 2 * e["state"][15] for e in eps])  # to the mirror image
    np.testing.assert_allclose(tp.perturbed, (jump**2).mean(1), rtol=1e-5)
    assert tp.p_wilcoxon == pytest.approx(1 / 2**7) and tp.p_ttest < 0.05
    for clean_tr, pert_tr in tp.traces:  # the motion goes on from the new place: no surprise after the jump
        np.testing.assert_allclose(pert_tr.error[pert_tr.frames > 15], 0.0, atol=1e-9)
    col = res["colour"]
    assert (col.spike > 0).all() and col.p_wilcoxon < 0.01
    # without an env there is no teleport test; a null perturbation is not significant
    assert list(dg.surprise_test(model, cfg, eps[:2], perturbations=("teleport", "colour"))) == ["colour"]
    p_w, p_t = dg.paired_one_sided(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert math.isnan(p_w) and math.isnan(p_t)
    p_w, _ = dg.paired_one_sided(np.array([0.0, 0.1, -0.2, 0.3, -0.1, 0.05]), np.zeros(6))
    assert p_w > 0.2


def test_sweep_frames_are_kept_frames_with_history_before_them():
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 3, "frameskip": 5})
    assert dg.sweep_frames(40, cfg).tolist() == [15, 20, 25, 30, 35]
    assert dg.sweep_frames(15, cfg).tolist() == []  # no kept frame with 3 before it
    many = dg.sweep_frames(1000, cfg, most=6)  # evenly spread, first and last kept
    assert many.tolist() == [15 + 5 * round(i * 196 / 5) for i in range(6)] == [15, 210, 405, 605, 800, 995]


def test_perturbation_sweep_moves_the_perturbation_along_one_episode():
    """In a known world (the exact model of a dot's position): at each frame t the teleported trace spikes by
    exactly the squared mirror jump, nothing is surprising before t, and the recoloured trace
    equals the surprise trace of the recoloured episode computed directly."""
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    cfg = world_cfg(model)
    ep = position_episode(np.random.default_rng(4))
    frames = dg.sweep_frames(len(ep["pixels"]), cfg)
    assert frames.tolist() == list(range(6, 31, 3))
    seen = []
    stops = dg.perturbation_sweep(model, cfg, ep, frames, env=StubEnv(), colour_mode="invert", on_frame=seen.append)
    assert [r.t for r in stops] == frames.tolist() and seen == list(range(len(frames)))
    lo, hi = ep["state"].min(0), ep["state"].max(0)
    for r in stops:
        jump = lo + hi - 2 * ep["state"][r.t]  # to the mirror image inside the episode's range
        assert r.teleport.at(r.t) == pytest.approx(float((jump ** 2).mean()), rel=1e-5)
        before = (r.teleport.frames > 0) & (r.teleport.frames < r.t)  # frame 0 has no prediction (NaN)
        np.testing.assert_allclose(r.teleport.error[before], 0.0, atol=1e-9)
        want = dg.surprise_trace(model, dg.colour_change(ep["pixels"], r.t, "invert"), ep["action"], cfg)
        np.testing.assert_array_equal(r.colour.error, want.error)
        assert np.array_equal(r.colour_frame, dg.colour_change(ep["pixels"], r.t, "invert")[r.t])
        assert np.array_equal(r.teleport_frame, StubEnv().render_state(ep["state"][r.t] + jump))
    no_env = dg.perturbation_sweep(model, cfg, ep, frames[:2])
    assert all(r.teleport is None and r.teleport_frame is None for r in no_env)
