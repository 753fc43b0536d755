"""Checkpoints that are plausible but not the lab's (round 25): what :func:`lewm.checkpoint.read_raw` / ``load`` say
about them, and the few foreign-but-unambiguous forms they accept.

Accepted (nothing about them is a guess): a ``config`` / ``metrics`` entry stored as a dict instead of its JSON text;
weights whose names carry the wrappers' prefixes ``module.`` (DistributedDataParallel) or ``_orig_mod.``
(``torch.compile``) when removing them gives exactly the model's names.

Refused with one line saying what the file is and what to do: a bare ``state_dict`` (no config: the architecture,
head counts included, cannot be read from it), a PyTorch Lightning or another program's training checkpoint, a whole
pickled ``nn.Module`` (never unpickled: it would run code), a ``.safetensors`` file, a gzip-compressed checkpoint, a
zip that is not a torch file, a config of a newer lab, a release folder with a file missing.

It imports only :mod:`lewm.errors` and :mod:`lewm.runs` (and the standard library, torch inside functions).
"""
from __future__ import annotations

import json
import os
import re
import zipfile

from .errors import CheckpointError
from .runs import is_safetensors

SAVE_HINT = "save it with lewm.checkpoint.save(path, model, cfg) from the model and config it came from"


def describe_foreign(blob, all_official=lambda keys: True) -> str:
    """What a ``torch.load``-ed object without the lab's header is, and what to do, as the tail of one line;
    ``all_official(keys)``: whether the official loader maps every name (``lewm.official.all_official``; round 26: a
    cpu-tiny model's bare state_dict was called official weights, and the folder the tip asked for failed)."""
    import torch
    if torch.is_tensor(blob):
        return f"it holds a single tensor {tuple(blob.shape)}, not a model's weights and config"
    if isinstance(blob, (list, tuple)):
        return f"it holds a {type(blob).__name__} of {len(blob)} items, not a model's weights and config"
    if not isinstance(blob, dict):
        return f"it holds a {type(blob).__name__}, not a model's weights and config"
    keys = [str(k) for k in blob]
    if blob and all(torch.is_tensor(v) for v in blob.values()):
        prefix = _common_prefix(keys)
        official = any(k.endswith("encoder.embeddings.cls_token") for k in keys) and all_official(keys)
        what = f"a bare state_dict of {len(blob)} weights" + (f" (names prefixed {prefix!r})" if prefix else "")
        tip = ("; it looks like official LeWM weights: if it is, put the file in a folder as weights.pt beside the "
               "release's config.json and open the folder" if official else "")
        return f"{what} without a config (the architecture cannot be rebuilt from it): {SAVE_HINT}{tip}"
    if "pytorch-lightning_version" in blob or {"hyper_parameters", "global_step"} & set(keys):
        return (f"a PyTorch Lightning checkpoint (keys {', '.join(sorted(keys)[:5])}); load its state_dict into "
                f"lewm.model.LeWM(cfg.model) and {SAVE_HINT.replace('save it', 'save that')}")
    if {"config", "state_dict"} <= set(keys):
        return ("it has the lab's entries (config, state_dict ...) but not its 'format' header: the file was edited "
                "or written by another saver; write it with lewm.checkpoint.save (or python -m lewm export)")
    return (f"a dict of another program (keys {', '.join(sorted(keys)[:6])}{' ...' if len(keys) > 6 else ''}); "
            f"a LeWM checkpoint is written by train or export ({SAVE_HINT.replace('save it', 'or save a model')})")


def _common_prefix(keys: list[str]) -> str | None:
    for p in ("module.", "model.", "_orig_mod.", "net.", "wm."):
        if keys and all(k.startswith(p) for k in keys):
            return p
    return None


def pickled_module(path) -> str | None:
    """The class a ``torch.save(module)`` file pickles (read from the archive's pickle as bytes, never unpickled),
    e.g. ``'lewm.model.LeWM'``, or None when it holds none / cannot be read."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            data = z.read(name) if name else b""
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    m = re.search(rb"(lewm\.model)\W{1,8}(LeWM)", data) or re.search(rb"(torch\.nn\.modules\.[\w.]+)\W{1,8}(\w+)", data)
    return f"{m.group(1).decode()}.{m.group(2).decode()}" if m else None


def file_kind_hint(path, head: bytes) -> str | None:
    """A checkpoint-like file torch cannot read, from its first bytes: gzip, safetensors, a zip of other files;
    the tail of one line, or None."""
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file; decompress it first (gunzip, or python -m gzip -d FILE) and pass the .pt"
    if is_safetensors(head):
        return ("a safetensors file (weights only, no config); the lab reads torch .pt checkpoints: for official "
                "LeWM weights, convert it (python -c \"import torch, safetensors.torch as s; torch.save(s.load_file("
                "'FILE.safetensors'), 'weights.pt')\") and put weights.pt beside the release's config.json")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (OSError, zipfile.BadZipFile):
            return None
        if not any(n.endswith("data.pkl") for n in names):
            shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
            return f"a zip archive of {len(names)} file(s) ({shown}), not a torch checkpoint (torch.save writes data.pkl)"
    return None


def config_of(blob: dict, path) -> dict:
    """The checkpoint's config as a dict: its JSON text, or a dict stored as is (another saver's; unambiguous). One
    CheckpointError naming what is wrong (was: "its config cannot be read: 'config'" for a missing entry)."""
    raw = blob.get("config")
    if raw is None:
        raise CheckpointError(f"{path}: has no 'config' entry (the architecture); the file was edited or written by "
                              f"another program: {SAVE_HINT}")
    if isinstance(raw, (str, bytes, bytearray)):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise CheckpointError(f"{path}: its config is not readable JSON ({e}); the file was edited or damaged") \
                from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: its config cannot be read: the config must be a JSON object, got "
                              f"{type(raw).__name__}; the file was edited or damaged")
    return raw


def metrics_of(raw):
    """A checkpoint's metrics: its JSON text, or a dict stored as is -> a dict, or None when neither."""
    if isinstance(raw, dict):
        return raw
    try:
        out = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return None
    return out if isinstance(out, dict) else None


def config_error(path, e: Exception) -> CheckpointError:
    """``LeWMConfig.from_dict``'s refusal as one line; fields this lab does not know say so (a newer lab's file)."""
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    tip = ""
    if "unknown field" in msg:
        tip = ("; written by a newer lewm? update lewm (git pull) to read it; if the field was added by hand, remove it")
    return CheckpointError(f"{path}: its config cannot be read: {msg}{tip}")


def version_error(path, version, supported: int) -> CheckpointError:
    if version is None:
        return CheckpointError(f"{path}: has the lab's header but no 'version' entry; the file was edited or damaged")
    if isinstance(version, int) and not isinstance(version, bool) and version > supported:
        return CheckpointError(f"{path}: checkpoint version {version} was written by a newer lewm (this one reads "
                               f"version {supported}); update lewm (git pull) to read it")
    return CheckpointError(f"{path}: checkpoint version {version!r} is not supported (expected {supported})")


_WRAPPERS = (re.compile(r"^module\."), re.compile(r"(^|\.)_orig_mod\."))


def unwrap_names(sd: dict, want) -> dict:
    """``sd`` with the wrappers' prefixes (``module.``, ``_orig_mod.``) removed when that gives exactly the names
    ``want``; otherwise ``sd`` unchanged (its mismatch is then named by :func:`weights_mismatch`)."""
    if set(sd) == set(want) or not any(p.search(k) for k in sd for p in _WRAPPERS):
        return sd
    out = {}
    for k, v in sd.items():
        k2 = _WRAPPERS[0].sub("", k)
        out[_WRAPPERS[1].sub(lambda m: m.group(1), k2)] = v
    return out if set(out) == set(want) and len(out) == len(sd) else sd


def weights_mismatch(path, sd: dict, want: dict, strict: bool) -> str | None:
    """The first difference between the file's weights ``sd`` and the model's ``want`` (names -> tensors) as one
    line, or None (was: torch's "Error(s) in loading state_dict" cut at 300 characters, the cause often cut off)."""
    shape = next((k for k in want if k in sd and tuple(sd[k].shape) != tuple(want[k].shape)), None)
    if shape is not None:
        return (f"{path}: weight {shape!r} is {tuple(sd[shape].shape)} in the file but {tuple(want[shape].shape)} in "
                f"the architecture its config describes; the file was edited, or its config is another run's")
    if not strict:
        return None
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]  # torch fills those
    extra = [k for k in sd if k not in want]
    if missing or extra:
        parts = ([f"{len(missing)} of the model's weights missing (first {missing[0]!r})"] if missing else []) + \
                ([f"{len(extra)} unknown (first {extra[0]!r})"] if extra else [])
        return (f"{path}: weights do not match the architecture in its config: {', '.join(parts)}; the file was "
                f"edited or comes from another model")
    return None


def _is_run_config(path: str) -> bool:
    """Whether ``path`` is a lab run's config.json (model / sigreg / train sections), not an official release's."""
    import json
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and all(isinstance(d.get(k), dict) for k in ("model", "sigreg", "train"))


def folder_problem(path) -> str:
    """Why a folder given as a checkpoint holds none (no last.pt / model.pt, no official weights.pt): what it holds
    instead, and what to pass."""
    try:
        names = sorted(os.listdir(path))
    except OSError as e:
        return f"{path}: cannot list the folder ({e.strerror or e})"
    for name in ("last.pt", "model.pt"):  # there, but a link to nowhere or a loop (was: "deleted or moved?")
        if name in names and os.path.islink(os.path.join(path, name)):
            from .paths import why_missing
            return (f"{os.path.join(path, name)}: is {why_missing(os.path.join(path, name)).split('; ')[0]}; put "
                    f"the checkpoint file itself there, or pass its real path")
    if "config.json" in names and "weights.pt" not in names and _is_run_config(os.path.join(path, "config.json")):
        snaps = sorted((n for n in names if n.startswith("step_") and n.endswith(".pt")), key=lambda n: (len(n), n))
        alt = f", or pass one of its snapshots (weights only): {os.path.join(path, snaps[-1])}" if snaps else ""
        return (f"{path}: a lab run folder (its config.json) without its last.pt (deleted or moved?); put last.pt "
                f"back{alt}")  # was: "... an official LeWM release folder needs both (download ... weights.pt)"
    if "config.json" in names and "weights.pt" not in names:
        st = [n for n in names if n.endswith(".safetensors")]
        if st:
            return (f"{path}: holds config.json and {st[0]} but no weights.pt: an official LeWM release folder needs "
                    f"weights.pt; convert it (python -c \"import torch, safetensors.torch as s; torch.save(s.load_file("
                    f"'{st[0]}'), 'weights.pt')\" in that folder)")
        return (f"{path}: holds config.json but no weights.pt: an official LeWM release folder needs both (download "
                f"the missing weights.pt), a lab run folder holds last.pt")
    inner = [n for n in names if os.path.isdir(os.path.join(path, n)) and any(
        os.path.exists(os.path.join(path, n, c)) for c in ("last.pt", "model.pt", "weights.pt"))]
    if inner:
        return (f"{path}: a folder with no last.pt or model.pt inside; its subfolder(s) {', '.join(inner[:3])} hold "
                f"one: pass it, e.g. {os.path.join(path, inner[0])}")
    pts = [n for n in names if n.endswith((".pt", ".pth", ".ckpt"))]
    if pts:
        return (f"{path}: a folder with no last.pt or model.pt inside (it holds {', '.join(pts[:3])}); pass the "
                f"checkpoint file itself")
    if str(path).rstrip("/").endswith((".pt", ".pth", ".ckpt")):  # a run's last.pt replaced by a folder (round 27)
        return (f"{path}: is a folder, not a checkpoint file (made where a checkpoint belongs?); put the checkpoint "
                f"file back in its place (a run's last.pt), or pass another checkpoint")
    return (f"{path}: a folder with no last.pt or model.pt inside; pass a run folder that holds last.pt, a checkpoint "
            f"file, or an official release folder (config.json + weights.pt)")
