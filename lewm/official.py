"""Open the official LeWM release format: ``weights.pt`` (flat state dict) + ``config.json``.

The published checkpoints (PushT, Two-Room, Reacher, Cube; DESIGN §8) are a folder with

* ``weights.pt``: a flat ``state_dict`` of the reference JEPA module (≈303 tensors; 18,034,478
  parameters for PushT, exactly our "paper" preset);
* ``config.json``: one block per part (``encoder``, ``predictor``, ``action_encoder``,
  ``projector``, ``pred_proj``) with Hydra ``_target_`` keys (ignored here).

``load_official`` turns that into our ``LeWM`` + ``LeWMConfig``:

1. every official key goes through ``KEY_RULES``, an explicit list of name patterns; keys that
   match none are *unmapped*; keys of our model that receive nothing are *missing*; with
   ``strict=True`` (the default) either kind is an error that lists every such key;
2. architecture sizes are read from the weights' shapes (authoritative), head counts and dropout
   from ``config.json``; a config value that disagrees with the weights is an error naming it;
3. encoder keys may use Hugging Face ``transformers`` 4.x ViT names (the release) or the 5.x
   names (``encoder.layers.N.attention.q_proj``, ``mlp.fc1`` ...); both map to ours.

Conventions carried over unchanged: float pixels are taken as already ImageNet-normalised (our
``encode`` does the normalisation itself for uint8 pixels); the latent is the projected
last-layer CLS token. Not in the release: the action normalisation (mean/std of the training
actions) — ``cfg.action_mean``/``action_std`` stay empty (identity) unless given.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import warnings
from typing import Any

import torch

from .env_names import env_key
from ._foreign_ckpt import SAVE_HINT as _SAVE_HINT
from .errors import CheckpointError, check_finite_weights
from .official_names import (IGNORED_KEYS, KEY_RULES, UNSUPPORTED, all_official,  # noqa: F401
                             map_key, map_state_dict)
from .config import LeWMConfig, ModelConfig, get_preset
from .model import LeWM
from .runs import file_kind
from .validate import Range, check_device, check_value, number_tuple

WEIGHTS = "weights.pt"
CONFIG = "config.json"

# ViT sizes of the reference ``vit_hf(size=...)`` helper: (width, depth, heads); MLP = 4 x width.
VIT_SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12),
             "large": (1024, 24, 16), "huge": (1280, 32, 16)}

# ---------------------------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------------------------
def _path_arg(path, who: str) -> str:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):  # None was os.stat's "path should be string ..."
        raise TypeError(f"{who}: path must be a checkpoint file or folder (str or os.PathLike), got {path!r:.60}")
    return os.fspath(path)


def _what(path: str) -> str:
    """What a path that is not a regular file is, in words."""
    if os.path.islink(path) and not os.path.exists(path):
        return f"a symbolic link to {os.readlink(path)}, which does not exist"
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return what
    return "not a regular file"


def is_official(path: str) -> bool:
    """A release folder (``weights.pt`` inside, no lab ``last.pt``/``model.pt``), or a
    ``weights.pt`` file / a ``.pt`` file next to a ``config.json`` with Hydra ``_target_`` keys."""
    path = _path_arg(path, "is_official")
    if os.path.isdir(path):  # lexists: a dangling weights.pt link is named by load_official, not "no last.pt"
        return os.path.lexists(os.path.join(path, WEIGHTS)) and not any(
            os.path.exists(os.path.join(path, n)) for n in ("last.pt", "model.pt"))
    if os.path.basename(path) == WEIGHTS and os.path.lexists(path):
        return os.path.isfile(path) or not os.path.exists(path)  # a pipe / device: refused by checkpoint.read_raw
    if not os.path.isfile(path):
        return False
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(path)), CONFIG)
    if not os.path.isfile(cfg_path):  # a pipe named config.json blocked open() for ever
        return False
    try:
        with open(cfg_path) as f:
            doc = json.load(f)
        return isinstance(doc, dict) and "_target_" in doc
    except (OSError, ValueError):
        return False


def _paths(path: str) -> tuple[str, str | None]:
    if os.path.isdir(path):
        w = os.path.join(path, WEIGHTS)
        if not os.path.lexists(w):
            raise CheckpointError(f"{path}: no {WEIGHTS} inside (official LeWM release folder expected)")
        folder = path
    else:
        if not os.path.lexists(path):
            raise CheckpointError(f"{path}: checkpoint file not found")
        w, folder = path, os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(w):  # a dangling link was "a folder with no last.pt"; a pipe blocked torch.load
        raise CheckpointError(f"{w}: is {_what(w)}; expected the release's {WEIGHTS} (a regular file)")
    c = os.path.join(folder, CONFIG)
    if os.path.lexists(c) and not os.path.isfile(c):  # a pipe blocked the read for ever
        raise CheckpointError(f"{c}: is {_what(c)}, not the release's JSON config; replace it or remove it")
    return w, (c if os.path.exists(c) else None)


_LAB_FORMAT = "lewm-checkpoint"  # lewm.checkpoint.FORMAT (not imported: checkpoint imports this module)


def _read_weights(path: str) -> dict[str, torch.Tensor]:
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe named weights.pt blocked torch.load for ever
        raise CheckpointError(f"{path}: is not a regular file (it is {_what(path)}); give the weights file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip, or its legacy pickle
        # was torch's advice to re-run with weights_only=False (which runs any code in the file)
        kind = "an empty file" if not head else (file_kind(path) or "a file of unknown kind")
        raise CheckpointError(f"{path}: not a torch weights file, it is {kind}; give the release's {WEIGHTS}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure becomes one clear line
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Weights only" in str(e):  # never echo torch's weights_only=False advice
            raise CheckpointError(f"{path}: not official LeWM weights: it holds Python objects other than "
                                  f"tensors (a file of another program), which are never unpickled here") from None
        raise CheckpointError(f"{path}: not a readable weights file, truncated or corrupted? ({msg})") from None
    if isinstance(sd, dict) and sd.get("format") == _LAB_FORMAT:
        raise CheckpointError(f"{path}: is a lab checkpoint (written by lewm train / lewm.checkpoint.save, step "
                              f"{sd.get('step', '?')}), not official LeWM weights; rename it (e.g. to last.pt) and "
                              f"open it with lewm.checkpoint.load or --checkpoint")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not sd or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                     for k, v in sd.items()):
        raise CheckpointError(f"{path}: expected a flat state dict of tensors (official LeWM weights.pt)")
    return sd


# ---------------------------------------------------------------------------------------------
# Config.
# ---------------------------------------------------------------------------------------------
def _clean(block: Any) -> dict[str, Any]:
    """Drop Hydra keys and unresolved values (``${...}``, ``???``) from a config block."""
    if not isinstance(block, dict):
        return {}
    out = {}
    for k, v in block.items():
        if k.startswith("_") and k.endswith("_"):
            continue
        if isinstance(v, str) and (v.startswith("${") or v == "???"):
            continue
        out[k] = v
    return out


def _count(sd: dict[str, torch.Tensor], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m.group(1)) for k in sd for m in [pat.match(k)] if m}
    return max(idx) + 1 if idx else 0


def _int(where: str, v) -> int:
    """A whole number of config.json (3 or 3.0), or one CheckpointError naming the field (was int()'s
    "invalid literal" without the file or the field)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise CheckpointError(f"{CONFIG} {where} must be a whole number, got {v!r:.60}")
    return int(v)


def _float(where: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CheckpointError(f"{CONFIG} {where} must be a finite number, got {v!r:.60}")
    return float(v)


def _check_frameskip(frameskip, fn: str) -> None:
    if frameskip is not None:  # 0 was a ZeroDivisionError, -1 / 2.5 were blamed on model.action_dim
        check_value(f"{fn}: frameskip (environment steps per action block)", frameskip, Range(lo=1), int)


def _shape(sd, key: str, dim: int, what: str) -> int:
    if key not in sd:
        raise CheckpointError(f"official weights lack '{key}', needed to read the {what}")
    return int(sd[key].shape[dim])


def model_config_from_official(raw_cfg: dict[str, Any] | None, sd: dict[str, torch.Tensor],
                               frameskip: int | None = None) -> tuple[ModelConfig, list[str]]:
    """ModelConfig from mapped weights (sizes) and the release config (heads, dropout).

    ``sd`` uses our names (``map_state_dict`` output). Returns (config, notes) where notes list
    the config fields that were ignored or defaulted.
    """
    _check_frameskip(frameskip, "model_config_from_official")
    if raw_cfg is not None and not isinstance(raw_cfg, dict):
        raise CheckpointError(f"{CONFIG} must hold a JSON object (one block per part: encoder, predictor, ...), "
                              f"got {type(raw_cfg).__name__}")
    raw = raw_cfg or {}
    if "model" in raw and "predictor" not in raw and isinstance(raw["model"], dict):
        raw = raw["model"]  # a full Hydra training config
    enc, pred = _clean(raw.get("encoder")), _clean(raw.get("predictor"))
    act, proj, pproj = _clean(raw.get("action_encoder")), _clean(raw.get("projector")), _clean(raw.get("pred_proj"))
    notes = []
    if raw_cfg is None:
        notes.append(f"no {CONFIG}: head counts default to ViT-Tiny (3) and 64-wide predictor heads")

    # -- sizes from the weights --------------------------------------------------------------
    E = _shape(sd, "encoder.embeddings.cls_token", -1, "encoder width")
    patch = _shape(sd, "encoder.embeddings.patch_embeddings.projection.weight", -1, "patch size")
    n_tok = _shape(sd, "encoder.embeddings.position_embeddings", 1, "image size") - 1
    side = math.isqrt(n_tok)
    if side * side != n_tok:
        raise CheckpointError(f"position_embeddings hold {n_tok} patches, not a square grid")
    enc_depth = _count(sd, "encoder.encoder.layer.")
    enc_mlp = _shape(sd, "encoder.encoder.layer.0.intermediate.dense.weight", 0, "encoder MLP width")
    D = _shape(sd, "projector.net.3.weight", 0, "latent dimension")
    proj_hidden = _shape(sd, "projector.net.0.weight", 0, "projector width")
    W = _shape(sd, "predictor.transformer.norm.weight", 0, "predictor width")
    pred_depth = _count(sd, "predictor.transformer.layers.")
    pred_mlp = _shape(sd, "predictor.transformer.layers.0.mlp.net.1.weight", 0, "predictor MLP width")
    inner = _shape(sd, "predictor.transformer.layers.0.attn.to_qkv.weight", 0, "predictor attention width") // 3
    history = _shape(sd, "predictor.pos_embedding", 1, "history length")
    block = _shape(sd, "action_encoder.patch_embed.weight", 1, "action block size")
    act_hidden = _shape(sd, "action_encoder.patch_embed.weight", 0, "action encoder width")
    if "pred_proj.net.0.weight" in sd and sd["pred_proj.net.0.weight"].shape[0] != proj_hidden:
        raise CheckpointError(f"projector and pred_proj hidden widths differ ({proj_hidden} vs "
                              f"{sd['pred_proj.net.0.weight'].shape[0]}); this lab uses one proj_hidden")

    # -- the rest from config.json, checked against the weights --------------------------------
    size = enc.get("size", "tiny")
    if not isinstance(size, str) or size not in VIT_SIZES:
        raise CheckpointError(f"config encoder.size '{size}' is not one of {sorted(VIT_SIZES)}")
    enc_heads = _int("encoder.num_attention_heads",
                     enc.get("num_attention_heads", VIT_SIZES[size][2] if VIT_SIZES[size][0] == E else 0) or 0)
    if enc_heads <= 0 or E % enc_heads:
        raise CheckpointError(f"cannot tell the encoder head count: width {E} is not ViT-{size}'s "
                              f"{VIT_SIZES[size][0]} and config has no usable num_attention_heads")
    if enc.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(f"config encoder.hidden_act '{enc['hidden_act']}' unsupported (exact GELU only)")
    if _float("encoder.layer_norm_eps", enc.get("layer_norm_eps", 1e-12)) != 1e-12:
        raise CheckpointError(f"config encoder.layer_norm_eps {enc['layer_norm_eps']} unsupported (1e-12 only)")
    if not enc.get("qkv_bias", True):
        raise CheckpointError("config encoder.qkv_bias false is unsupported (ViT attention has biases here)")
    dim_head = _int("predictor.dim_head", pred.get("dim_head", 64))
    if dim_head < 1:
        raise CheckpointError(f"{CONFIG} predictor.dim_head must be >= 1, got {dim_head}")
    pred_heads = _int("predictor.heads", pred.get("heads", inner // dim_head if inner % dim_head == 0 else 0))
    if pred_heads * dim_head != inner:
        raise CheckpointError(f"config predictor heads x dim_head = {pred_heads} x {dim_head} != "
                              f"{inner}, the width of to_qkv")
    has_enc = isinstance(raw.get("encoder"), dict)  # then ViT-<size> defaults apply, fields override
    vit_w = enc.get("hidden_size", VIT_SIZES[size][0]) if has_enc else None
    checks = [
        ("encoder.hidden_size", vit_w, E),
        ("encoder.num_hidden_layers", enc.get("num_hidden_layers", VIT_SIZES[size][1]) if has_enc else None, enc_depth),
        ("encoder.intermediate_size", enc.get("intermediate_size", 4 * _int("encoder.hidden_size", vit_w))
         if has_enc else None, enc_mlp),
        ("encoder.patch_size", enc.get("patch_size"), patch),
        ("encoder.image_size", enc.get("image_size"), side * patch),
        ("predictor.num_frames", pred.get("num_frames"), history),
        ("predictor.input_dim", pred.get("input_dim"), D),
        ("predictor.hidden_dim", pred.get("hidden_dim"), W),
        ("predictor.output_dim", pred.get("output_dim"), D),
        ("predictor.depth", pred.get("depth"), pred_depth),
        ("predictor.mlp_dim", pred.get("mlp_dim"), pred_mlp),
        ("action_encoder.input_dim", act.get("input_dim"), block),
        ("action_encoder.smoothed_dim", act.get("smoothed_dim"), act_hidden),
        ("action_encoder.emb_dim", act.get("emb_dim"), W),
        ("projector.input_dim", proj.get("input_dim"), E),
        ("projector.hidden_dim", proj.get("hidden_dim"), proj_hidden),
        ("projector.output_dim", proj.get("output_dim"), D),
        ("pred_proj.input_dim", pproj.get("input_dim"), D),
        ("pred_proj.output_dim", pproj.get("output_dim"), D),
    ]
    bad = [f"{name}={v} (weights say {w})" for name, v, w in checks if v is not None and _int(name, v) != w]
    if bad:
        raise CheckpointError("config.json disagrees with weights.pt: " + "; ".join(bad))
    for name, blk in (("projector", raw.get("projector")), ("pred_proj", raw.get("pred_proj"))):
        norm = blk.get("norm_fn") if isinstance(blk, dict) else None
        target = norm.get("_target_", "") if isinstance(norm, dict) else str(norm or "")
        if norm is not None and "BatchNorm1d" not in target:
            raise CheckpointError(f"config {name}.norm_fn is '{target}'; only BatchNorm1d projectors are supported")
    if D != W:
        raise CheckpointError(f"predictor input_dim {D} != hidden_dim {W}: {UNSUPPORTED[next(iter(UNSUPPORTED))]}")
    if _int("action_encoder.mlp_scale", act.get("mlp_scale", 4)) != 4:
        raise CheckpointError(f"config action_encoder.mlp_scale {act['mlp_scale']} unsupported (4 only)")

    if frameskip is None:
        frameskip = 5 if block % 5 == 0 else 1
        notes.append(f"frameskip assumed {frameskip} (action block of {block} numbers); pass frameskip= to override")
    if block % frameskip:
        raise CheckpointError(f"action block of {block} numbers is not a multiple of frameskip {frameskip}")
    try:
        mc = ModelConfig(
            image_size=side * patch, patch_size=patch, enc_dim=E, enc_depth=enc_depth, enc_heads=enc_heads,
            enc_mlp=enc_mlp, latent_dim=D, proj_hidden=proj_hidden, pred_dim=W, pred_depth=pred_depth,
            pred_heads=pred_heads, pred_dim_head=dim_head, pred_mlp=pred_mlp,
            dropout=_float("predictor.dropout", pred.get("dropout", 0.1)),
            emb_dropout=_float("predictor.emb_dropout", pred.get("emb_dropout", 0.0)),
            history=history, action_dim=block // frameskip, frameskip=frameskip, action_hidden=act_hidden,
        )
    except CheckpointError:
        raise
    except ValueError as e:  # e.g. a dropout of 1.5 in config.json
        raise CheckpointError(f"{CONFIG} and {WEIGHTS} give an unusable model: {e}") from None
    return mc, notes


def _guess_env(path: str) -> str:
    """The environment a release folder's path names ('.../lewm-pusht/...', '.../TwoRoom/...'), or ''."""
    s = re.sub(r"[^a-z0-9]", "", os.path.abspath(path).lower())
    for token in ("pusht", "tworoom", "reacher"):
        if token in s:
            return env_key(token)
    return ""


# ---------------------------------------------------------------------------------------------
# The loader.
# ---------------------------------------------------------------------------------------------
def load_official(path: str, device: str | torch.device = "cpu", *, strict: bool = True,
                  frameskip: int | None = None, env: str | None = None,
                  action_mean=None, action_std=None):
    """Load an official LeWM checkpoint (release folder, or its ``weights.pt``).

    Returns ``(model in eval mode, LeWMConfig, meta)`` like ``checkpoint.load``; meta adds
    ``official=True``, ``ignored_keys``, ``unmapped_keys``, ``missing_keys`` and ``notes``.
    ``frameskip`` splits the action block (default 5 when it divides the block size); ``env``
    defaults to a guess from the path (pusht / two_room / reacher); ``action_mean``/``std`` set
    the action normalisation of the dataset the checkpoint was trained on (not in the release).
    """
    path = _path_arg(path, "load_official")
    # the arguments first, before any file is read (was: env=5 stored as '5', frameskip=0 a ZeroDivisionError,
    # device="cuda" without CUDA an AssertionError, action_mean without action_std dropped)
    check_value("load_official: strict", strict, None, bool)
    _check_frameskip(frameskip, "load_official")
    dev = check_device(device, "load_official: device")
    if env is not None and not isinstance(env, str):
        raise ValueError(f"load_official: env must be an environment name (str) or None (guess from the path), "
                         f"got {env!r:.60}")
    try:
        env_name = _guess_env(path) if env is None else (env_key(env) if env.strip() else "")
    except ValueError as e:  # '///' came back '' (no environment) without a word
        raise ValueError(f"load_official: env: {e}") from None
    stats = {n: () if v is None else number_tuple(f"load_official: {n}", v)
             for n, v in (("action_mean", action_mean), ("action_std", action_std))}
    if bool(stats["action_mean"]) != bool(stats["action_std"]):
        given, lacking = ("action_mean", "action_std") if stats["action_mean"] else ("action_std", "action_mean")
        raise ValueError(f"load_official: {given} given without {lacking}; the action normalisation needs both "
                         f"(the training actions' mean and std), or neither")
    w_path, c_path = _paths(path)
    raw_cfg = None
    if c_path is not None:
        try:
            with open(c_path) as f:
                raw_cfg = json.load(f)
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{c_path}: not readable JSON ({e})") from None
    official_sd = _read_weights(w_path)
    mapped, unmapped, ignored = map_state_dict(official_sd)
    if unmapped and strict:
        hints = sorted({why for k in unmapped for p, why in UNSUPPORTED.items() if re.fullmatch(p, k)})
        raise CheckpointError(  # was "... match no rule of lewm.official.KEY_RULES: <every name>", no way forward
            f"{w_path}: {len(unmapped)} weight name(s) are not the official release's ({', '.join(unmapped[:4])}"
            f"{' ...' if len(unmapped) > 4 else ''}{'; ' + '; '.join(hints) if hints else ''}): not official LeWM "
            f"weights (a lab model's bare state_dict? {_SAVE_HINT}), or of a release this lab cannot read")
    try:
        mc, notes = model_config_from_official(raw_cfg, mapped, frameskip)
    except CheckpointError as e:  # without config.json the head counts are guesses: say it is missing
        raise CheckpointError(f"{path}: {e}" + ("" if c_path else f" (no {CONFIG} beside {WEIGHTS}: the release ships "
                                                               f"both; put it back)")) from None
    model = LeWM(mc)
    ours = model.state_dict()
    missing = [k for k in ours if k not in mapped]
    shape_bad = [f"{k} {tuple(mapped[k].shape)} vs ours {tuple(ours[k].shape)}"
                 for k in ours if k in mapped and mapped[k].shape != ours[k].shape]
    if shape_bad:
        raise CheckpointError(f"{w_path}: shape mismatch: " + "; ".join(shape_bad))
    if missing and strict:
        raise CheckpointError(f"{w_path}: {len(missing)} parameter(s) of the model get no official weight: "
                              + ", ".join(missing))
    # a weight of another kind (an int64 or bool tensor where the model has floats) was cast without a word:
    # truncated floats or a foreign file, never a release's weights (fp16 / bf16 ones are widened below)
    kind_bad = next((k for k in ours if k in mapped and mapped[k].is_floating_point() != ours[k].is_floating_point()),
                    None)
    if kind_bad is not None:
        raise CheckpointError(f"{w_path}: weight {kind_bad!r} is stored as {mapped[kind_bad].dtype} but the model's "
                              f"is {ours[kind_bad].dtype}; official weights are floating point (the file was edited "
                              f"or damaged, or is not LeWM weights)")
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in mapped.items() if k in ours}
    check_finite_weights(sd, w_path)
    model.load_state_dict(sd, strict=strict)
    model.to(dev).eval()
    for n in notes:
        warnings.warn(f"{path}: {n}")
    base = get_preset("paper")
    try:  # LeWMConfig checks the action statistics against the checkpoint's action_dim
        cfg = LeWMConfig(model=mc, sigreg=base.sigreg, train=base.train, preset="official", env=env_name, **stats)
    except ValueError as e:
        raise ValueError(f"load_official: {e} (the checkpoint's, from {w_path})") from None
    meta = {"step": 0, "metrics": {}, "path": path, "optimizer": None, "official": True,
            "ignored_keys": ignored, "unmapped_keys": unmapped, "missing_keys": missing, "notes": notes}
    return model, cfg, meta
