"""Reliability round 11 (/work/runs/s16/round11/report.md), the Python API of lewm.data, lewm.metrics,
lewm.loss, lewm.runs and lewm.config: every hostile argument or file is one clear line naming the
argument, attribute or file (a ValueError / TypeError), raised before any work; no hang; valid calls
still work."""
import os
import shutil

import h5py
import numpy as np
import pytest
import torch

from lewm import runs
from lewm.config import apply_set_overrides, changed_settings, follow_data_image_size, get_preset
from lewm.data import DataError, WindowDataset, batch_iterator, validate_file
from lewm.loss import lewm_loss
from lewm.metrics import covariance_spectrum, effective_rank
from lewm.model import LeWM

CFG = get_preset("cpu-tiny")


@pytest.fixture(scope="module")
def ds(syn_h5):
    return WindowDataset(syn_h5, 2, 5)


def _variant(syn_h5, tmp_path, edit) -> str:
    p = str(tmp_path / "v.h5")
    shutil.copy(syn_h5, p)
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


# ------------------------------------------------------------------------------------------ lewm.data
def test_ds19_a_batch_larger_than_the_windows_is_refused_at_once(ds):
    gen = torch.Generator()
    with pytest.raises(ValueError, match=rf"^batch_iterator: batch_size 1000000 is larger than the {len(ds)} "
                                         r"windows of .*syn\.h5"):
        next(iter(batch_iterator(ds, 10**6, gen)))
    assert next(batch_iterator(ds, len(ds), gen))["pixels"].shape[0] == len(ds)  # all of them: fine
    assert next(batch_iterator(ds, 4, gen))["actions"].shape[:2] == (4, 2)


@pytest.mark.parametrize("call,exc,words", [
    (lambda ds: batch_iterator([1, 2, 3], 2, torch.Generator()), TypeError, r"^batch_iterator: ds must be a WindowDataset, got list"),
    (lambda ds: batch_iterator(ds, 2, 5), TypeError, r"^batch_iterator: generator must be a torch.Generator"),
    (lambda ds: WindowDataset(ds.path, 2, 5, share=5), TypeError, r"^WindowDataset: share must be a WindowDataset"),
    (lambda ds: WindowDataset(ds.path, 2, 5, val_fraction="0.1"), TypeError, r"^WindowDataset: val_fraction must be a number in \[0, 1\), got '0.1'"),
    (lambda ds: WindowDataset(ds.path, 2, 5, val_fraction=float("nan")), ValueError, r"^WindowDataset: val_fraction must be in \[0, 1\), got nan"),
    (lambda ds: WindowDataset(ds.path, 2, 5, max_ram_bytes=-5), ValueError, r"^WindowDataset: max_ram_bytes must be a number of bytes >= 0, got -5"),
    (lambda ds: WindowDataset(ds.path, 2, 5, max_ram_bytes="1"), TypeError, r"max_ram_bytes must be a number"),
    (lambda ds: ds[1.5], TypeError, r"^WindowDataset\[i\]: i must be a whole number \(a window index\), got 1.5"),
    (lambda ds: ds[True], TypeError, r"^WindowDataset\[i\]: i must be a whole number"),
])
def test_ds20_ds8_ds11_ds15_ds3_bad_arguments(ds, call, exc, words):
    with pytest.raises(exc, match=words):
        it = call(ds)
        next(iter(it))


def test_ds9_share_of_another_file_is_refused(ds, syn_h5, tmp_path):
    other = str(tmp_path / "other.h5")
    shutil.copy(syn_h5, other)
    for path in (other, str(tmp_path / "nonexistent.h5")):
        with pytest.raises(ValueError, match=rf"^WindowDataset: share is a dataset of .*syn\.h5, not of {path}"):
            WindowDataset(path, 2, 5, share=ds)
    # the same file, another spelling (as train does for its validation split): shared, nothing read
    val = WindowDataset(os.path.join(os.path.dirname(syn_h5), ".", os.path.basename(syn_h5)), 3, 5, split="val",
                        share=ds)
    assert val._ram is ds._ram and len(val) > 0
    assert ds[0]["pixels"].shape == ds[np.int64(0)]["pixels"].shape == ds[torch.tensor(0)]["pixels"].shape
    assert len(WindowDataset(other, 2, 5, val_fraction=0.25, max_ram_bytes=0)) > 0  # streamed: valid


@pytest.mark.parametrize("attr,value,words", [
    ("image_size", 64, r"attribute 'image_size' is 64 but the image side of key 'pixels' is 32"),
    ("image_size", "32", r"attribute 'image_size' must be a whole number \(the image side of key 'pixels': 32\), got '32'"),
    ("action_dim", 5, r"attribute 'action_dim' is 5 but the width of key 'action' is 2"),
    ("state_dim", 3, r"attribute 'state_dim' is 3 but the width of key 'state' is 2"),
    ("state_names", "x,x", r"attribute 'state_names' names 'x' twice"),
])
def test_h5_attributes_that_contradict_the_data_are_refused(syn_h5, tmp_path, attr, value, words):
    p = _variant(syn_h5, tmp_path, lambda f: f.attrs.__setitem__(attr, value))
    before = open(p, "rb").read()
    for call in (lambda: validate_file(p), lambda: WindowDataset(p, 2, 5)):
        with pytest.raises(DataError, match=rf"^{p}: {words}"):
            call()
    assert open(p, "rb").read() == before  # read only


def test_h5_attributes_that_agree_pass(syn_h5, tmp_path):
    p = _variant(syn_h5, tmp_path, lambda f: f.attrs.update({"image_size": np.int64(32), "action_dim": 2,
                                                             "state_dim": np.array([2]), "state_names": "x,y"}))
    info = validate_file(p)
    assert info["image_size"] == 32 and info["action_dim"] == 2 and info["state_names"] == ("x", "y")


# ------------------------------------------------------------------------------------------ metrics / loss
@pytest.mark.parametrize("call,exc,words", [
    (lambda z: effective_rank(z, eps=-1), ValueError, r"^effective_rank\(eps=\.\.\.\) must be a finite number > 0, got -1"),
    (lambda z: effective_rank(z, eps=float("nan")), ValueError, r"^effective_rank\(eps=\.\.\.\) must be a finite number > 0"),
    (lambda z: effective_rank(z, eps="1"), TypeError, r"^effective_rank\(eps=\.\.\.\) must be a number"),
    (lambda z: covariance_spectrum(z, centered="no"), TypeError, r"^covariance_spectrum\(centered=\.\.\.\) must be True or False, got 'no'"),
    (lambda z: effective_rank(z, centered=1), TypeError, r"^effective_rank\(centered=\.\.\.\) must be True or False"),
])
def test_me3_me4_me10_metric_arguments(call, exc, words):
    with pytest.raises(exc, match=words):
        call(torch.randn(5, 4))
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    assert 1.0 <= effective_rank(z, eps=1e-9, centered=False) <= 4.0
    assert covariance_spectrum(z, centered=True).shape == (4,)


def test_lo4_lo6_lo9_loss_arguments(ds):
    torch.manual_seed(0)
    model = LeWM(CFG.model)
    b = next(batch_iterator(ds, 4, torch.Generator().manual_seed(1)))
    for call, exc, words in [
        (lambda: lewm_loss(model, b, CFG, generator=5), TypeError, r"^lewm_loss\(generator=\.\.\.\) must be a torch.Generator"),
        (lambda: lewm_loss(model, b, None), TypeError, r"^lewm_loss\(cfg=\.\.\.\) must be a LeWMConfig"),
        (lambda: lewm_loss(model, [b["pixels"], b["actions"]], CFG), TypeError,
         r"^lewm_loss\(batch=\.\.\.\) must be a dict with 'pixels' and 'actions'"),
        (lambda: lewm_loss(model, b, CFG, sigreg_fn=3), TypeError, r"^lewm_loss\(sigreg_fn=\.\.\.\) must be a function"),
    ]:
        with pytest.raises(exc, match=words):
            call()
    loss, pred, sig, z = lewm_loss(model, b, CFG, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(loss) and z.shape[:2] == (4, 3)


# ------------------------------------------------------------------------------------------ lewm.runs
def test_ru2_ru3_ru9_ru14_ru16_runs_arguments(syn_h5, tmp_path):
    for call, exc, words in [
        (lambda: runs.slugify("a" * 10, -3), ValueError, r"^slugify\(max_len=\.\.\.\) must be a whole number >= 1, got -3"),
        (lambda: runs.slugify("a", 2.5), TypeError, r"^slugify\(max_len=\.\.\.\)"),
        (lambda: runs.slugify(None), TypeError, r"^slugify\(text=\.\.\.\) must be a string, got None"),
        (lambda: runs.unique_file(""), ValueError, r"^unique_file\(path=\.\.\.\) is empty"),
        (lambda: runs.unique_file(None), TypeError, r"^unique_file\(path=\.\.\.\) must be a path"),
        (lambda: runs.read_metrics(syn_h5), ValueError, rf"^read_metrics\(out_dir=\.\.\.\) must be a run folder, got {syn_h5} \(an HDF5"),
        (lambda: runs.file_kind(None), TypeError, r"^file_kind\(path=\.\.\.\) must be a path \(a string\), got None"),
        (lambda: runs.file_kind(0), TypeError, r"^file_kind\(path=\.\.\.\)"),  # an fd: never opened (nor closed)
    ]:
        with pytest.raises(exc, match=words):
            call()
    assert runs.slugify("My run!", 3) == "My-" and runs.file_kind(syn_h5) == runs.DATASET
    assert runs.unique_file(str(tmp_path / "x.h5")) == str(tmp_path / "x.h5")
    assert runs.read_metrics(str(tmp_path / "nope")) == {} and runs.read_metrics(tmp_path) == {}
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    assert list(runs.read_metrics(str(tmp_path))["loss"]) == [0.5]


# ------------------------------------------------------------------------------------------ lewm.config
@pytest.mark.parametrize("call,exc,words", [
    (lambda: apply_set_overrides(CFG, [5]), TypeError, r"^apply_set_overrides\(items=\.\.\.\): each --set item must be a string"),
    (lambda: apply_set_overrides(CFG, "model.history=1"), TypeError, r"^apply_set_overrides\(items=\.\.\.\) must be a list"),
    (lambda: changed_settings(CFG, None), TypeError, r"^changed_settings\(new=\.\.\.\) must be a LeWMConfig, got NoneType"),
    (lambda: changed_settings(CFG.to_dict(), CFG), TypeError, r"^changed_settings\(saved=\.\.\.\) must be a LeWMConfig, got dict"),
    (lambda: get_preset(["cpu-tiny"]), TypeError, r"^get_preset\(name=\.\.\.\) must be a preset name .*'cpu-tiny'"),
    (lambda: follow_data_image_size(CFG, "abc", "x.h5"), TypeError, r"^follow_data_image_size\(image_size=\.\.\.\) .*x\.h5.*'abc'"),
    (lambda: follow_data_image_size(CFG, 0, "x.h5"), ValueError, r"^follow_data_image_size\(image_size=\.\.\.\) must be"),
    (lambda: CFG.with_overrides(model={"nope": 1}), ValueError, r"config section 'model' has unknown field\(s\) \['nope'\]"),
    (lambda: CFG.with_overrides(env={"nope": 1}), ValueError, r"'env' is a value, not a section"),
])
def test_cfg_bad_arguments(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_cfg_valid_calls_still_work():
    assert apply_set_overrides(CFG, ["model.history=1"]).model.history == 1
    assert apply_set_overrides(CFG, ("train.lr=0.001",)).train.lr == 0.001 and apply_set_overrides(CFG, None) is CFG
    assert changed_settings(CFG, CFG.with_overrides(train={"lr": 1e-3})) == ["train.lr 0.002 -> 0.001"]
    cfg, note = follow_data_image_size(CFG, np.int64(64), "x.h5")
    assert cfg.model.image_size == 64 and "x.h5" in note
    assert follow_data_image_size(CFG, 32, "x.h5") == (CFG, None)
    assert CFG.with_overrides(model={"history": 1}, env="two_room").model.history == 1
    assert get_preset("cpu-tiny") is CFG
