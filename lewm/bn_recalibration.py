"""Precise BatchNorm: re-estimate every BatchNorm's running statistics at the current weights, as the plain
average over training batches, instead of PyTorch's momentum trail, which lags the weights (the projectors'
BatchNorms decide the latent that planning compares). Used by training before each checkpoint
(``train.bn_recalibrate_batches``) and by ``python -m lewm export --data`` for older checkpoints."""
from __future__ import annotations

import warnings

import torch

from . import _train_checks, validate
from .config import LeWMConfig
from .data import WindowDataset, action_stats_of, batch_iterator
from .model import LeWM


def _batchnorms(model: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(model: LeWM, batches, max_batches: int | None = None) -> int:
    """Re-estimate every BatchNorm's running mean/var at the current weights ("precise BN").

    ``batches``: an iterable of training batches (dicts with ``pixels`` (B, T, 3, S, S) and
    ``actions`` (B, T-1, K), already on the model's device). Each is run as in training (train
    mode, encoder then predictor, so the predictor's projector sees the latents it was trained
    on); the running statistics become the plain average of the per-batch statistics
    (``momentum=None``) instead of PyTorch's momentum-0.1 trail, which lags the weights. Momentum
    and train/eval mode are restored. Returns the number of frames seen (0 = no BatchNorm or no
    batch, nothing changed).
    """
    _train_checks.check_recalibrate_args(model, batches, max_batches)
    bns = _batchnorms(model)
    if not bns:
        return 0
    saved = [(bn.momentum, {k: v.clone() for k, v in bn.state_dict().items()}) for bn in bns]
    was = model.training
    frames, done = 0, False
    try:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average
        model.train()
        for i, b in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            _train_checks.check_recalibrate_batch(i, b)
            z = model.encode(b["pixels"])  # (B, T, D)
            model.predict(z[:, :-1], b["actions"], check_finite=False)  # (B, T-1, D); the trainer checks weights
            frames += b["pixels"].shape[0] * b["pixels"].shape[1]
        done = True
    finally:
        for bn, (mom, sd) in zip(bns, saved):
            bn.momentum = mom
            if frames == 0 or not done:  # nothing seen, or a failed batch: the old statistics back (was: destroyed)
                bn.load_state_dict(sd)
        model.train(was)
    return frames


def recalibrate_from_data(model: LeWM, cfg: LeWMConfig, data: str, batches: int = 32,
                          batch_size: int | None = None, seed: int = 0) -> int:
    """:func:`recalibrate_batchnorm` on ``batches`` (at most one pass) random training windows of the
    HDF5 file ``data`` (normalised with the checkpoint's own action statistics). Returns frames seen."""
    batches, batch_size, seed = _train_checks.check_recalibrate_from_data_args(model, cfg, data, batches, batch_size, seed)
    mc = cfg.model
    validate.check_dataset(data, env=cfg.env, action_dim=mc.action_dim)  # data of the checkpoint's env and actions
    ds = WindowDataset(data, mc.history, mc.frameskip, split="all", image_size=mc.image_size,
                       action_stats=action_stats_of(cfg))
    dev = next(model.parameters()).device
    bs = min(cfg.train.batch_size if batch_size is None else batch_size, max(len(ds), 1))
    if batches > (one_pass := -(-len(ds) // bs)):  # was: 1.2 M frames "seen" of a 400-frame file, for minutes
        warnings.warn(f"{data}: its {len(ds)} windows fill {one_pass} batches of {bs}; BatchNorm statistics are "
                      f"re-estimated on those {one_pass}, not {batches} (more would repeat the same windows)")
        batches = one_pass
    return recalibrate_batchnorm(model, _device_batches(ds, bs, torch.Generator().manual_seed(seed), batches, dev))


def _device_batches(ds: WindowDataset, batch_size: int, gen: torch.Generator, n: int, dev):
    """``n`` random batches of ``ds`` (batch size capped at its size), moved to ``dev``, lazily."""
    it = batch_iterator(ds, min(batch_size, len(ds)), gen)
    return ({k: v.to(dev) for k, v in next(it).items()} for _ in range(n))
