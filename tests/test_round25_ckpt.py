"""Round 25: checkpoints that are plausible but foreign (docs/reliability_round25.md, roots R6, R9-R14).

Accepted: a config / metrics stored as a dict, weights named with ``module.`` / ``_orig_mod.``, fp16 / bf16 / fp64
weights. Refused in one line that says what the file is and what to do: a bare state_dict, a whole pickled module, a
Lightning checkpoint, safetensors, gzip, a zip of other files, a newer lab's config or version, a release folder with
a file missing; ``--init`` with data of another image or action size names the data."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zipfile

import h5py
import numpy as np
import pytest
import torch

from _cli_errors import one_error_line
from lewm import checkpoint
from lewm.cli import main
from lewm.config import get_preset
from lewm.model import LeWM


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A cpu-tiny checkpoint of 32-px, 2-D-action data (step 1, no optimizer) and its raw dict."""
    d = tmp_path_factory.mktemp("ck")
    cfg = get_preset("cpu-tiny").with_overrides(model={"image_size": 32})
    torch.manual_seed(0)
    path = checkpoint.save(str(d / "last.pt"), LeWM(cfg.model), cfg, step=1)
    return path, torch.load(path, weights_only=True)


def _edited(lab, tmp_path, name, edit) -> str:
    blob = dict(lab[1])
    edit(blob)
    p = str(tmp_path / name)
    torch.save(blob, p)
    return p


def _export_fails(path, tmp_path, capsys) -> str:
    before = _sha(path) if os.path.isfile(path) else None
    rc = main(["export", "--checkpoint", path, "--out", str(tmp_path / "x.pt")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and not os.path.exists(tmp_path / "x.pt"), line
    assert before is None or _sha(path) == before
    return line


# -- R9: foreign torch files say what they are -----------------------------------------------------------------------
def test_r9_bare_state_dicts(lab, tmp_path, capsys):
    sd = lab[1]["state_dict"]
    p = str(tmp_path / "sd.pt")
    torch.save({"module." + k: v for k, v in sd.items()}, p)
    line = _export_fails(p, tmp_path, capsys)  # was: "not a LeWM checkpoint (no 'lewm-checkpoint' header)" only
    assert f"a bare state_dict of {len(sd)} weights (names prefixed 'module.') without a config" in line
    assert "lewm.checkpoint.save(path, model, cfg)" in line


def test_r9_a_whole_pickled_module_names_its_class(lab, tmp_path, capsys):
    model, _, _ = checkpoint.load(lab[0])
    p = str(tmp_path / "module.pt")
    torch.save(model, p)
    line = _export_fails(p, tmp_path, capsys)  # was: "(a file of another program)"
    assert "a whole pickled module (lewm.model.LeWM, torch.save(model))" in line and "never unpickled" in line


def test_r9_lightning_list_tensor(lab, tmp_path, capsys):
    p = str(tmp_path / "l.ckpt")
    torch.save({"state_dict": {"model." + k: v for k, v in lab[1]["state_dict"].items()}, "global_step": 3,
                "pytorch-lightning_version": "2.1.0"}, p)
    assert "a PyTorch Lightning checkpoint" in _export_fails(p, tmp_path, capsys)
    torch.save([1, 2], str(tmp_path / "list.pt"))
    assert "it holds a list of 2 items" in _export_fails(str(tmp_path / "list.pt"), tmp_path, capsys)


def test_r9_safetensors_gzip_and_a_plain_zip(lab, tmp_path, capsys):
    st = pytest.importorskip("safetensors.torch")
    p = str(tmp_path / "model.safetensors")
    st.save_file({k: v.contiguous() for k, v in lab[1]["state_dict"].items()}, p)
    line = _export_fails(p, tmp_path, capsys)  # was: "a binary file of unknown kind"
    assert "a safetensors file (weights only, no config)" in line and "torch.save(s.load_file(" in line
    g = str(tmp_path / "last.pt.gz")
    with open(lab[0], "rb") as a, gzip.open(g, "wb") as b:
        b.write(a.read())
    assert "a gzip-compressed file; decompress it first" in _export_fails(g, tmp_path, capsys)
    z = str(tmp_path / "z.pt")
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("notes.txt", "hi")
    line = _export_fails(z, tmp_path, capsys)  # was: "[enforce fail at inline_container.cc:180] ..."
    assert "a zip archive of 1 file(s) (notes.txt), not a torch checkpoint" in line and "enforce fail" not in line


# -- R10: entries stored another way, or missing ---------------------------------------------------------------------
def test_r10_config_and_metrics_as_dicts_are_read(lab, tmp_path):
    def as_dicts(b):
        b["config"] = json.loads(b["config"])
        b["metrics"] = {"loss": 0.5}
    p = _edited(lab, tmp_path, "dicts.pt", as_dicts)
    model, cfg, meta = checkpoint.load(p)  # was: "the JSON object must be str ... not dict" / "not a JSON object"
    assert cfg == checkpoint.load(lab[0])[1] and meta["metrics"] == {"loss": 0.5}


@pytest.mark.parametrize("edit,words", [
    (lambda b: b.pop("config"), "has no 'config' entry"),  # was: "its config cannot be read: 'config'"
    (lambda b: b.pop("version"), "no 'version' entry"),  # was: "checkpoint version None is not supported"
    (lambda b: b.__setitem__("version", 2), "written by a newer lewm"),
    (lambda b: b.pop("format"), "it has the lab's entries (config, state_dict ...) but not its 'format' header"),
])
def test_r10_missing_or_newer_entries_are_named(edit, words, lab, tmp_path, capsys):
    assert words in _export_fails(_edited(lab, tmp_path, "e.pt", edit), tmp_path, capsys)


# -- R11: wrapper prefixes accepted; a wrong shape named -------------------------------------------------------------
@pytest.mark.parametrize("rename", [lambda k: "module." + k,
                                    lambda k: k.replace("encoder.", "encoder._orig_mod.", 1)])
def test_r11_ddp_and_compile_prefixes_are_removed(rename, lab, tmp_path):
    p = _edited(lab, tmp_path, "w.pt", lambda b: b.__setitem__("state_dict", {rename(k): v for k, v in
                                                                              b["state_dict"].items()}))
    got = checkpoint.load(p)[0].state_dict()  # was: a 300-character list of missing keys
    for k, v in checkpoint.load(lab[0])[0].state_dict().items():
        assert torch.equal(got[k], v), k


def test_r11_wrong_shape_names_the_weight(lab, tmp_path, capsys):
    def grow(b):
        sd = dict(b["state_dict"])
        k = next(k for k, v in sd.items() if v.ndim == 2)
        sd[k] = torch.zeros(sd[k].shape[0] + 1, sd[k].shape[1])
        b["state_dict"] = sd
    line = _export_fails(_edited(lab, tmp_path, "s.pt", grow), tmp_path, capsys)
    assert "in the file but" in line and "in the architecture its config describes" in line
    assert "Error(s) in loading state_dict" not in line


def test_r11_a_missing_batchnorm_counter_still_loads(lab, tmp_path):
    """torch fills a missing ``num_batches_tracked`` (older BatchNorm files): the first-difference check must too."""
    p = _edited(lab, tmp_path, "nbt.pt", lambda b: b.__setitem__("state_dict", {
        k: v for k, v in b["state_dict"].items() if not k.endswith("num_batches_tracked")}))
    assert checkpoint.load(p)[0] is not None


def test_r11_an_unknown_weight_is_named(lab, tmp_path, capsys):
    p = _edited(lab, tmp_path, "ema.pt", lambda b: b.__setitem__("state_dict", {**b["state_dict"], "ema.w": torch.ones(2)}))
    assert "1 unknown (first 'ema.w')" in _export_fails(p, tmp_path, capsys)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_r11_other_float_widths_load_as_fp32(dtype, lab, tmp_path):
    p = _edited(lab, tmp_path, "d.pt", lambda b: b.__setitem__("state_dict", {
        k: v.to(dtype) if v.is_floating_point() else v for k, v in b["state_dict"].items()}))
    m = checkpoint.load(p)[0]
    assert all(v.dtype == torch.float32 for v in m.state_dict().values() if v.is_floating_point())


# -- R12: a newer lab's config field ---------------------------------------------------------------------------------
def test_r12_unknown_config_field_says_update(lab, tmp_path, capsys):
    def newer(b):
        c = json.loads(b["config"])
        c["model"]["new_field_v9"] = 3
        b["config"] = json.dumps(c)
    line = _export_fails(_edited(lab, tmp_path, "n.pt", newer), tmp_path, capsys)
    assert "unknown field(s) ['new_field_v9']" in line and "written by a newer lewm? update lewm" in line


# -- R13: release folders with a file missing ------------------------------------------------------------------------
def test_r13_folders_say_what_is_missing(lab, tmp_path, capsys):
    only_cfg = tmp_path / "rel"
    only_cfg.mkdir()
    (only_cfg / "config.json").write_text(json.dumps({"_target_": "stable_worldmodel.wm.lewm.JEPA"}))
    line = _export_fails(str(only_cfg), tmp_path, capsys)  # was: "a folder with no last.pt or model.pt inside"
    assert "holds config.json but no weights.pt" in line
    (only_cfg / "model.safetensors").write_bytes(b"x")
    assert "holds config.json and model.safetensors but no weights.pt" in _export_fails(str(only_cfg), tmp_path, capsys)
    nest = tmp_path / "nest" / "pusht"
    nest.mkdir(parents=True)
    shutil.copy(lab[0], nest / "model.pt")
    line = _export_fails(str(tmp_path / "nest"), tmp_path, capsys)
    assert "its subfolder(s) pusht hold one: pass it" in line


# -- R6: --init with data of another image size or action size -------------------------------------------------------
@pytest.fixture
def small_h5(syn_h5, tmp_path):
    def make(name, **edits):
        with h5py.File(syn_h5, "r") as f:
            data, attrs = {k: f[k][:] for k in f}, dict(f.attrs)
        data.update(edits)
        p = str(tmp_path / name)
        with h5py.File(p, "w") as f:
            for k, v in data.items():
                f[k] = v
            for k, v in attrs.items():
                if k not in ("image_size", "action_dim"):
                    f.attrs[k] = v
        return p
    return make


@pytest.mark.parametrize("what,edit,words", [
    ("image", lambda d: {"pixels": np.ascontiguousarray(d["pixels"][:, ::2, ::2])},
     "was trained on images of 32x32 pixels (key 'pixels') but --data"),
    ("action", lambda d: {"action": np.concatenate([d["action"], d["action"][:, :1]], 1)},
     "was trained on 2-dim actions (key 'action') but --data"),
])
def test_r6_init_blames_the_data_not_the_flags(what, edit, words, lab, small_h5, syn_h5, tmp_path, capsys):
    with h5py.File(syn_h5, "r") as f:
        d = {"pixels": f["pixels"][:], "action": f["action"][:]}
    p = small_h5(f"{what}.h5", **edit(d))
    before = _sha(lab[0])
    rc = main(["train", "--data", p, "--init", lab[0], "--preset", "cpu-tiny", "--out", str(tmp_path / "run"),
               "--steps", "3", "--threads", "1"])
    line = one_error_line(capsys.readouterr().err)  # was: "pass the same --preset / --latent-dim ..."
    assert rc == 2 and words in line and p in line and "--preset" not in line and _sha(lab[0]) == before


def test_r14_init_from_a_release_folder_is_read_by_train(syn_h5, tmp_path, capsys):
    """An official folder as --init was refused as "a folder with no last.pt or model.pt inside" by the CLI's own
    read; now train() loads it (here its architecture is not the preset's: named, field by field)."""
    from test_official import _official_config, _source_model, _tiny_model_cfg, _write_release
    mc = _tiny_model_cfg()
    rel = _write_release(tmp_path / "lewm-synthetic_dot", dict(_source_model(mc).state_dict()), _official_config(mc))
    rc = main(["train", "--data", syn_h5, "--init", rel, "--preset", "cpu-tiny", "--out", str(tmp_path / "r"),
               "--steps", "3", "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "a folder with no last.pt" not in err and "Traceback" not in err
    assert f"{rel}: holds a different architecture than the requested one (latent_dim 32 (asked" in err


def test_eval_names_the_checkpoint_whose_env_has_no_simulator(lab, tmp_path, capsys):
    """An official Cube checkpoint (an env this lab cannot simulate) was "unknown environment 'cube'", no file."""
    def cube(b):
        c = json.loads(b["config"])
        c["env"] = "cube"
        b["config"] = json.dumps(c)
    p = _edited(lab, tmp_path, "cube.pt", cube)
    rc = main(["eval", "--checkpoint", p, "--episodes", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and f"{p}: unknown environment 'cube'" in line and "the environment its config records" in line
