"""Stub worlds whose answers are known, shared by the diagnostics tests (dynamics, surprise, perturbations,
landscape, grid_warp): a position world (the latent is the position written in pixel (0, 0)) and a
dot-centroid encoder for Two-Room."""
import numpy as np
import torch
from torch import nn

from lewm.config import LeWMConfig, ModelConfig
from lewm.model import LeWM


class PositionWorld(nn.Module):
    """Stub world model: encode reads (x, y) from pixel (0, 0) channels R, G; the predictor
    moves z by ``gain`` × (sum of the raw actions in the block). Raw actions are integers, so a
    gain of 1 is an exact model of :func:`position_episode`."""

    def rollout(self, z_hist, action_blocks, act_hist=None):  # the real (plain) autoregressive loop, driven by our predict
        return LeWM.rollout(self, z_hist, action_blocks, act_hist, lean=False)

    rollout_window = LeWM.rollout_window  # the context expansion the loop starts from
    context_window = LeWM.context_window

    def __init__(self, history=2, frameskip=3, gain=1.0):
        super().__init__()
        self.cfg = ModelConfig(image_size=8, patch_size=8, enc_dim=4, enc_heads=1, latent_dim=2, history=history,
                               frameskip=frameskip, action_dim=2)
        self.gain = gain
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, pixels):  # (B, T, 3, S, S) uint8
        return pixels[:, :, :2, 0, 0].float()  # (B, T, 2)

    def predict(self, z, actions):  # (B, T, D), (B, T, fs*A)
        disp = actions.view(*actions.shape[:2], self.cfg.frameskip, 2).sum(2)  # (B, T, 2)
        return z + self.gain * disp


def world_cfg(model):
    # action_mean 0 / std 1: the z-scoring is the identity, so the stub sees raw actions
    return LeWMConfig(model=model.cfg, action_mean=(0.0, 0.0), action_std=(1.0, 1.0))


def render_position(state, size=8):
    img = np.full((size, size, 3), 128, np.uint8)
    img[0, 0, 0], img[0, 0, 1], img[0, 0, 2] = int(state[0]), int(state[1]), 0
    return img


def position_episode(rng, length=31):
    a = rng.integers(-2, 3, size=(length, 2)).astype(np.float32)  # (L, 2) integer moves
    s = np.empty((length, 2), np.float32)
    s[0] = rng.integers(90, 160, 2)
    for i in range(1, length):
        s[i] = s[i - 1] + a[i - 1]
    px = np.stack([render_position(x) for x in s])
    return {"pixels": px, "action": a, "state": s}


class StubEnv:
    state_names = ("agent_x", "agent_y")

    def render_state(self, state):
        return render_position(state)


class _DotCentroid(nn.Module):
    """A 'perfect' encoder for Two-Room: the redness-weighted centroid of the dot, in canvas units."""

    def __init__(self, scramble: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.scramble = scramble

    def encode(self, x):  # (1, B, 3, S, S) uint8
        x = x[0].float()
        red = (x[:, 0] - x[:, 1]).clamp(min=0)  # (B, S, S)
        S = x.shape[-1]
        u = (torch.arange(S) + 0.5) * (224.0 / S) - 0.5
        m = red.sum((1, 2)).clamp(min=1e-6)
        z = torch.stack([(red.sum(1) * u).sum(1) / m, (red.sum(2) * u).sum(1) / m], -1)  # (B, 2)
        if self.scramble:  # a map with no geometry: a hash of the position
            z = torch.stack([torch.sin(z[:, 0] * 12.9898 + z[:, 1] * 78.233) * 43758.5453 % 1.0,
                             torch.cos(z[:, 0] * 39.346 + z[:, 1] * 11.135) * 12345.678 % 1.0], -1)
        return z[None]  # (1, B, 2)
