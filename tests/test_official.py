"""Official LeWM release format: key map, config mapping, the encoder vs Hugging Face's ViTModel."""
import json
import os

import pytest
import torch

from lewm import checkpoint, official
from lewm.checkpoint import CheckpointError
from lewm.config import ModelConfig, get_preset
from lewm.model import LeWM
from lewm.vit import ViTEncoder


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
    with pytest.raises(CheckpointError, match=r"2 weight name\(s\) are not the official release's \(predictor\.extra_head\.weight"
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
    with pytest.raises(CheckpointError, match="bare state_dict") as e:  # round 26: its names are not all official,
        checkpoint.load(str(tmp_path / "renamed.pt"))  # so no tip to open it as a release folder (a dead end)
    assert "looks like official" not in str(e.value)


def test_official_weights_with_nan_are_refused(tmp_path):
    """The lab's own checkpoints were checked for NaN/inf weights; the official-format loader was not."""
    mc = _tiny_model_cfg()
    sd = dict(_source_model(mc).state_dict())
    sd["predictor.transformer.norm.weight"] = torch.full_like(sd["predictor.transformer.norm.weight"], float("nan"))
    folder = _write_release(tmp_path / "lewm-pusht", sd, _official_config(mc))
    with pytest.raises(checkpoint.CheckpointError, match=r"'predictor.transformer.norm.weight' holds NaN/inf"):
        checkpoint.load(folder)


# ---------------------------------------------------------------------------------------------
# Hostile inputs (reliability round 10): one clear line naming the argument or the file.
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(folder of a valid release, its state dict, its config.json dict)."""
    mc = _tiny_model_cfg()
    sd, cfg = dict(_source_model(mc).state_dict()), _official_config(mc)
    return _write_release(tmp_path_factory.mktemp("rel") / "lewm-pusht", sd, cfg), sd, cfg


@pytest.mark.parametrize("kw,exc,match", [
    ({"env": 5}, ValueError, r"load_official: env must be an environment name \(str\)"),
    ({"env": "///"}, ValueError, r"load_official: env: environment name '///' has no letter"),
    ({"frameskip": 0}, ValueError, r"frameskip .* must be >= 1, got 0"),
    ({"frameskip": -1}, ValueError, r"frameskip .* must be >= 1, got -1"),
    ({"frameskip": 2.5}, ValueError, r"frameskip .* must be a whole number, got 2.5"),
    ({"action_mean": [0.0, 0.0]}, ValueError, r"action_mean given without action_std"),
    ({"action_std": [1.0, 1.0]}, ValueError, r"action_std given without action_mean"),
    ({"action_mean": "ab", "action_std": [1.0]}, ValueError, r"load_official: action_mean must be a list of numbers"),
    ({"action_mean": [0.0] * 3, "action_std": [1.0] * 3}, ValueError, r"action_mean has 3 number\(s\) but model.action_dim is 2"),
    ({"strict": "no"}, ValueError, r"load_official: strict must be true or false"),
    ({"device": "nope"}, ValueError, r"load_official: device 'nope' is not a device"),
])
def test_load_official_refuses_bad_arguments(release, kw, exc, match):
    folder = release[0]
    with pytest.raises(exc, match=match):
        official.load_official(folder, **{"frameskip": 5, **kw})


def test_load_official_cuda_without_cuda_is_one_line(release):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=r"load_official: device cuda: .*CUDA"):
        official.load_official(release[0], device="cuda", frameskip=5)


def test_load_official_valid_arguments_still_work(release):
    _, cfg, _ = official.load_official(release[0], frameskip=5, env="TwoRoom",
                                       action_mean=[0.5, -0.5], action_std=[2.0, 1.0])
    assert cfg.env == "two_room" and cfg.action_mean == (0.5, -0.5) and cfg.action_std == (2.0, 1.0)
    _, cfg, _ = official.load_official(release[0], frameskip=5, device=torch.device("cpu"))
    assert cfg.env == "pusht" and cfg.action_mean == () and cfg.action_std == ()


def test_is_official_refuses_a_non_path():
    with pytest.raises(TypeError, match=r"is_official: path must be a checkpoint file or folder"):
        official.is_official(None)


def test_int64_weight_is_refused_naming_the_key(tmp_path, release):
    _, sd, cfg = release
    sd = dict(sd)
    sd["predictor.transformer.norm.weight"] = sd["predictor.transformer.norm.weight"].long()
    folder = _write_release(tmp_path / "int64", sd, cfg)
    with pytest.raises(CheckpointError, match=r"weights\.pt: weight 'predictor\.transformer\.norm\.weight' is "
                                              r"stored as torch\.int64 but the model's is torch\.float32"):
        checkpoint.load(folder)
    sd["predictor.transformer.norm.weight"] = sd["predictor.transformer.norm.weight"].half()  # fp16: widened
    with pytest.warns(UserWarning):
        checkpoint.load(_write_release(tmp_path / "fp16", sd, cfg))


def test_foreign_files_named_weights_pt_say_what_they_are(tmp_path, syn_h5):
    import shutil
    (tmp_path / "h5").mkdir()
    shutil.copy(syn_h5, tmp_path / "h5" / "weights.pt")  # an HDF5 dataset renamed
    with pytest.raises(CheckpointError, match=r"h5/weights\.pt: not a torch weights file, it is an HDF5") as e:
        checkpoint.load(str(tmp_path / "h5"))
    assert "weights_only" not in str(e.value)
    # a lab checkpoint copied as weights.pt: said so, and how to open it
    lab = get_preset("cpu-tiny")
    (tmp_path / "lab").mkdir()
    checkpoint.save(str(tmp_path / "lab" / "weights.pt"), LeWM(lab.model), lab)
    for p in (tmp_path / "lab", tmp_path / "lab" / "weights.pt"):
        with pytest.raises(CheckpointError, match=r"lab/weights\.pt: is a lab checkpoint .*open it with "
                                                  r"lewm\.checkpoint\.load"):
            checkpoint.load(str(p))
    # a pickle of other Python objects: no weights_only=False advice
    (tmp_path / "obj").mkdir()
    import argparse
    torch.save({"a": argparse.Namespace(x=1)}, tmp_path / "obj" / "weights.pt")
    with pytest.raises(CheckpointError, match=r"obj/weights\.pt: not official LeWM weights") as e:
        checkpoint.load(str(tmp_path / "obj"))
    assert "weights_only" not in str(e.value)


def test_dangling_link_and_fifo_config_are_named(tmp_path, release):
    _, sd, cfg = release
    (tmp_path / "dang").mkdir()
    os.symlink(tmp_path / "nowhere.pt", tmp_path / "dang" / "weights.pt")
    for p in (tmp_path / "dang", tmp_path / "dang" / "weights.pt"):
        with pytest.raises(CheckpointError, match=r"dang/weights\.pt: is a symbolic link to .*nowhere\.pt, which "
                                                  r"does not exist"):
            checkpoint.load(str(p))
    folder = tmp_path / "fifo"
    folder.mkdir()
    torch.save(sd, folder / "weights.pt")
    os.mkfifo(folder / "config.json")  # reading it would block for ever
    assert official.is_official(str(folder)) and official.is_official(str(folder / "weights.pt"))
    with pytest.raises(CheckpointError, match=r"fifo/config\.json: is a named pipe \(FIFO\)"):
        checkpoint.load(str(folder))
    other = folder / "other.pt"
    torch.save(sd, other)
    assert not official.is_official(str(other))  # does not open the pipe


@pytest.mark.parametrize("block,key,value,match", [
    ("predictor", "num_frames", "three", r"config\.json predictor\.num_frames must be a whole number, got 'three'"),
    ("predictor", "heads", 1.5, r"config\.json predictor\.heads must be a whole number, got 1\.5"),
    ("predictor", "dropout", "x", r"config\.json predictor\.dropout must be a finite number"),
    ("encoder", "size", ["tiny"], r"config encoder\.size .* is not one of"),
])
def test_config_json_values_of_the_wrong_type_name_file_and_field(tmp_path, release, block, key, value, match):
    _, sd, cfg = release
    cfg = json.loads(json.dumps(cfg))
    cfg[block][key] = value
    folder = _write_release(tmp_path / "cfg", sd, cfg)
    with pytest.raises(CheckpointError, match=str(tmp_path / "cfg").replace(".", r"\.") + ": " + match):
        official.load_official(folder, frameskip=5)


def test_config_json_not_an_object_is_refused(tmp_path, release):
    folder = _write_release(tmp_path / "list", release[1], [1, 2])
    with pytest.raises(CheckpointError, match=r"list: config\.json must hold a JSON object"):
        official.load_official(folder, frameskip=5)
