"""Checkpoints: one file that rebuilds its model alone.

Format: a ``torch.save`` dict read back with ``weights_only=True`` (no pickled code):
``{"format": "lewm-checkpoint", "version": 1, "config": <JSON str>, "state_dict": {...},
"step": int, "metrics": <JSON str>, "optimizer": {...} (optional, for resuming)}``.
Writes are atomic: a temp file in the same folder, fsync, then ``os.replace``.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import torch

from . import official
from .config import LeWMConfig
from .errors import CheckpointError, check_finite_weights
from .model import LeWM

__all__ = ["CheckpointError", "FORMAT", "VERSION", "batchnorm_note", "load", "read_raw", "save"]

FORMAT = "lewm-checkpoint"
VERSION = 1


def save(path: str, model: LeWM, config: LeWMConfig, step: int = 0, metrics: dict | None = None,
         optimizer: dict | None = None, half: bool = False) -> str:
    """Atomically write a checkpoint. ``half=True`` stores float weights as fp16 (shipping size)."""
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    blob = {"format": FORMAT, "version": VERSION, "config": json.dumps(config.to_dict()),
            "state_dict": sd, "step": int(step), "metrics": json.dumps(metrics or {})}
    if optimizer is not None:
        blob["optimizer"] = optimizer
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(blob, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_raw(path: str) -> dict:
    """Load the checkpoint dict, turning every failure into one CheckpointError line."""
    if not path:
        raise CheckpointError("--checkpoint: no file given (an empty path)")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: checkpoint file not found")
    if os.path.isdir(path):
        for name in ("last.pt", "model.pt"):
            if os.path.exists(os.path.join(path, name)):
                return read_raw(os.path.join(path, name))
        raise CheckpointError(f"{path}: a folder with no last.pt or model.pt inside")
    if not os.path.isfile(path):  # a pipe would block the read for ever
        raise CheckpointError(f"{path}: is a device or pipe, not a checkpoint file")
    with open(path, "rb") as f:
        if f.read(8) == b"\x89HDF\r\n\x1a\n":
            raise CheckpointError(f"{path}: is an HDF5 episode file, not a checkpoint (pass it as --data)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupted?): {msg}") from None
    except Exception as e:  # unpickling errors of foreign files
        raise CheckpointError(f"{path}: not a LeWM checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        hint = ""
        if isinstance(blob, dict) and "encoder.embeddings.cls_token" in blob:
            hint = ("; it looks like official LeWM weights: put it in a folder as weights.pt next to "
                    "its config.json and open the folder")
        raise CheckpointError(f"{path}: not a LeWM checkpoint (no '{FORMAT}' header){hint}")
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {blob.get('version')} is not supported (expected {VERSION})")
    return blob


def load(path: str, device: str | torch.device = "cpu", strict: bool = True):
    """-> (model in eval mode, config, meta) where meta has ``step``, ``metrics``, ``path`` and
    ``optimizer`` (None unless saved).

    Also opens the official LeWM release format (a folder with ``weights.pt`` + ``config.json``,
    or that ``weights.pt``): see ``lewm.official.load_official``.
    """
    if official.is_official(path):
        return official.load_official(path, device, strict=strict)
    blob = read_raw(path)
    try:
        raw = json.loads(blob["config"])
        cfg = LeWMConfig.from_dict(raw)
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: its config cannot be read: {e}") from None
    if "model" not in raw:  # the defaults would be another architecture: a long list of missing weights
        raise CheckpointError(f"{path}: its config has no 'model' section (the architecture); the file was edited or damaged")
    model = LeWM(cfg.model)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    check_finite_weights(sd, path)
    try:
        model.load_state_dict(sd, strict=strict)
    except RuntimeError as e:
        first = [l.strip() for l in str(e).splitlines() if l.strip()][:2]
        raise CheckpointError(f"{path}: weights do not match the architecture in its config: {' '.join(first)[:300]}") from None
    model.to(device).eval()
    return model, cfg, _meta(blob, path)


def _meta(blob: dict, path: str) -> dict:
    """The step (a whole number >= 0) and metrics (a JSON object) of a checkpoint dict, or a
    CheckpointError naming the file: an edited step would shift a resumed run's schedule silently."""
    step = blob.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: its step must be a whole number >= 0, got {step!r}")
    try:
        metrics = json.loads(blob.get("metrics", "{}") or "{}")
    except (TypeError, ValueError):
        metrics = None
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path}: its metrics are not a JSON object; the file was edited or damaged")
    return {"step": step, "metrics": metrics, "path": path, "optimizer": blob.get("optimizer")}


def batchnorm_note(meta: dict) -> str | None:
    """A warning for checkpoints written by this library's training before BatchNorm statistics were
    re-estimated at save time (their metrics lack ``bn_recalibration_frames``): their eval-mode
    latents (planning, diagnostics) can be shifted by more than a standard deviation per channel.
    None when there is nothing to say (re-estimated, or not a checkpoint of ours)."""
    m = (meta or {}).get("metrics") or {}
    if "pred_loss" not in m or "bn_recalibration_frames" in m:
        return None
    return ("its BatchNorm running statistics were not re-estimated at the saved weights (an older "
            "checkpoint): eval-mode latents can be off; fix it with `python -m lewm export --checkpoint "
            "CKPT --out NEW.pt --data TRAINING_DATA.h5`")
