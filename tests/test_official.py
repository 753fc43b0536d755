"""Official LeWM release format: key map, config mapping, the encoder vs Hugging Face's ViTModel."""
import json
import os

import pytest
import torch

from lewm import checkpoint, official
from lewm.checkpoint import CheckpointError
from lewm.config import ModelConfig, get_preset
from lewm.model import LeWM, ViTEncoder


def test_encoder_matches_transformers_vit():
    tf = pytest.importorskip("transformers")
    hf_cfg = tf.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, hidden_act="gelu", layer_norm_eps=1e-12,
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    hf = tf.ViTModel(hf_cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # make every tensor (LayerNorms, biases, CLS) non-trivial
        for p in hf.parameters():
            p.add_(0.1 * torch.randn_like(p))
    # the official checkpoints hold the ViTModel under "encoder."; whatever this transformers
    # version names its keys (4.x or 5.x), the key map must cover them
    sd = {f"encoder.{k}": v for k, v in hf.state_dict().items()}
    mapped, unmapped, _ = official.map_state_dict(sd)
    assert not unmapped, unmapped
    ours = ViTEncoder(ModelConfig(image_size=32, patch_size=8, enc_dim=32, enc_depth=2, enc_heads=2, enc_mlp=64))
    ours.load_state_dict({k[len("encoder."):]: v for k, v in mapped.items()}, strict=True)
    ours.eval()
    x = torch.randn(4, 3, 32, 32)  # (B, 3, S, S), already normalised floats
    with torch.no_grad():
        want = hf(pixel_values=x).last_hidden_state[:, 0]  # (B, E) CLS after the final LayerNorm
        got = ours(x)  # (B, E)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _tiny_model_cfg() -> ModelConfig:
    # official weights need latent_dim == pred_dim (no input/cond/output projections)
    return get_preset("cpu-tiny").with_overrides(model={"latent_dim": 32}).model


def _official_config(mc: ModelConfig) -> dict:
    bn = {"_target_": "torch.nn.BatchNorm1d", "_partial_": True}
    return {
        "_target_": "stable_worldmodel.wm.lewm.JEPA",
        "encoder": {"_target_": "stable_pretraining.backbone.utils.vit_hf", "size": "tiny",
                    "patch_size": mc.patch_size, "image_size": mc.image_size, "pretrained": False,
                    "use_mask_token": False, "hidden_size": mc.enc_dim, "num_hidden_layers": mc.enc_depth,
                    "num_attention_heads": mc.enc_heads, "intermediate_size": mc.enc_mlp},
        "predictor": {"_target_": "module.ARPredictor", "num_frames": mc.history, "input_dim": mc.latent_dim,
                      "hidden_dim": mc.pred_dim, "output_dim": mc.latent_dim, "depth": mc.pred_depth,
                      "heads": mc.pred_heads, "mlp_dim": mc.pred_mlp, "dim_head": mc.pred_dim_head,
                      "dropout": 0.1, "emb_dropout": 0.0},
        "action_encoder": {"_target_": "module.Embedder", "input_dim": mc.action_block_dim, "emb_dim": mc.pred_dim},
        "projector": {"_target_": "module.MLP", "input_dim": mc.enc_dim, "output_dim": mc.latent_dim,
                      "hidden_dim": mc.proj_hidden, "norm_fn": bn},
        "pred_proj": {"_target_": "module.MLP", "input_dim": mc.latent_dim, "output_dim": mc.latent_dim,
                      "hidden_dim": mc.proj_hidden, "norm_fn": bn},
    }


def _write_release(folder, sd: dict, cfg: dict | None):
    os.makedirs(folder, exist_ok=True)
    torch.save(sd, os.path.join(folder, "weights.pt"))
    if cfg is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f)
    return str(folder)


def _source_model(mc):
    torch.manual_seed(3)
    m = LeWM(mc)
    with torch.no_grad():  # non-trivial BatchNorm buffers and AdaLN weights
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for name in ("projector", "pred_proj"):
            bn = getattr(m, name).net[1]
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.num_batches_tracked.fill_(1234)
    return m.eval()


def test_fake_official_folder_loads_and_matches(tmp_path):
    mc = _tiny_model_cfg()
    src = _source_model(mc)
    sd = dict(src.state_dict())  # our names are the release's (transformers 4.x ViT names)
    sd["encoder.embeddings.mask_token"] = torch.zeros(1, 1, mc.enc_dim)  # unused by LeWM: ignored
    folder = _write_release(tmp_path / "lewm-pusht", sd, _official_config(mc))

    with pytest.warns(UserWarning, match="frameskip assumed 5"):
        model, cfg, meta = checkpoint.load(folder)  # the generic loader detects the format
    assert meta["official"] and meta["ignored_keys"] == ["encoder.embeddings.mask_token"]
    assert cfg.env == "pusht" and cfg.preset == "official"
    assert cfg.model == ModelConfig(**{**mc.__dict__, "dropout": 0.1})  # dropout from config.json
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    g = torch.Generator().manual_seed(0)
    px = torch.randint(0, 256, (2, mc.history, 3, mc.image_size, mc.image_size), generator=g, dtype=torch.uint8)
    acts = torch.randn(2, mc.history, mc.action_block_dim, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(model.predict(model.encode(px), acts), src.predict(src.encode(px), acts))

    # the weights file itself, and official.load_official with explicit options
    m2, cfg2, _ = official.load_official(os.path.join(folder, "weights.pt"), frameskip=1, env="")
    assert cfg2.model.frameskip == 1 and cfg2.model.action_dim == mc.action_block_dim and cfg2.env == ""


def test_transformers5_names_and_missing_config(tmp_path):
    mc = _tiny_model_cfg()
    src = _source_model(mc)
    ren = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
           "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj",
           "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}
    sd = {}
    for k, v in src.state_dict().items():
        if k.startswith("encoder.encoder.layer."):
            k = k.replace("encoder.encoder.layer.", "encoder.layers.")
            for a, b in ren.items():
                k = k.replace(a, b)
        sd[k] = v
    assert any(".q_proj." in k for k in sd) and any(".mlp.fc2." in k for k in sd)
    cfg = _official_config(mc)
    folder = _write_release(tmp_path / "v5", sd, cfg)
    with pytest.warns(UserWarning):
        model, _, _ = checkpoint.load(folder)
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_unknown_and_missing_keys_fail_clearly(tmp_path):
    mc = _tiny_model_cfg()
    sd = dict(_source_model(mc).state_dict())
    sd["predictor.extra_head.weight"] = torch.zeros(3)
    sd["predictor.transformer.cond_proj.weight"] = torch.zeros(3, 3)
    del sd["action_encoder.embed.2.bias"]
    folder = _write_release(tmp_path / "bad", sd, _official_config(mc))
    with pytest.raises(CheckpointError, match=r"2 official key\(s\) match no rule.*predictor\.extra_head\.weight"
                                              r".*cond_proj.*input_dim differs"):
        checkpoint.load(folder)
    del sd["predictor.extra_head.weight"], sd["predictor.transformer.cond_proj.weight"]
    folder = _write_release(tmp_path / "missing", sd, _official_config(mc))
    with pytest.raises(CheckpointError, match=r"1 parameter\(s\) of the model get no official weight: "
                                              r"action_encoder\.embed\.2\.bias"):
        checkpoint.load(folder)
    # non-strict loading goes through and reports what it skipped
    with pytest.warns(UserWarning):
        _, _, meta = official.load_official(folder, strict=False)
    assert meta["missing_keys"] == ["action_encoder.embed.2.bias"]


def test_config_disagreeing_with_weights_names_the_field(tmp_path):
    mc = _tiny_model_cfg()
    cfg = _official_config(mc)
    cfg["predictor"]["depth"] = 6
    cfg["encoder"]["patch_size"] = 4
    folder = _write_release(tmp_path / "disagree", dict(_source_model(mc).state_dict()), cfg)
    with pytest.raises(CheckpointError, match=r"encoder\.patch_size=4 \(weights say 8\).*predictor\.depth=6"):
        checkpoint.load(folder)


def test_paper_shaped_release_config_maps_to_the_paper_preset():
    """The PushT release config (ViT-Tiny defaults, no overrides) gives exactly our paper preset."""
    paper = get_preset("paper").model
    sd = LeWM(paper).state_dict()
    mapped, unmapped, _ = official.map_state_dict(sd)
    assert not unmapped and set(mapped) == set(sd)
    cfg = _official_config(paper)
    for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        del cfg["encoder"][k]  # ViT-Tiny defaults, as in the release
    mc, notes = official.model_config_from_official(cfg, mapped)
    assert mc == paper
    assert sum(v.numel() for k, v in sd.items() if "running" not in k and "num_batches" not in k) == 18_034_478


def test_lab_checkpoints_are_not_mistaken_for_official(tmp_path):
    cfg = get_preset("cpu-tiny")
    p = checkpoint.save(str(tmp_path / "last.pt"), LeWM(cfg.model), cfg)
    assert not official.is_official(p) and not official.is_official(str(tmp_path))
    torch.save(dict(LeWM(cfg.model).state_dict()), tmp_path / "renamed.pt")
    with pytest.raises(CheckpointError, match="looks like official LeWM weights"):
        checkpoint.load(str(tmp_path / "renamed.pt"))


def test_official_weights_with_nan_are_refused(tmp_path):
    """The lab's own checkpoints were checked for NaN/inf weights; the official-format loader was not."""
    mc = _tiny_model_cfg()
    sd = dict(_source_model(mc).state_dict())
    sd["predictor.transformer.norm.weight"] = torch.full_like(sd["predictor.transformer.norm.weight"], float("nan"))
    folder = _write_release(tmp_path / "lewm-pusht", sd, _official_config(mc))
    with pytest.raises(checkpoint.CheckpointError, match=r"'predictor.transformer.norm.weight' holds NaN/inf"):
        checkpoint.load(folder)
