"""Round 23 (hostile API test), the core library: model, data, checkpoint, config, loss, validate (P1-P10, P29-P31)."""
from __future__ import annotations

import copy
import fractions
import json
import shutil
import warnings

import h5py
import numpy as np
import pytest
import torch

from lewm import checkpoint, validate
from lewm.config import get_preset
from lewm.data import ActionStats, DataError, WindowDataset, action_stats_of
from lewm.loss import lewm_loss
from lewm.model import LeWM

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cfg():
    return get_preset("cpu-tiny")


@pytest.fixture(scope="module")
def model(cfg):
    torch.manual_seed(0)
    return LeWM(cfg.model).eval()


# P1 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,kind", [("whole", "LeWMConfig"), (None, "NoneType"), ("dict", "dict")])
def test_p1_lewm_takes_a_model_config(cfg, bad, kind):
    arg = {"whole": cfg, "dict": dict(cfg.model.__dict__)}.get(bad, bad)
    with pytest.raises(TypeError, match=rf"^LeWM\(cfg=\.\.\.\) must be a ModelConfig .*got {kind}$"):
        LeWM(arg)
    with pytest.raises(TypeError, match=r"\(e\.g\. cfg\.model\)"):
        LeWM(cfg)


# P2 ---------------------------------------------------------------------------------------------
def test_p2_train_mode_with_one_frame_is_one_line(model, cfg):
    m = copy.deepcopy(model).train()
    K = cfg.model.action_block_dim
    px = torch.randint(0, 256, (1, 1, 3, 32, 32), dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"^encode: pixels of shape \(1, 1, 3, 32, 32\) gives B\*T = 1 frame; in "
                                         r"train mode .* at least 2 frames .*model\.eval\(\)"):
        m.encode(px)
    z = torch.zeros(1, 1, cfg.model.latent_dim)
    with pytest.raises(ValueError, match=r"^predict: z of shape .* gives B\*T = 1 frame; in train mode"):
        m.predict(z, torch.zeros(1, 1, K))
    with pytest.raises(ValueError, match=r"^rollout: z_hist of shape .* gives B\*T = 1 frame; in train mode"):
        m.rollout(z, torch.ones(1, 2, K))
    # two frames, or eval mode, work as before
    assert m.encode(torch.cat([px, px], 1)).shape == (1, 2, cfg.model.latent_dim)
    assert copy.deepcopy(model).eval().encode(px).shape == (1, 1, cfg.model.latent_dim)


# P3 / P5 / P10 ------------------------------------------------------------------------------------
def test_p3_streaming_empty_batch_equals_in_ram(syn_h5):
    ram = WindowDataset(syn_h5, 2, 5, split="all")
    stream = WindowDataset(syn_h5, 2, 5, split="all", max_ram_bytes=0)
    assert ram.in_memory and not stream.in_memory
    empty = np.array([], dtype=np.int64)
    a, b = ram.get_batch(empty), stream.get_batch(empty)
    assert set(a) == set(b)
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and a[k].shape[0] == 0
    idx = np.array([0, 3])
    for k, v in ram.get_batch(idx).items():
        assert torch.equal(v, stream.get_batch(idx)[k])


def test_p5_streaming_window_of_a_shortened_file_is_refused(syn_h5, tmp_path):
    path = str(tmp_path / "d3.h5")
    shutil.copy(syn_h5, path)
    ds = WindowDataset(path, 2, 5, split="all", max_ram_bytes=0)
    last = len(ds) - 1
    n_before = ds[last]["pixels"].shape[0]
    assert n_before == 3
    ds._f.close()
    ds._f = None
    with h5py.File(path, "a") as f:  # half the pixel rows, as a second process rewriting the file would
        px = f["pixels"][: len(f["pixels"]) // 2]
        del f["pixels"]
        f["pixels"] = px
    # round 28 (W3): the streamed file is checked against the one the dataset was made on before any read, so the
    # rewrite is named first (was: "key 'pixels' gave 0 row(s) for the window at row N, expected 3; the file was
    # shortened or replaced", when the shortened rows were read)
    with pytest.raises(DataError, match=rf"^{path}: changed while the training read it \(it was written to"):
        ds[last]


def test_p10_split_beside_episodes_is_refused(syn_h5):
    with pytest.raises(ValueError, match=r"^WindowDataset: pass split or episodes, not both .*split='val'"):
        WindowDataset(syn_h5, 1, 5, split="val", episodes=[0, 1])
    a = WindowDataset(syn_h5, 1, 5, episodes=[0, 1])
    b = WindowDataset(syn_h5, 1, 5, split="all", episodes=[0, 1])
    assert a.episodes.tolist() == b.episodes.tolist() == [0, 1]
    assert WindowDataset(syn_h5, 1, 5).episodes.tolist() == WindowDataset(syn_h5, 1, 5, split="train").episodes.tolist()
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'all', got 'x'"):
        WindowDataset(syn_h5, 1, 5, split="x")


# P4 / P9 ------------------------------------------------------------------------------------------
def test_p4_action_stats_use_the_config_bounds(syn_h5):
    with pytest.raises(ValueError, match=r"^ActionStats: action_std must be in \[1e-07, 1e\+06\] in every dimension"):
        ActionStats(np.zeros(2), np.full(2, 1e-30))
    with pytest.raises(ValueError, match=r"^ActionStats: action_mean must be within \+-1e\+06"):
        ActionStats(np.full(2, 1e30), np.ones(2))
    st = ActionStats(np.zeros(2), np.full(2, 1e-6))  # a constant action's floor is fine
    assert np.allclose(st.normalize(np.ones((1, 2))), 1e6)
    # the config's message is unchanged
    with pytest.raises(ValueError, match=r"^action_std must be in \[1e-07, 1e\+06\]"):
        get_preset("cpu-tiny").with_overrides(action_mean=(0.0, 0.0), action_std=(1e-30, 1.0))


@pytest.mark.parametrize("over,words", [({"action_mean": (0.5, 0.5)}, "action_mean has 2 number(s) but action_std is empty"),
                                        ({"action_std": (2.0, 2.0)}, "action_std has 2 number(s) but action_mean is empty")])
def test_p9_half_of_the_action_stats_is_refused(over, words):
    with pytest.raises(ValueError, match="^" + words.replace("(", r"\(").replace(")", r"\)") + "; give both"):
        get_preset("cpu-tiny").with_overrides(**over)
    ok = get_preset("cpu-tiny").with_overrides(action_mean=(0.5, 0.5), action_std=(2.0, 2.0))
    st = action_stats_of(ok)
    assert st.mean.tolist() == [0.5, 0.5] and st.std.tolist() == [2.0, 2.0]


# P6 ---------------------------------------------------------------------------------------------
def test_p6_fraction_is_stored_as_float(model, cfg, tmp_path):
    c = cfg.with_overrides(train={"weight_decay": fractions.Fraction(1, 1000)})
    assert type(c.train.weight_decay) is float and c.train.weight_decay == 0.001
    json.dumps(c.to_dict())
    path = checkpoint.save(str(tmp_path / "x.pt"), model, c)
    assert checkpoint.load(path)[1].train.weight_decay == 0.001
    with pytest.raises(ValueError, match=r"^train\.weight_decay must be a finite number, got Fraction"):
        cfg.with_overrides(train={"weight_decay": fractions.Fraction(10**400, 1)})
    with pytest.raises(ValueError, match=r"^train\.batch_size must be a whole number, got Fraction"):
        cfg.with_overrides(train={"batch_size": fractions.Fraction(8, 1)})
    assert cfg.with_overrides(train={"batch_size": np.int64(8)}).train.batch_size == 8


# P7 / P8 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x.h5", "x.HDF5"])
def test_p7_checkpoint_under_a_dataset_name_is_refused(model, cfg, tmp_path, name):
    p = tmp_path / name
    with pytest.raises(ValueError, match=rf"^save: .*{name} has a dataset's extension .*a checkpoint is a \.pt file: "
                                         rf"save it as .*x\.pt$"):
        checkpoint.save(str(p), model, cfg)
    assert not p.exists()


def test_p8_fp16_underflow_warns(model, cfg, tmp_path):
    mm = copy.deepcopy(model)
    mm.encoder.embeddings.cls_token.data.fill_(1e-8)
    with pytest.warns(UserWarning, match=r"save\(half=True\): weight 'encoder\.embeddings\.cls_token' is too small "
                                         r"for fp16: all its values are below fp16's normal range .*save with half=False"):
        checkpoint.save(str(tmp_path / "uf.pt"), mm, cfg, half=True)
    with warnings.catch_warnings():  # a fresh model exports without a word
        warnings.simplefilter("error")
        checkpoint.save(str(tmp_path / "ok.pt"), model, cfg, half=True)
    sd = checkpoint.load(str(tmp_path / "ok.pt"))[0].state_dict()
    ref = model.state_dict()["encoder.embeddings.cls_token"]
    assert torch.allclose(sd["encoder.embeddings.cls_token"], ref.half().float())


# P29 / P30 --------------------------------------------------------------------------------------
def _batch(T, K, B=4):
    return {"pixels": torch.randint(0, 256, (B, T, 3, 32, 32), dtype=torch.uint8), "actions": torch.zeros(B, T - 1, K)}


def test_p29_loss_refuses_another_models_config(model, cfg):
    m = copy.deepcopy(model).train()
    K = cfg.model.action_block_dim
    with pytest.raises(ValueError, match=r"^lewm_loss\(cfg=\.\.\.\) is not the model's config: .*model\.\w+ .* vs "):
        lewm_loss(m, _batch(2, K), get_preset("cpu-small"))
    loss = lewm_loss(m, _batch(2, K), cfg.with_overrides(sigreg={"weight": 0.5}))[0]  # only the loss settings differ
    assert torch.isfinite(loss)


def test_p30_loss_names_a_window_longer_than_history(model, cfg):
    m = copy.deepcopy(model).train()
    H, K = cfg.model.history, cfg.model.action_block_dim
    with pytest.raises(ValueError, match=rf"^lewm_loss: the batch's windows are {H + 2} frames .*model\.history {H} "
                                         rf"takes windows of at most {H + 1} \(history \+ 1\)$"):
        lewm_loss(m, _batch(H + 2, K), cfg)


# P31 --------------------------------------------------------------------------------------------
def test_p31_check_train_memory_names_its_arguments(cfg):
    with pytest.raises(TypeError, match=r"^check_train_memory\(cfg=\.\.\.\) must be a LeWMConfig .*got NoneType$"):
        validate.check_train_memory(None, torch.device("cpu"))
    with pytest.raises(TypeError, match=r"^check_train_memory\(dev=\.\.\.\) must be a torch\.device .*got NoneType$"):
        validate.check_train_memory(cfg, None)
    assert validate.check_train_memory(cfg, "cpu") == validate.check_train_memory(cfg, torch.device("cpu")) > 0
