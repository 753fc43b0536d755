"""Reliability round 10 (docs/reliability_round10.md), the Python API of lewm.train and lewm.checkpoint:
every hostile argument is one clear line naming the argument (a ValueError / TypeError), refused before
any work or write; what ``load`` refuses, ``save`` refuses before writing; valid calls still work."""
import math
import os
import threading

import pytest
import torch

from lewm import checkpoint, faults
from lewm.checkpoint import CheckpointError
from lewm.config import get_preset
from lewm.data import DataError
from lewm.model import LeWM
from lewm.train import lr_at, train

CFG = get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 8})


@pytest.fixture(scope="module")
def run1(syn_h5, tmp_path_factory):
    """A cpu-tiny run of 2 steps: (its last.pt, the run folder)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = train(CFG, syn_h5, str(tmp_path_factory.mktemp("r10") / "run1"), steps=2, progress=False)
    finally:
        torch.set_num_threads(n)
    return res.checkpoint


@pytest.fixture(scope="module")
def loaded(run1):
    return checkpoint.load(run1)


# ------------------------------------------------------------------------------------------ train
@pytest.mark.parametrize("kw,exc,words", [
    (dict(cfg="dict"), TypeError, r"train\(cfg=\.\.\.\) must be a LeWMConfig, got a dict .*from_dict"),
    (dict(cfg=None), TypeError, r"train\(cfg=\.\.\.\) must be a LeWMConfig, got None"),
    (dict(data=None), TypeError, r"train\(data=\.\.\.\) must be an HDF5 episode file, got None"),
    (dict(data=""), ValueError, r"train\(data=\.\.\.\): no path given"),
    (dict(out=None), TypeError, r"train\(out=\.\.\.\) must be a run folder, got None"),
    (dict(out=""), ValueError, r"train\(out=\.\.\.\): no path given"),
    (dict(out="DATA"), ValueError, r"train\(out=\.\.\.\) .*syn\.h5: is a file, expected a folder"),
    (dict(out="AFILE"), ValueError, r"train\(out=\.\.\.\) .*afile: is a file, expected a folder"),
    (dict(resume="no"), ValueError, r"train\(resume=\.\.\.\) must be true or false, got 'no'"),
    (dict(progress="yes"), ValueError, r"train\(progress=\.\.\.\) must be true or false"),
    (dict(on_step=5), TypeError, r"train\(on_step=\.\.\.\) must be a function taking a StepInfo, or None; got 5"),
    (dict(stop_event=True), TypeError, r"train\(stop_event=\.\.\.\) must have an is_set\(\) method"),
    (dict(pause_event="x"), TypeError, r"train\(pause_event=\.\.\.\) must have an is_set\(\) method"),
    (dict(init=""), ValueError, r"train\(init=\.\.\.\): no path given"),
    (dict(init=3), TypeError, r"train\(init=\.\.\.\) must be a training checkpoint"),
])
def test_round10_train_refuses_bad_arguments_before_any_work(syn_h5, tmp_path, kw, exc, words):
    (tmp_path / "afile").write_text("x")
    args = {"cfg": CFG, "data": syn_h5, "out": str(tmp_path / "run"), "progress": False, "steps": 1}
    for k, v in kw.items():
        args[k] = {"dict": CFG.to_dict(), "DATA": syn_h5, "AFILE": str(tmp_path / "afile")}.get(v, v) \
            if isinstance(v, str) else v
    with pytest.raises(exc, match=words):
        train(args.pop("cfg"), args.pop("data"), args.pop("out"), **args)
    assert not (tmp_path / "run").exists()  # refused before the folder was made
    assert (tmp_path / "afile").read_text() == "x" and os.path.getsize(syn_h5) > 0


def test_round10_train_refuses_a_config_of_another_env_than_the_data(syn_h5, tmp_path):
    with pytest.raises(DataError, match=r"holds 'synthetic_dot' episodes \(attribute 'env'\) but train\(cfg=\.\.\.\) "
                                        r"is for 'pusht'"):
        train(CFG.with_overrides(env="pusht"), syn_h5, str(tmp_path / "run"), steps=1, progress=False)
    assert not (tmp_path / "run").exists()


def test_round10_train_with_the_data_env_and_events_still_runs(syn_h5, tmp_path, one_thread):
    seen = []
    res = train(CFG.with_overrides(env="synthetic_dot"), syn_h5, str(tmp_path / "run"), steps=1, progress=False,
                resume=False, on_step=seen.append, stop_event=threading.Event(), pause_event=threading.Event())
    assert res.step == 1 and len(seen) == 1
    assert checkpoint.load(res.checkpoint)[1].env == "synthetic_dot"


def test_round10_second_training_into_one_folder_is_a_clear_value_error(syn_h5, tmp_path):
    out = str(tmp_path / "run")
    lock = faults.RunLock(out).acquire()  # as another thread of this process would hold it
    try:
        with pytest.raises(faults.RunLocked, match=r"another training of this process .*another thread") as e:
            train(CFG, syn_h5, out, steps=1, progress=False)
        assert isinstance(e.value, ValueError)
    finally:
        lock.release()


@pytest.mark.parametrize("args,exc,words", [
    ((1, None), TypeError, r"lr_at\(cfg=\.\.\.\) must be a TrainConfig .*got None"),
    ((1, CFG), TypeError, r"lr_at\(cfg=\.\.\.\) must be a TrainConfig .*\.train"),
    ((-1, CFG.train), ValueError, r"lr_at\(step=\.\.\.\) must be >= 0, got -1"),
    ((math.nan, CFG.train), ValueError, r"lr_at\(step=\.\.\.\) must be a finite number, got nan"),
    (("3", CFG.train), ValueError, r"lr_at\(step=\.\.\.\) must be a number"),
    ((1, CFG.train, math.nan), ValueError, r"lr_at\(elapsed_s=\.\.\.\) must be a finite number"),
])
def test_round10_lr_at_refuses_bad_arguments(args, exc, words):
    with pytest.raises(exc, match=words):
        lr_at(*args)


def test_round10_lr_at_still_warms_up_and_decays():
    tc = CFG.train
    assert lr_at(0, tc) == pytest.approx(tc.lr / max(tc.warmup_steps, 1))
    assert lr_at(tc.steps, tc) == pytest.approx(tc.lr * tc.min_lr_ratio)
    assert lr_at(2.0, tc, 0.5) > 0


# ------------------------------------------------------------------------------------- checkpoint
def _nan_model(cfg):
    m = LeWM(cfg.model)
    with torch.no_grad():
        next(m.parameters()).fill_(float("nan"))
    return m


def _big_model(cfg):
    m = LeWM(cfg.model)
    with torch.no_grad():
        next(m.parameters()).fill_(1e6)  # beyond fp16
    return m


@pytest.mark.parametrize("case,exc,words", [
    (dict(step=-5), ValueError, r"save\(step=\.\.\.\) must be a whole number >= 0, got -5"),
    (dict(step=2.7), ValueError, r"save\(step=\.\.\.\) must be a whole number, got 2\.7"),
    (dict(metrics=[1, 2]), TypeError, r"save\(metrics=\.\.\.\) must be a dict"),
    (dict(metrics={"loss": torch.tensor(1.)}), TypeError, r"save\(metrics=\.\.\.\)\['loss'\] .*Tensor .*\.item\(\)"),
    (dict(metrics={1: 2.0}), TypeError, r"save\(metrics=\.\.\.\) keys must be strings"),
    (dict(config="OTHER"), ValueError, r"save\(config=\.\.\.\) describes another architecture than save\(model=\.\.\.\)"),
    (dict(config="DICT"), TypeError, r"save\(config=\.\.\.\) must be a LeWMConfig, got a dict"),
    (dict(model=None), TypeError, r"save\(model=\.\.\.\) must be a LeWM model, got None"),
    (dict(model="NAN"), ValueError, r"save\(model=\.\.\.\): weight .* holds NaN/inf .*not saved, load would refuse it"),
    (dict(model="BIG", half=True), ValueError, r"save\(model=\.\.\.\): weight .* NaN/inf once stored as fp16"),
    (dict(optimizer=[1]), TypeError, r"save\(optimizer=\.\.\.\) must be an optimizer's state_dict"),
    (dict(half="yes"), ValueError, r"save\(half=\.\.\.\) must be true or false"),
    (dict(replace="no"), ValueError, r"save\(replace=\.\.\.\) must be true or false"),
])
def test_round10_save_refuses_what_load_would_refuse_before_writing(loaded, tmp_path, case, exc, words):
    model, cfg, _ = loaded
    special = {"OTHER": cfg.with_overrides(model={"latent_dim": 8}), "DICT": cfg.to_dict(),
               "NAN": _nan_model(cfg), "BIG": _big_model(cfg)}
    kw = {"model": model, "config": cfg, **{k: special.get(v, v) if isinstance(v, str) else v
                                            for k, v in case.items()}}
    with pytest.raises(exc, match=words):
        checkpoint.save(str(tmp_path / "x.pt"), **kw)
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file left


def test_round10_save_into_an_unwritable_place_names_the_path(loaded):
    model, cfg, _ = loaded
    with pytest.raises(ValueError, match=r"save\(path=\.\.\.\) /proc/x\.pt: cannot write into /proc"):
        checkpoint.save("/proc/x.pt", model, cfg)


def test_round10_save_without_replace_speaks_no_cli_words(loaded, run1, tmp_path):
    model, cfg, _ = loaded
    p = str(tmp_path / "x.pt")
    checkpoint.save(p, model, cfg, step=1)
    before = open(p, "rb").read()
    with pytest.raises(FileExistsError, match=r"x\.pt: exists already or was created by another command") as e:
        checkpoint.save(p, model, cfg, step=2, replace=False)
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and "--out" not in msg and "--force" not in msg
    assert open(p, "rb").read() == before  # not overwritten; this result kept beside it
    kept = [f for f in os.listdir(tmp_path) if f.startswith("x-kept-")]
    assert len(kept) == 1 and kept[0] in msg
    assert checkpoint.load(str(tmp_path / kept[0]))[2]["step"] == 2


def test_round10_valid_save_still_round_trips(loaded, tmp_path):
    model, cfg, _ = loaded
    p = checkpoint.save(str(tmp_path / "ok.pt"), model, cfg, step=3, metrics={"loss": 0.5},
                        optimizer=torch.optim.AdamW(model.parameters()).state_dict())
    m2, cfg2, meta = checkpoint.load(p, device=torch.device("cpu"), strict=True)
    assert meta["step"] == 3 and meta["metrics"] == {"loss": 0.5} and cfg2 == cfg
    checkpoint.load_optimizer(torch.optim.AdamW(m2.parameters()), meta["optimizer"], p)
    h = checkpoint.save(str(tmp_path / "h.pt"), model, cfg, half=True)
    assert checkpoint.load(h)[2]["step"] == 0


@pytest.mark.parametrize("kw,exc,words", [
    (dict(strict="no"), ValueError, r"load\(strict=\.\.\.\) must be true or false, got 'no'"),
    (dict(device="nope"), ValueError, r"load\(device=\.\.\.\) 'nope' is not a device; use 'auto', 'cpu'"),
    (dict(device=3), TypeError, r"load\(device=\.\.\.\) must be a device name"),
    (dict(path=None), TypeError, r"load\(path=\.\.\.\) must be a checkpoint file name .*got None"),
])
def test_round10_load_refuses_bad_arguments(run1, kw, exc, words):
    kw = {"path": run1, **kw}
    with pytest.raises(exc, match=words):
        checkpoint.load(kw.pop("path"), **kw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="refused only without CUDA")
def test_round10_load_on_cuda_without_cuda_says_so(run1):
    with pytest.raises(ValueError, match=r"load\(device=\.\.\.\) cuda: CUDA is not available .*device='cpu'") as e:
        checkpoint.load(run1, device="cuda")
    assert "--device" not in str(e.value)


def test_round10_load_optimizer_and_batchnorm_note_name_a_wrong_argument(loaded, run1):
    model, _, meta = loaded
    opt = torch.optim.AdamW(model.parameters())
    with pytest.raises(TypeError, match=r"load_optimizer\(state=\.\.\.\) must be an optimizer state dict.*got None"):
        checkpoint.load_optimizer(opt, None, run1)
    with pytest.raises(TypeError, match=r"load_optimizer\(opt=\.\.\.\) must be a torch optimizer.*got None"):
        checkpoint.load_optimizer(None, meta["optimizer"], run1)
    checkpoint.load_optimizer(opt, meta["optimizer"], run1)  # valid: loads
    with pytest.raises(TypeError, match=r"batchnorm_note\(meta=\.\.\.\) must be the meta dict"):
        checkpoint.batchnorm_note("str")
    assert checkpoint.batchnorm_note(meta) is None and checkpoint.batchnorm_note(None) is None
    with pytest.raises(CheckpointError, match="edited"):  # a damaged state from a file still blames the file
        checkpoint.load_optimizer(opt, {"state": {}, "param_groups": [{"params": [0]}]}, run1)
