"""Round 23 (hostile test of the Python API), the running side: train (P11 no untrained last.pt when no step
ran, P12 a failing on_step keeps its step, P13/P14 BatchNorm recalibration), evaluate (P15-P17) and collect
(P18-P20). Every odd argument is one clear line naming it, before any work; nothing is lost."""
import os

import numpy as np
import pytest
import torch

from lewm import checkpoint
from lewm.config import get_preset


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class _Ev:
    def __init__(self, v):
        self.v = v

    def is_set(self):
        return self.v


def _cfg(**train):
    return get_preset("cpu-tiny").with_overrides(train={"batch_size": 8, "bn_recalibrate_batches": 1, **train})


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, syn_h5):
    from lewm.train import train
    out = str(tmp_path_factory.mktemp("r23") / "a")
    train(_cfg(steps=2), syn_h5, out, progress=False, val_batches=0, device="cpu")
    return out


# ------------------------------------------------------------------------------------------- P11
def test_p11_stopped_before_the_first_step_saves_nothing(tmp_path, syn_h5):
    from lewm.train import train
    out = tmp_path / "b"
    res = train(_cfg(steps=3), syn_h5, str(out), stop_event=_Ev(True), progress=False, device="cpu")
    assert (res.step, res.stopped, res.checkpoint) == (0, True, "")
    assert not out.exists()  # the folder it made is gone: nothing there to take for the run's result
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    train(_cfg(steps=3), syn_h5, str(kept), stop_event=_Ev(True), progress=False, device="cpu")
    assert sorted(os.listdir(kept)) == ["notes.txt"]


def test_p11_resumed_run_stopped_at_once_keeps_its_checkpoint(tmp_path, syn_h5, run_a):
    import shutil

    from lewm.train import train
    out = tmp_path / "again"
    shutil.copytree(run_a, out)
    res = train(_cfg(steps=4), syn_h5, str(out), stop_event=_Ev(True), progress=False, device="cpu", val_batches=0)
    assert res.step == 2 and res.checkpoint == str(out / "last.pt")
    assert checkpoint.load(str(out / "last.pt"))[2]["step"] == 2


# ------------------------------------------------------------------------------------------- P12
def test_p12_failing_on_step_saves_its_step_then_raises(tmp_path, syn_h5):
    from lewm.train import train

    def cb(info):
        if info.step == 3:
            raise RuntimeError("user plot failed")

    out = tmp_path / "e"
    with pytest.raises(RuntimeError, match="user plot failed") as ei:
        train(_cfg(steps=4, ckpt_every=2), syn_h5, str(out), on_step=cb, progress=False, device="cpu", val_batches=0)
    notes = getattr(ei.value, "__notes__", [])
    assert any(f"train(on_step=...) raised at step 3: saved {out / 'last.pt'} at step 3" in n for n in notes), notes
    assert checkpoint.load(str(out / "last.pt"))[2]["step"] == 3  # was 2: the step since the checkpoint was lost
    # the saved weights are those of an uninterrupted 3-step run (the independent reference)
    ref = tmp_path / "ref"
    train(_cfg(steps=3, ckpt_every=2), syn_h5, str(ref), progress=False, device="cpu", val_batches=0)
    got, want = checkpoint.load(str(out / "last.pt"))[0].state_dict(), checkpoint.load(str(ref / "last.pt"))[0].state_dict()
    for k in want:
        torch.testing.assert_close(got[k], want[k])
    # and the same call resumes from it
    assert train(_cfg(steps=4, ckpt_every=2), syn_h5, str(out), progress=False, device="cpu", val_batches=0).step == 4


# ------------------------------------------------------------------------------------------- P13, P14
def _px_batch(model, width=None):
    px = torch.randint(0, 256, (2, 3, 3, 32, 32), dtype=torch.uint8)
    return {"pixels": px, "actions": torch.zeros(2, 2, width or model.cfg.action_dim * model.cfg.frameskip)}


def _stats(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k}


def test_p13_failed_recalibration_restores_the_statistics(run_a):
    from lewm.train import recalibrate_batchnorm
    model = checkpoint.load(os.path.join(run_a, "last.pt"))[0]
    before = _stats(model)
    with pytest.raises(ValueError, match=r"recalibrate_batchnorm\(batches=\.\.\.\): batch 0 must be a dict with "
                                         r"'pixels' .* and 'actions' .*, got keys \['pixels'\]"):
        recalibrate_batchnorm(model, [{"pixels": _px_batch(model)["pixels"]}])
    for k, v in before.items():
        assert torch.equal(_stats(model)[k], v), k
    good = _px_batch(model)
    with pytest.raises(ValueError):  # a second batch of the wrong action width, after the first was counted
        recalibrate_batchnorm(model, [good, _px_batch(model, width=3)])
    for k, v in before.items():
        assert torch.equal(_stats(model)[k], v), k
    assert recalibrate_batchnorm(model, [good]) == 6  # a good call still recalibrates


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_batchnorm(None, []), TypeError,
     r"recalibrate_batchnorm\(model=\.\.\.\) must be a LeWM model .*got NoneType"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_batchnorm(m, None), TypeError,
     r"recalibrate_batchnorm\(batches=\.\.\.\) must be an iterable of batch dicts .*got None"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_batchnorm(m, [], max_batches=-1), ValueError,
     r"recalibrate_batchnorm\(max_batches=\.\.\.\) must be >= 0, got -1"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_from_data(m, c, d, batches=-5), ValueError,
     r"recalibrate_from_data\(batches=\.\.\.\) must be >= 1, got -5"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_from_data(m, c, d, batches=1.5), TypeError,
     r"recalibrate_from_data\(batches=\.\.\.\) must be a whole number, got 1.5"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_from_data(m, c, d, batch_size=0), ValueError,
     r"recalibrate_from_data\(batch_size=\.\.\.\) must be >= 1, got 0"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_from_data(m, c, d, seed=-1), ValueError,
     r"recalibrate_from_data\(seed=\.\.\.\) must be a whole number >= 0, got -1"),
    (lambda m, c, d: __import__("lewm.train").train.recalibrate_from_data(m, c.model, d), TypeError,
     r"recalibrate_from_data\(cfg=\.\.\.\) must be a LeWMConfig"),
])
def test_p14_recalibration_arguments_are_checked(run_a, syn_h5, call, exc, pattern):
    model, cfg, _ = checkpoint.load(os.path.join(run_a, "last.pt"))
    before = _stats(model)
    with pytest.raises(exc, match=pattern):
        call(model, cfg, syn_h5)
    for k, v in before.items():
        assert torch.equal(_stats(model)[k], v), k


def test_p14_valid_recalibration_arguments_still_work(run_a, syn_h5):
    from lewm.train import recalibrate_batchnorm, recalibrate_from_data
    model, cfg, _ = checkpoint.load(os.path.join(run_a, "last.pt"))
    assert recalibrate_from_data(model, cfg, syn_h5, batches=np.int64(1), batch_size=np.int64(4),
                                 seed=np.int64(2)) == 4 * (cfg.model.history + 1)
    assert recalibrate_batchnorm(model, [_px_batch(model)], max_batches=np.int64(0)) == 0


# ------------------------------------------------------------------------------------------- P15
@pytest.mark.parametrize("kw, exc, pattern", [
    ({"episodes": -1}, ValueError, r"eval_pairs\(episodes=\.\.\.\) must be >= 1, got -1"),
    ({"episodes": 0}, ValueError, r"eval_pairs\(episodes=\.\.\.\) must be >= 1, got 0"),
    ({"episodes": 1.5}, TypeError, r"eval_pairs\(episodes=\.\.\.\) must be a whole number, got 1.5"),
    ({"offset": 0}, ValueError, r"eval_pairs\(offset=\.\.\.\) must be >= 1, got 0"),
    ({"offset": -5}, ValueError, r"eval_pairs\(offset=\.\.\.\) must be >= 1, got -5"),
    ({"seed": -1}, ValueError, r"eval_pairs\(seed=\.\.\.\) must be a whole number >= 0, got -1"),
    ({"data": "missing.h5"}, ValueError, r"eval_pairs\(data=\.\.\.\) must be an existing file, got 'missing.h5' "
                                         r"\(no such file\)"),
    ({"offset": 500}, ValueError, r"eval_pairs\(offset=\.\.\.\) must be <= traj_len \(100\).*got offset 500"),
    ({"traj_len": 0}, ValueError, r"eval_pairs\(traj_len=\.\.\.\) must be >= 1, got 0"),
])
def test_p15_eval_pairs_checks_its_arguments(kw, exc, pattern):
    from lewm.evaluate import eval_pairs
    with pytest.raises(exc, match=pattern):
        eval_pairs("two_room", **{"episodes": 2, **kw})


def test_p15_eval_pairs_data_offset_must_be_whole(syn_h5):
    from lewm.evaluate import eval_pairs
    with pytest.raises(TypeError, match=r"eval_pairs\(offset=\.\.\.\) must be a whole number, got 1.5"):
        eval_pairs("synthetic_dot", 2, data=syn_h5, offset=1.5)
    pairs = eval_pairs("synthetic_dot", np.int64(2), seed=np.int64(1), data=syn_h5, offset=np.int64(3))
    assert len(pairs) == 2  # numpy integers are whole numbers


# ------------------------------------------------------------------------------------------- P16, P17
@pytest.mark.parametrize("kw, exc, pattern", [
    ({"seed": 1.5}, TypeError, r"evaluate\(seed=\.\.\.\) must be a whole number >= 0, got 1.5"),
    ({"gifs": 2.5}, TypeError, r"evaluate\(gifs=\.\.\.\) must be a whole number, got 2.5"),
    ({"gifs": -1}, ValueError, r"evaluate\(gifs=\.\.\.\) must be >= 0, got -1"),
    ({"progress": "no"}, TypeError, r"evaluate\(progress=\.\.\.\) must be True or False, got 'no'"),
    ({"compile_rollout": "yes"}, TypeError, r"evaluate\(compile_rollout=\.\.\.\) must be True or False, got 'yes'"),
    ({"cuda_graphs": "no"}, TypeError, r"evaluate\(cuda_graphs=\.\.\.\) must be True or False, got 'no'"),
])
def test_p16_evaluate_checks_its_arguments_before_loading(tmp_path, kw, exc, pattern):
    from lewm.evaluate import evaluate
    with pytest.raises(exc, match=pattern):  # a checkpoint that does not exist: the check comes first
        evaluate(str(tmp_path / "none.pt"), episodes=1, **kw)


def test_p17_gif_dir_that_is_a_file_is_refused_before_the_work(tmp_path, syn_h5):
    from lewm.evaluate import evaluate
    with pytest.raises(ValueError, match=r"evaluate\(gif_dir=\.\.\.\) .*syn.h5: is a file, expected a folder"):
        evaluate(str(tmp_path / "none.pt"), episodes=1, gif_dir=syn_h5)


def test_p17_save_gif_of_none(tmp_path):
    from lewm.evaluate import save_gif
    with pytest.raises(TypeError, match=r"save_gif\(ep=\.\.\.\) must be an EpisodeResult .*got NoneType"):
        save_gif(None, str(tmp_path / "x.gif"))
    assert not (tmp_path / "x.gif").exists()


# ------------------------------------------------------------------------------------------- P18
@pytest.fixture(scope="module")
def env():
    from lewm.envs import make
    return make("two_room", image_size=16)


@pytest.mark.parametrize("args, kw, exc, pattern", [
    ((0, 0, 0), {}, ValueError, r"run_episode\(length=\.\.\.\) must be in \[1, 1000000\], got 0"),
    ((0, 0, -3), {}, ValueError, r"run_episode\(length=\.\.\.\) must be in \[1, 1000000\], got -3"),
    ((0, 0, 2.5), {}, TypeError, r"run_episode\(length=\.\.\.\) must be a whole number, got 2.5"),
    ((0, 0, 10**9), {}, ValueError, r"run_episode\(length=\.\.\.\) must be in \[1, 1000000\], got 1000000000"),
    ((0, -1, 3), {}, ValueError, r"run_episode\(seed=\.\.\.\) must be a whole number >= 0, got -1"),
    ((0, 1.7, 3), {}, TypeError, r"run_episode\(seed=\.\.\.\) must be a whole number >= 0, got 1.7"),
    ((-1, 0, 3), {}, ValueError, r"run_episode\(index=\.\.\.\) must be >= 0, got -1"),
    ((0, 0, 3), {"mix_random": 5}, ValueError, r"run_episode\(mix_random=\.\.\.\) must be in \[0, 1\], got 5"),
    ((0, 0, 3), {"mix_random": float("nan")}, ValueError, r"run_episode\(mix_random=\.\.\.\) must be in \[0, 1\], got nan"),
])
def test_p18_run_episode_checks_its_arguments(env, args, kw, exc, pattern):
    from lewm.collect import run_episode
    with pytest.raises(exc, match=pattern):
        run_episode(env, *args, **kw)


def test_p18_valid_run_episode_unchanged(env):
    from lewm.collect import episode_rng, run_episode
    a = run_episode(env, np.int64(1), np.int64(3), np.int64(4), mix_random=np.float32(0.0))
    b = run_episode(env, 1, 3, 4)
    assert np.array_equal(a["pixels"], b["pixels"]) and a["pixels"].shape[0] == 4
    assert run_episode(env, 0, 0, 1)["pixels"].shape[0] == 1  # one frame, no action: allowed
    # the generator is (seed, index)'s, as numpy's SeedSequence makes it
    want = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(1,))).random()
    assert episode_rng(3, 1).random() == want
    with pytest.raises(TypeError, match=r"episode_rng\(seed=\.\.\.\) must be a whole number >= 0, got '3'"):
        episode_rng("3", 0)


# ------------------------------------------------------------------------------------------- P19, P20
def test_p19_force_as_a_string_never_replaces_the_dataset(tmp_path):
    from lewm.collect import collect
    out = tmp_path / "p1.h5"
    out.write_bytes(b"\x89HDF\r\n\x1a\nmine")
    for name in ("force", "progress", "rename_if_taken"):
        with pytest.raises(TypeError, match=rf"collect\({name}=\.\.\.\) must be True or False, got 'no'"):
            collect("two_room", 1, str(out), image_size=16, workers=1, episode_len=3, **{name: "no"})
    assert out.read_bytes() == b"\x89HDF\r\n\x1a\nmine" and os.listdir(tmp_path) == ["p1.h5"]


@pytest.mark.parametrize("kw, exc, pattern", [
    ({"workers": 2.7}, TypeError, r"collect\(workers=\.\.\.\) must be a whole number, got 2.7"),
    ({"workers": "2"}, TypeError, r"collect\(workers=\.\.\.\) must be a whole number, got '2'"),
    ({"workers": True}, TypeError, r"collect\(workers=\.\.\.\) must be a whole number, got True"),
    ({"workers": -4}, ValueError, r"collect\(workers=\.\.\.\) must be in \[0, 1024\], got -4"),
    ({"seed": 1.5}, TypeError, r"collect\(seed=\.\.\.\) must be a whole number >= 0, got 1.5"),
    ({"seed": -1}, ValueError, r"collect\(seed=\.\.\.\) must be a whole number >= 0, got -1"),
    ({"mix_random": "0.5"}, TypeError, r"collect\(mix_random=\.\.\.\) must be a number, got '0.5'"),
])
def test_p20_collect_workers_seed_mix_random_are_checked(tmp_path, kw, exc, pattern):
    from lewm.collect import collect
    with pytest.raises(exc, match=pattern):
        collect("two_room", 1, str(tmp_path / "w.h5"), image_size=16, episode_len=3, progress=False,
                **{"workers": 1, **kw})
    assert os.listdir(tmp_path) == []


def test_p20_valid_collect_arguments_still_work(tmp_path):
    import h5py

    from lewm.collect import collect
    a = collect("two_room", 2, str(tmp_path / "a.h5"), image_size=16, episode_len=3, progress=np.False_,
                workers=0, seed=np.int64(4), mix_random=np.float64(0.5))
    b = collect("two_room", 2, str(tmp_path / "b.h5"), image_size=16, episode_len=3, progress=False,
                workers=1, seed=4, mix_random=0.5)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert np.array_equal(fa["pixels"][:], fb["pixels"][:]) and int(fa.attrs["seed"]) == 4
