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
import warnings
from typing import Any

import torch

from .env_names import env_key
from .errors import CheckpointError, check_finite_weights
from .config import LeWMConfig, ModelConfig, get_preset
from .model import LeWM

WEIGHTS = "weights.pt"
CONFIG = "config.json"

# ViT sizes of the reference ``vit_hf(size=...)`` helper: (width, depth, heads); MLP = 4 x width.
VIT_SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12),
             "large": (1024, 24, 16), "huge": (1280, 32, 16)}

_L = r"(\d+)"
_WB = r"(weight|bias)"
# (official-name pattern, our name). Our names are the release's own wherever it costs nothing,
# so most rules are identities; the transformers-5.x encoder names are renamed.
KEY_RULES: list[tuple[str, str]] = [
    # ViT encoder, transformers 4.x names (the release)
    (r"encoder\.embeddings\.(cls_token|position_embeddings)", r"encoder.embeddings.\1"),
    (rf"encoder\.embeddings\.patch_embeddings\.projection\.{_WB}", r"encoder.embeddings.patch_embeddings.projection.\1"),
    (rf"encoder\.encoder\.layer\.{_L}\.attention\.attention\.(query|key|value)\.{_WB}",
     r"encoder.encoder.layer.\1.attention.attention.\2.\3"),
    (rf"encoder\.encoder\.layer\.{_L}\.(attention\.output\.dense|intermediate\.dense|output\.dense|"
     rf"layernorm_before|layernorm_after)\.{_WB}", r"encoder.encoder.layer.\1.\2.\3"),
    (rf"encoder\.layernorm\.{_WB}", r"encoder.layernorm.\1"),
    # ViT encoder, transformers 5.x names
    (rf"encoder\.layers\.{_L}\.attention\.q_proj\.{_WB}", r"encoder.encoder.layer.\1.attention.attention.query.\2"),
    (rf"encoder\.layers\.{_L}\.attention\.k_proj\.{_WB}", r"encoder.encoder.layer.\1.attention.attention.key.\2"),
    (rf"encoder\.layers\.{_L}\.attention\.v_proj\.{_WB}", r"encoder.encoder.layer.\1.attention.attention.value.\2"),
    (rf"encoder\.layers\.{_L}\.attention\.o_proj\.{_WB}", r"encoder.encoder.layer.\1.attention.output.dense.\2"),
    (rf"encoder\.layers\.{_L}\.mlp\.fc1\.{_WB}", r"encoder.encoder.layer.\1.intermediate.dense.\2"),
    (rf"encoder\.layers\.{_L}\.mlp\.fc2\.{_WB}", r"encoder.encoder.layer.\1.output.dense.\2"),
    (rf"encoder\.layers\.{_L}\.(layernorm_before|layernorm_after)\.{_WB}", r"encoder.encoder.layer.\1.\2.\3"),
    # predictor (causal AdaLN-zero transformer)
    (r"predictor\.pos_embedding", r"predictor.pos_embedding"),
    (rf"predictor\.transformer\.layers\.{_L}\.(attn\.norm\.(?:weight|bias)|attn\.to_qkv\.weight|"
     r"attn\.to_out\.0\.(?:weight|bias)|mlp\.net\.[014]\.(?:weight|bias)|adaLN_modulation\.1\.(?:weight|bias))",
     r"predictor.transformer.layers.\1.\2"),
    (rf"predictor\.transformer\.norm\.{_WB}", r"predictor.transformer.norm.\1"),
    # action encoder, projectors (BatchNorm buffers included)
    (rf"action_encoder\.(patch_embed|embed\.0|embed\.2)\.{_WB}", r"action_encoder.\1.\2"),
    (rf"(projector|pred_proj)\.net\.([03])\.{_WB}", r"\1.net.\2.\3"),
    (r"(projector|pred_proj)\.net\.1\.(weight|bias|running_mean|running_var|num_batches_tracked)", r"\1.net.1.\2"),
]
# Present in some exports, unused by the LeWM forward pass: dropped silently (listed in meta).
IGNORED_KEYS = [r"encoder\.embeddings\.mask_token", r"encoder\.pooler\..*"]
# Known official keys we cannot represent, with the reason (reported with the unmapped keys).
UNSUPPORTED = {
    r"predictor\.transformer\.(input_proj|cond_proj|output_proj)\..*":
        "the official predictor has input/cond/output projections only when its input_dim differs "
        "from hidden_dim; this lab's predictor supports latent_dim == pred_dim for official weights",
}
_COMPILED = [(re.compile(p + r"\Z"), r) for p, r in KEY_RULES]


def map_key(name: str) -> str | None:
    """Our parameter name for an official one, or None when no rule matches."""
    for pat, repl in _COMPILED:
        m = pat.match(name)
        if m:
            return m.expand(repl)
    return None


def map_state_dict(sd: dict[str, torch.Tensor]):
    """-> (mapped {our name: tensor}, unmapped [official names], ignored [official names])."""
    mapped, unmapped, ignored = {}, [], []
    for k, v in sd.items():
        if any(re.fullmatch(p, k) for p in IGNORED_KEYS):
            ignored.append(k)
            continue
        ours = map_key(k)
        if ours is None:
            unmapped.append(k)
        elif ours in mapped:
            raise CheckpointError(f"official keys map twice onto '{ours}' (4.x and 5.x names mixed?)")
        else:
            mapped[ours] = v
    return mapped, unmapped, ignored


# ---------------------------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------------------------
def is_official(path: str) -> bool:
    """A release folder (``weights.pt`` inside, no lab ``last.pt``/``model.pt``), or a
    ``weights.pt`` file / a ``.pt`` file next to a ``config.json`` with Hydra ``_target_`` keys."""
    if os.path.isdir(path):
        return os.path.exists(os.path.join(path, WEIGHTS)) and not any(
            os.path.exists(os.path.join(path, n)) for n in ("last.pt", "model.pt"))
    if not os.path.isfile(path):
        return False
    if os.path.basename(path) == WEIGHTS:
        return True
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(path)), CONFIG)
    try:
        with open(cfg_path) as f:
            return "_target_" in json.load(f)
    except (OSError, ValueError):
        return False


def _paths(path: str) -> tuple[str, str | None]:
    if os.path.isdir(path):
        w = os.path.join(path, WEIGHTS)
        if not os.path.exists(w):
            raise CheckpointError(f"{path}: no {WEIGHTS} inside (official LeWM release folder expected)")
        folder = path
    else:
        if not os.path.exists(path):
            raise CheckpointError(f"{path}: checkpoint file not found")
        w, folder = path, os.path.dirname(os.path.abspath(path))
    c = os.path.join(folder, CONFIG)
    return w, (c if os.path.exists(c) else None)


def _read_weights(path: str) -> dict[str, torch.Tensor]:
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe named weights.pt blocked torch.load for ever
        raise CheckpointError(f"{path}: is not a regular file (a pipe, a device or a folder); give the weights file")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure becomes one clear line
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a readable weights file ({msg})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
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
    if size not in VIT_SIZES:
        raise CheckpointError(f"config encoder.size '{size}' is not one of {sorted(VIT_SIZES)}")
    enc_heads = int(enc.get("num_attention_heads", VIT_SIZES[size][2] if VIT_SIZES[size][0] == E else 0) or 0)
    if enc_heads <= 0 or E % enc_heads:
        raise CheckpointError(f"cannot tell the encoder head count: width {E} is not ViT-{size}'s "
                              f"{VIT_SIZES[size][0]} and config has no usable num_attention_heads")
    if enc.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(f"config encoder.hidden_act '{enc['hidden_act']}' unsupported (exact GELU only)")
    if float(enc.get("layer_norm_eps", 1e-12)) != 1e-12:
        raise CheckpointError(f"config encoder.layer_norm_eps {enc['layer_norm_eps']} unsupported (1e-12 only)")
    if not enc.get("qkv_bias", True):
        raise CheckpointError("config encoder.qkv_bias false is unsupported (ViT attention has biases here)")
    dim_head = int(pred.get("dim_head", 64))
    pred_heads = int(pred.get("heads", inner // dim_head if inner % dim_head == 0 else 0))
    if pred_heads * dim_head != inner:
        raise CheckpointError(f"config predictor heads x dim_head = {pred_heads} x {dim_head} != "
                              f"{inner}, the width of to_qkv")
    has_enc = isinstance(raw.get("encoder"), dict)  # then ViT-<size> defaults apply, fields override
    vit_w = enc.get("hidden_size", VIT_SIZES[size][0]) if has_enc else None
    checks = [
        ("encoder.hidden_size", vit_w, E),
        ("encoder.num_hidden_layers", enc.get("num_hidden_layers", VIT_SIZES[size][1]) if has_enc else None, enc_depth),
        ("encoder.intermediate_size", enc.get("intermediate_size", 4 * int(vit_w)) if has_enc else None, enc_mlp),
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
    bad = [f"{name}={v} (weights say {w})" for name, v, w in checks if v is not None and int(v) != w]
    if bad:
        raise CheckpointError("config.json disagrees with weights.pt: " + "; ".join(bad))
    for name, blk in (("projector", raw.get("projector")), ("pred_proj", raw.get("pred_proj"))):
        norm = blk.get("norm_fn") if isinstance(blk, dict) else None
        target = norm.get("_target_", "") if isinstance(norm, dict) else str(norm or "")
        if norm is not None and "BatchNorm1d" not in target:
            raise CheckpointError(f"config {name}.norm_fn is '{target}'; only BatchNorm1d projectors are supported")
    if D != W:
        raise CheckpointError(f"predictor input_dim {D} != hidden_dim {W}: {UNSUPPORTED[next(iter(UNSUPPORTED))]}")
    if int(act.get("mlp_scale", 4)) != 4:
        raise CheckpointError(f"config action_encoder.mlp_scale {act['mlp_scale']} unsupported (4 only)")

    if frameskip is None:
        frameskip = 5 if block % 5 == 0 else 1
        notes.append(f"frameskip assumed {frameskip} (action block of {block} numbers); pass frameskip= to override")
    if block % frameskip:
        raise CheckpointError(f"action block of {block} numbers is not a multiple of frameskip {frameskip}")
    mc = ModelConfig(
        image_size=side * patch, patch_size=patch, enc_dim=E, enc_depth=enc_depth, enc_heads=enc_heads,
        enc_mlp=enc_mlp, latent_dim=D, proj_hidden=proj_hidden, pred_dim=W, pred_depth=pred_depth,
        pred_heads=pred_heads, pred_dim_head=dim_head, pred_mlp=pred_mlp,
        dropout=float(pred.get("dropout", 0.1)), emb_dropout=float(pred.get("emb_dropout", 0.0)),
        history=history, action_dim=block // frameskip, frameskip=frameskip, action_hidden=act_hidden,
    )
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
        raise CheckpointError(
            f"{w_path}: {len(unmapped)} official key(s) match no rule of lewm.official.KEY_RULES: "
            + ", ".join(unmapped) + (f" ({'; '.join(hints)})" if hints else ""))
    try:
        mc, notes = model_config_from_official(raw_cfg, mapped, frameskip)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
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
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in mapped.items() if k in ours}
    check_finite_weights(sd, w_path)
    model.load_state_dict(sd, strict=strict)
    model.to(device).eval()
    for n in notes:
        warnings.warn(f"{path}: {n}")
    base = get_preset("paper")
    A = mc.action_dim
    cfg = LeWMConfig(model=mc, sigreg=base.sigreg, train=base.train, preset="official",
                     env=_guess_env(path) if env is None else env_key(env),
                     action_mean=tuple(float(x) for x in (action_mean if action_mean is not None else ())),
                     action_std=tuple(float(x) for x in (action_std if action_std is not None else ())))
    for name, v in (("action_mean", cfg.action_mean), ("action_std", cfg.action_std)):
        if v and len(v) != A:
            raise ValueError(f"{name} has {len(v)} numbers but the checkpoint's action_dim is {A}")
    meta = {"step": 0, "metrics": {}, "path": path, "optimizer": None, "official": True,
            "ignored_keys": ignored, "unmapped_keys": unmapped, "missing_keys": missing, "notes": notes}
    return model, cfg, meta
