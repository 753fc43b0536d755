"""The LeWM training loss: next-embedding prediction + λ·SIGReg, one function of a batch.

``L = MSE(ẑ_{t+1}, z_{t+1}) + λ·SIGReg(Z)`` with gradients through both sides (no stop-gradient, no
EMA). The trainer, the data-parallel wrapper (lewm/distributed.py) and the benchmarks call it.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from .config import LeWMConfig
from .model import LeWM
from .sigreg import sigreg


def lewm_loss(model: LeWM, batch: dict[str, torch.Tensor], cfg: LeWMConfig,
              generator: torch.Generator | None = None, sigreg_fn: Callable | None = None):
    """-> (loss, pred_loss, sigreg_value, z (B, T, D)). Teacher-forced next-embedding prediction
    at every position of the window, SIGReg per time step on (T, B, D)."""
    missing = [k for k in ("pixels", "actions") if k not in batch]
    if missing:  # was a bare KeyError: 'actions'
        raise ValueError(f"lewm_loss: the batch lacks {missing}; expected 'pixels' (B, T, 3, S, S) and "
                         f"'actions' (B, T-1, frameskip*action_dim), got keys {sorted(batch)}")
    z = model.encode(batch["pixels"])  # (B, T, D)
    pred = model.predict(z[:, :-1], batch["actions"])  # (B, T-1, D)
    pred_loss = F.mse_loss(pred.float(), z[:, 1:].float())
    s = cfg.sigreg
    fn = sigreg_fn or partial(sigreg, check_finite=False)  # the trainer checks the loss itself (no sync per step)
    sig = fn(z.transpose(0, 1).float(), num_proj=s.num_proj, knots=s.knots, t_max=s.t_max, generator=generator)
    return pred_loss + s.weight * sig, pred_loss, sig, z
