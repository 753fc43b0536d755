"""The official LeWM release's parameter names and ours: ``KEY_RULES``, an explicit list of name patterns (the
release's transformers-4.x ViT names and the 5.x ones both map onto this lab's), the names dropped
(``IGNORED_KEYS``) and the ones this lab cannot represent (``UNSUPPORTED``). Used by :mod:`lewm.official`'s loader
and by the checkpoint reader's hint for a bare official ``state_dict``."""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from .errors import CheckpointError

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
    if not isinstance(name, str):  # None was re's "expected string or bytes-like object"
        raise TypeError(f"map_key: name must be an official parameter name (str), got {name!r:.60}")
    for pat, repl in _COMPILED:
        m = pat.match(name)
        if m:
            return m.expand(repl)
    return None


def all_official(keys) -> bool:
    """Whether :func:`map_state_dict` maps or ignores every name (a lab model's names are not always official)."""
    return all(isinstance(k, str) and (map_key(k) or any(re.fullmatch(p, k) for p in IGNORED_KEYS)) for k in keys)


def map_state_dict(sd: dict[str, torch.Tensor]):
    """-> (mapped {our name: tensor}, unmapped [official names], ignored [official names])."""
    if not isinstance(sd, Mapping):  # a list was "'list' object has no attribute 'items'"
        raise TypeError(f"map_state_dict: sd must be a dict {{official name: tensor}} (a state_dict), "
                        f"got {type(sd).__name__}")
    mapped, unmapped, ignored = {}, [], []
    for k, v in sd.items():
        if not isinstance(k, str) or not torch.is_tensor(v):
            raise TypeError(f"map_state_dict: sd must map parameter names (str) to tensors, got {k!r:.60}: "
                            f"{type(v).__name__}")
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
