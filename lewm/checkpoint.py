"""Checkpoints: one file that rebuilds its model alone.

Format: a ``torch.save`` dict read back with ``weights_only=True`` (no pickled code):
``{"format": "lewm-checkpoint", "version": 1, "config": <JSON str>, "state_dict": {...},
"step": int, "metrics": <JSON str>, "optimizer": {...} (optional, for resuming)}``.
Writes are atomic: a temp file in the same folder, fsync, then ``os.replace``.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import zipfile

import torch

from . import _checkpoint_checks as _checks, _foreign_ckpt as _foreign, official
from .config import LeWMConfig
from .errors import CheckpointError, OutputExistsError, check_finite_weights
from .model import LeWM
from .runs import file_kind

__all__ = ["CheckpointError", "FORMAT", "VERSION", "batchnorm_note", "load", "load_optimizer", "read_raw", "save"]

FORMAT = "lewm-checkpoint"
VERSION = 1


def save(path: str, model: LeWM, config: LeWMConfig, step: int = 0, metrics: dict | None = None,
         optimizer: dict | None = None, half: bool = False, replace: bool = True) -> str:
    """Atomically write a checkpoint. ``half=True`` stores float weights as fp16 (shipping size).
    ``replace=False``: refuse (:func:`lewm.faults.publish`) a ``path`` that exists or appeared meanwhile
    (this result is then kept beside it). What ``load`` would refuse (a negative step, NaN weights,
    another architecture than the config's ...) is refused here, before anything is written."""
    _check_save_target(path)
    metrics = _checks.check_save_args(model, config, step, metrics, optimizer, half, replace)  # numpy scalars -> numbers
    sd = full = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    _checks.check_weights(sd, half)
    if half:  # values below fp16's range become 0 (was: without a word)
        _checks.note_fp16_underflow(full, sd)
    if not half:  # an fp16 export saved as fp32: bigger, not more precise (was: without a word)
        _checks.note_fp16_source(model)
    blob = {"format": FORMAT, "version": VERSION, "config": json.dumps(config.to_dict()),
            "state_dict": sd, "step": int(step), "metrics": json.dumps(metrics or {})}
    if optimizer is not None:
        blob["optimizer"] = optimizer
    from .atomic import WriteFailed, limit_errno, publish, replace_refused, temp_path
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = temp_path(path, ".pt")  # .tmp-<name>.<pid>-<token>.pt: a next save removes a killed one's
    except OSError as e:
        if limit_errno(e) is not None:
            raise _checks.disk_full(path, read_raw, e) from e
        raise ValueError(f"save(path=...) {path}: cannot write into {folder} ({e.strerror or e}); "
                         f"choose another place") from None
    try:  # the name is known before the file exists: a signal right after its creation still removes it
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as e:  # was: tempfile's FileNotFoundError for /proc/x.pt
            if limit_errno(e) is None:
                raise ValueError(f"save(path=...) {path}: cannot write into {folder} ({e.strerror or e}); "
                                 f"choose another place") from None
            raise
        with os.fdopen(fd, "wb") as f:
            torch.save(blob, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            publish(tmp, path, replace=replace, flag="save(path=...)")
        except FileExistsError as e:  # publish speaks of the CLI's --out / --force: words for both callers
            root, ext = os.path.splitext(path)
            raise OutputExistsError(
                f"{path}: exists already or was created by another command while this one ran; not overwritten "
                f"(replacing it was not asked for): this result is in {root}-kept-{os.getpid()}{ext} (compare "
                f"them, then rename it, or save again allowing the replacement)") from e
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, WriteFailed) and getattr(e, "refused", None) is not None:  # the final rename: name last.pt
            raise replace_refused(e.refused, path, _checks.kept_checkpoint(path, read_raw)) from None
        if not isinstance(e, WriteFailed) and _checks.is_disk_full(e):  # torch.save: "unexpected pos" (ENOSPC/EFBIG)
            raise _checks.disk_full(path, read_raw, e) from e
        raise
    return path


def _check_save_target(path) -> None:
    """``save`` replaces a checkpoint, never a dataset or another file (a dataset given as ``path``
    was replaced by a checkpoint without a word), and is given a file name, not a folder or ''."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ValueError(f"save: path must be a file name (e.g. runs/x/last.pt), got {path!r}")
    if os.path.isdir(path) or (os.path.exists(path) and not os.path.isfile(path)):
        raise ValueError(f"save: {path} is a folder, pipe or device; give a checkpoint file name inside it")
    root, ext = os.path.splitext(os.fspath(path))
    if ext.lower() in (".h5", ".hdf5"):  # was written without a word; WindowDataset then said "not an HDF5 file"
        raise ValueError(f"save: {path} has a dataset's extension ({ext}); a checkpoint is a .pt file: "
                         f"save it as {root}.pt")
    if os.path.isfile(path) and os.path.getsize(path):
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"PK\x03\x04":  # torch.save's zip container
            from .runs import file_kind
            raise ValueError(f"save: {path} holds {file_kind(path) or 'another kind of file'}, not a checkpoint; "
                             f"save() replaces only a checkpoint: pick another name")


def read_raw(path: str) -> dict:
    """Load the checkpoint dict, turning every failure into one CheckpointError line."""
    if not path:
        raise CheckpointError("--checkpoint: no file given (an empty path)")
    if not os.path.exists(path):
        from .paths import why_missing
        raise CheckpointError(f"{path}: {why_missing(path).replace('no such file', 'checkpoint file not found', 1)}")
    if os.path.isdir(path):
        found = [n for n in ("last.pt", "model.pt") if os.path.exists(os.path.join(path, n))]
        if len(found) == 2:  # was: last.pt, silently (a 5-step run scored with a shipped agent's eval.json)
            raise CheckpointError(f"{path}: holds both last.pt (a run's training checkpoint) and model.pt (a shipped "
                                  f"or exported one); pass the file itself: {os.path.join(path, 'last.pt')} or "
                                  f"{os.path.join(path, 'model.pt')}")
        if found:
            return read_raw(os.path.join(path, found[0]))
        raise CheckpointError(_foreign.folder_problem(path))  # config.json without weights.pt, a subfolder ...
    if not os.path.isfile(path):  # a pipe would block the read for ever
        raise CheckpointError(f"{path}: is a device or pipe, not a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(16)  # magic numbers; a safetensors header's length and start
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        raise CheckpointError(f"{path}: is an HDF5 episode file, not a checkpoint (a dataset: pass it where a dataset is expected, e.g. --data)")
    if hint := _foreign.file_kind_hint(path, head):  # gzip, safetensors, a zip of other files
        raise CheckpointError(f"{path}: not a checkpoint, it is {hint}")
    if not head:  # was torch's bare "EOFError"
        raise CheckpointError(f"{path}: not a readable checkpoint, it is empty (0 bytes): a copy or save that did not "
                              f"finish; copy it again, or pick another checkpoint")
    if head and not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip, or its legacy pickle
        # was: torch's advice to load it with weights_only=False (which would run any code in it)
        raise CheckpointError(f"{path}: not a checkpoint, it is {file_kind(path)}; pass a .pt file written by "
                              f"train or export")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights_only" not in str(e) and "Weights only" not in str(e):
            raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupted?): "
                                  f"{str(e).splitlines()[0][:200] if str(e) else 'UnpicklingError'}") from None
        # torch's message advises weights_only=False, which runs the file's code: never for a foreign file
        if cls := _foreign.pickled_module(path):  # torch.save(model): name the class (read as bytes only)
            raise CheckpointError(f"{path}: not a LeWM checkpoint: it is a whole pickled module ({cls}, "
                                  f"torch.save(model)), which is never unpickled here (it could run code); "
                                  f"{_foreign.SAVE_HINT}") from None
        raise CheckpointError(f"{path}: not a LeWM checkpoint: it holds Python objects other than tensors and "
                              f"numbers (a file of another program), which are never unpickled here") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__  # was "[Errno 22] Invalid argument" alone
        raise CheckpointError(f"{path}: not a readable checkpoint, truncated or corrupted ({os.path.getsize(path):,} "
                              f"bytes; torch: {msg[:160]}): an unfinished copy or save; copy it again, or pick "
                              f"another checkpoint") from None
    except Exception as e:  # unpickling errors of foreign files
        raise CheckpointError(f"{path}: not a LeWM checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:  # a bare state_dict, Lightning, a list ...
        raise CheckpointError(f"{path}: not a LeWM checkpoint (no '{FORMAT}' header): {_foreign.describe_foreign(blob, official.all_official)}")
    if blob.get("version") != VERSION:
        raise _foreign.version_error(path, blob.get("version"), VERSION)
    return blob


def load(path: str, device: str | torch.device = "cpu", strict: bool = True):
    """-> (model in eval mode, config, meta) where meta has ``step``, ``metrics``, ``path`` and
    ``optimizer`` (None unless saved).

    Also opens the official LeWM release format (a folder with ``weights.pt`` + ``config.json``,
    or that ``weights.pt``): see ``lewm.official.load_official``.
    """
    device = _checks.check_load_args(path, device, strict)  # was: torch's AssertionError for cuda without CUDA
    if official.is_official(path):
        return official.load_official(path, device, strict=strict)
    blob = read_raw(path)
    raw = _foreign.config_of(blob, path)  # JSON text, or a dict stored as is
    try:
        cfg = LeWMConfig.from_dict(raw)
    except (ValueError, TypeError, KeyError) as e:
        raise _foreign.config_error(path, e) from None  # a newer lab's field says so
    if "model" not in raw:  # the defaults would be another architecture: a long list of missing weights
        raise CheckpointError(f"{path}: its config has no 'model' section (the architecture); the file was edited or damaged")
    model = LeWM(cfg.model)
    sd = _state_dict(blob, path, model)
    check_finite_weights(sd, path)
    if bad := _foreign.weights_mismatch(path, sd, model.state_dict(), strict):  # the first difference, named
        raise CheckpointError(bad)
    try:
        model.load_state_dict(sd, strict=strict)
    except RuntimeError as e:
        first = [l.strip() for l in str(e).splitlines() if l.strip()][:2]
        raise CheckpointError(f"{path}: weights do not match the architecture in its config: {' '.join(first)[:300]}") from None
    if any(torch.is_tensor(v) and v.dtype == torch.float16 for v in blob["state_dict"].values()):
        model._lewm_fp16_source = str(path)  # an export: its fp32 weights are rounded values (see save)
    model.to(device).eval()
    return model, cfg, _meta(blob, path)


def _state_dict(blob: dict, path: str, model: LeWM) -> dict:
    """The checkpoint's weights as fp32 (fp16 exports widened), or one CheckpointError naming the file:
    a ``state_dict`` that is not a dict of tensors (was: AttributeError / KeyError), or a weight of
    another kind than the model's (an int64 weight was cast silently by ``load_state_dict``)."""
    raw = blob.get("state_dict")
    if not isinstance(raw, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in raw.items()):
        got = "missing" if raw is None else f"a {type(raw).__name__}" + ("" if not isinstance(raw, dict) else
                                                                         " holding other things than tensors")
        raise CheckpointError(f"{path}: its 'state_dict' (the weights) must be a dict of tensors, got {got}; "
                              f"the file was edited or damaged (use another checkpoint)")
    want = model.state_dict()
    raw = _foreign.unwrap_names(raw, want)  # 'module.' (DDP) / '_orig_mod.' (torch.compile) names
    bad = next((k for k, v in raw.items() if k in want and v.is_floating_point() != want[k].is_floating_point()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} is stored as {raw[bad].dtype} but the model's is "
                              f"{want[bad].dtype}; the file was edited or damaged (use another checkpoint)")
    return {k: v.float() if v.is_floating_point() else v for k, v in raw.items()}


def load_optimizer(opt: torch.optim.Optimizer, state, path: str) -> None:
    """Load the optimizer state saved in checkpoint ``path`` into ``opt`` (resuming or continuing a
    run), or one CheckpointError naming the file and what to do (was: an AttributeError for an
    edited entry, torch's size message without the file for another model's state)."""
    _checks.check_optimizer_args(opt, state, path)  # a wrong argument is named, not blamed on the file
    what = None
    try:
        opt.load_state_dict(state)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RuntimeError) as e:
        what = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    else:  # as many weights but other shapes: AdamW would fail at its first step
        for p in (p for g in opt.param_groups for p in g["params"]):
            shapes = {tuple(v.shape) for v in opt.state.get(p, {}).values() if torch.is_tensor(v) and v.dim() > 0}
            wrong = sorted(shapes - {tuple(p.shape)})
            if wrong:
                what = f"moments of shape {wrong[0]} for a weight of shape {tuple(p.shape)}"
                break
    if what is not None:
        raise CheckpointError(f"{path}: its optimizer state does not fit the model ({what}); the file was edited or "
                              f"comes from another model. Keep its weights without it: python -m lewm export "
                              f"--checkpoint {path} --out W.pt --fp32, then train --init W.pt --out ANOTHER_FOLDER "
                              f"(or pass --no-resume to start over)")


def _meta(blob: dict, path: str) -> dict:
    """The step (a whole number >= 0) and metrics (a JSON object) of a checkpoint dict, or a
    CheckpointError naming the file: an edited step would shift a resumed run's schedule silently."""
    step = blob.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: its step must be a whole number >= 0, got {step!r}")
    metrics = _foreign.metrics_of(blob.get("metrics"))  # JSON text, or a dict stored as is
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path}: its metrics are not a JSON object; the file was edited or damaged")
    return {"step": step, "metrics": metrics, "path": path, "optimizer": blob.get("optimizer")}


def batchnorm_note(meta: dict) -> str | None:
    """A warning for checkpoints written by this library's training before BatchNorm statistics were
    re-estimated at save time (their metrics lack ``bn_recalibration_frames``): their eval-mode
    latents (planning, diagnostics) can be shifted by more than a standard deviation per channel.
    None when there is nothing to say (re-estimated, or not a checkpoint of ours)."""
    m = _checks.check_meta(meta)
    if "pred_loss" not in m or "bn_recalibration_frames" in m:
        return None
    return ("its BatchNorm running statistics were not re-estimated at the saved weights (an older "
            "checkpoint): eval-mode latents can be off; fix it with `python -m lewm export --checkpoint "
            "CKPT --out NEW.pt --data TRAINING_DATA.h5`")
