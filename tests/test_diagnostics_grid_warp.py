"""lewm.diagnostics.grid_warp: linear readouts, readout angles, the state-grid warp of known encoders."""
import math

import numpy as np
import pytest
import torch

from lewm import diagnostics as dg

from _known_worlds import _DotCentroid


def test_linear_readout_and_region_angle_on_a_fanned_map():
    """Two rooms mapped by rotations of ±θ: each room alone is exactly affine (r = 1) and the
    readout directions differ by exactly 2θ (R(θ)ᵀ-rows: the readout of s_c from z = R s is row c
    of Rᵀ, i.e. column c of R rotated by θ); the single global readout is then worse."""
    rng = np.random.default_rng(0)
    th = np.radians(20.0)
    R = lambda a: np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    left = np.c_[rng.uniform(-100, -10, 400), rng.uniform(-90, 90, 400)]  # (N, 2)
    right = np.c_[rng.uniform(10, 100, 400), rng.uniform(-90, 90, 400)]
    zl, zr = left @ R(th).T, right @ R(-th).T + np.array([3.0, -1.0])  # (N, 2)
    ro_l, ro_r = dg.linear_readout(zl, left), dg.linear_readout(zr, right)
    assert np.allclose(ro_l.r, 1.0) and np.allclose(ro_r.r, 1.0)
    assert np.allclose(ro_l.weights, R(th).T, atol=1e-9)  # W = R⁻¹ = Rᵀ
    for c in range(2):
        assert dg.readout_angle(ro_l.weights[c], ro_r.weights[c]) == pytest.approx(40.0, abs=1e-6)
    both = dg.linear_readout(np.r_[zl, zr], np.r_[left, right])
    assert both.r[1] < 0.99  # one readout cannot serve both rooms (0.984 here)
    straight = dg.linear_readout(np.r_[left, right] * 2.0 + 5.0, np.r_[left, right])
    assert np.allclose(straight.r, 1.0)
    assert dg.readout_angle(np.array([1.0, 0.0]), np.array([-1.0, 0.0])) == pytest.approx(180.0)


def test_state_grid_warp_straight_for_a_centroid_encoder_and_masks_the_wall():
    from lewm.envs import make
    env = make("two_room", image_size=64)
    g = dg.state_grid_warp(_DotCentroid(), env, n=15)
    assert g.latents.shape == (15, 15, 2) and g.coords.shape == (15, 15, 2)
    inside_wall = (g.xs[None, :] > 100) & (g.xs[None, :] < 124) & ((g.ys[:, None] < 35) | (g.ys[:, None] > 63))
    inside_wall = np.broadcast_to(inside_wall, (15, 15))
    assert inside_wall.any() and not g.valid[inside_wall].any() and g.valid[~inside_wall].all()
    assert np.isnan(g.coords[~g.valid]).all()
    assert g.region_names == ("left room", "right room")
    # the centroid is the position itself (up to pixel quantisation): straight everywhere
    assert (g.readout.r > 0.999).all() and all((ro.r > 0.999).all() for ro in g.region_readouts)
    assert (g.region_angle < 2.0).all()
    # a fanned encoder: rotate the right room's centroid by 30° about the door
    class Fan(_DotCentroid):
        def encode(self, x):
            z = super().encode(x)[0]  # (B, 2)
            c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
            d = z - torch.tensor([112.0, 49.0])
            rot = torch.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], -1) + torch.tensor([112.0, 49.0])
            return torch.where(z[:, :1] > 112, rot, z)[None]
    f = dg.state_grid_warp(Fan(), env, n=15)
    assert f.region_angle == pytest.approx([30.0, 30.0], abs=2.0)
    assert f.readout.r[1] < g.readout.r[1] - 0.005  # 0.992 vs 1.000
