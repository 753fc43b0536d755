"""lewm.diagnostics.decoder: the latent-to-frame decoder (detached latents, beats the mean frame, any size)."""
import numpy as np
import torch
from torch import nn

from lewm import diagnostics as dg


def test_decoder_trains_on_detached_latents_only_and_beats_the_mean_frame(one_thread):
    from lewm.synthetic import dot_frames
    g = np.random.default_rng(0)
    xy = g.uniform(0.2, 0.8, size=(400, 2)).astype(np.float32)
    frames = dot_frames(xy, 16, sigma=0.12)  # (N, 16, 16, 3)
    # latents that carry gradient to a model: the decoder must not touch it
    torch.manual_seed(0)
    lin = nn.Linear(2, 6)
    z = lin(torch.from_numpy(xy))  # (N, 6) requires grad
    dec = dg.train_decoder(z, frames, steps=200, batch_size=32, lr=3e-3, width=32, seed=0)
    assert all(p.grad is None for p in lin.parameters())
    out = dg.decode(dec, z[:100])
    assert out.shape == (100, 16, 16, 3) and out.dtype == np.uint8
    target = frames[:100].astype(float)
    err = ((out.astype(float) - target) ** 2).mean()
    base = ((frames.astype(float).mean(0) - target) ** 2).mean()
    assert err < 0.1 * base, (err, base)
    assert dec.history[-1] < dec.history[0]


def test_decoder_handles_non_power_of_two_sizes():
    assert dg._upsampling_plan(224) == (5, 7) and dg._upsampling_plan(64) == (4, 4)
    dec = dg.LatentDecoder(4, 24)
    assert dec(torch.zeros(2, 4)).shape == (2, 3, 24, 24)
    dec = dg.LatentDecoder(4, 30)  # 30 = 2 * 15: one upsampling
    assert dec(torch.zeros(1, 4)).shape == (1, 3, 30, 30)
