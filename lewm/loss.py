"""The LeWM training loss: next-embedding prediction + λ·SIGReg, one function of a batch.

``L = MSE(ẑ_{t+1}, z_{t+1}) + λ·SIGReg(Z)`` with gradients through both sides (no stop-gradient, no
EMA). The trainer, the data-parallel wrapper (lewm/distributed.py) and the benchmarks call it.
"""
from __future__ import annotations

from collections.abc import Mapping
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
    # isinstance checks only (called every training step: nothing that syncs the device)
    if not isinstance(batch, Mapping):  # a list was a shape RuntimeError deep in the predictor
        raise TypeError(f"lewm_loss(batch=...) must be a dict with 'pixels' and 'actions' tensors, "
                        f"got {type(batch).__name__}")
    missing = [k for k in ("pixels", "actions") if k not in batch]
    if missing:  # was a bare KeyError: 'actions'
        raise ValueError(f"lewm_loss: the batch lacks {missing}; expected 'pixels' (B, T, 3, S, S) and "
                         f"'actions' (B, T-1, frameskip*action_dim), got keys {sorted(batch)}")
    if not isinstance(cfg, LeWMConfig):  # None was an AttributeError on 'sigreg'
        raise TypeError(f"lewm_loss(cfg=...) must be a LeWMConfig (the model's, e.g. get_preset('cpu-tiny')), "
                        f"got {type(cfg).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):  # 5: AttributeError in sigreg
        raise TypeError(f"lewm_loss(generator=...) must be a torch.Generator or None, got {type(generator).__name__}")
    if sigreg_fn is not None and not callable(sigreg_fn):
        raise TypeError(f"lewm_loss(sigreg_fn=...) must be a function or None, got {type(sigreg_fn).__name__}")
    z = model.encode(batch["pixels"])  # (B, T, D)
    pred = model.predict(z[:, :-1], batch["actions"])  # (B, T-1, D)
    pred_loss = F.mse_loss(pred.float(), z[:, 1:].float())
    s = cfg.sigreg
    fn = sigreg_fn or partial(sigreg, check_finite=False)  # the trainer checks the loss itself (no sync per step)
    sig = fn(z.transpose(0, 1).float(), num_proj=s.num_proj, knots=s.knots, t_max=s.t_max, generator=generator)
    return pred_loss + s.weight * sig, pred_loss, sig, z
