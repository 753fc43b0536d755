"""The LeWM training loss: next-embedding prediction + λ·SIGReg, one function of a batch.

``L = MSE(ẑ_{t+1}, z_{t+1}) + λ·SIGReg(Z)`` with gradients through both sides (no stop-gradient, no
EMA). The trainer, the data-parallel wrapper (lewm/distributed.py) and the benchmarks call it.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from . import _api_checks as chk
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
    chk.model("lewm_loss", model)  # None was "no attribute 'encode'"
    mc = getattr(model, "cfg", None)  # a wrapped model (DDP) has none: its builder checked it
    if mc is not None and mc is not cfg.model and mc != cfg.model:  # was: another preset's SIGReg used silently
        raise ValueError(f"lewm_loss(cfg=...) is not the model's config: its model section differs from model.cfg "
                         f"({_first_difference(mc, cfg.model)}); pass the config the model was built with")
    px = batch["pixels"]
    if isinstance(px, torch.Tensor) and px.dim() == 5 and px.shape[1] < 2:  # was BatchNorm's "more than 1 value"
        raise ValueError(f"lewm_loss: a window needs >= 2 frames (pixels T={px.shape[1]}, shape {tuple(px.shape)}): "
                         f"each frame after the first is predicted from those before it")
    H = cfg.model.history
    if isinstance(px, torch.Tensor) and px.dim() == 5 and px.shape[1] > H + 1:  # was "predictor context is 2 frames"
        raise ValueError(f"lewm_loss: the batch's windows are {px.shape[1]} frames (pixels {tuple(px.shape)}); "
                         f"model.history {H} takes windows of at most {H + 1} (history + 1)")
    z = model.encode(px)  # (B, T, D)
    pred = model.predict(z[:, :-1], batch["actions"], check_finite=False)  # (B, T-1, D); the trainer checks the loss
    pred_loss = F.mse_loss(pred.float(), z[:, 1:].float())
    s = cfg.sigreg
    fn = sigreg_fn or partial(sigreg, check_finite=False)  # the trainer checks the loss itself (no sync per step)
    sig = fn(z.transpose(0, 1).float(), num_proj=s.num_proj, knots=s.knots, t_max=s.t_max, generator=generator)
    if isinstance(sig, numbers.Real) and not isinstance(sig, bool):
        sig = torch.tensor(float(sig), device=pred_loss.device)
    if not isinstance(sig, torch.Tensor) or sig.dim() != 0:  # a str was "can't multiply sequence by non-int"
        what = f"a tensor of shape {tuple(sig.shape)}" if isinstance(sig, torch.Tensor) else type(sig).__name__
        raise TypeError(f"lewm_loss(sigreg_fn=...) must return a scalar tensor (the SIGReg value), got {what}")
    return pred_loss + s.weight * sig, pred_loss, sig, z


def _first_difference(a, b) -> str:
    """The first field of two ModelConfigs that differs, as ``name a vs b``."""
    from dataclasses import fields
    f = next((f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name, None)), None)
    return f"model.{f} {getattr(a, f)!r} vs {getattr(b, f, None)!r}" if f else f"{type(b).__name__}"
