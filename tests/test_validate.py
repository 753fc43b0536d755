"""Issue 16: every input validated. A hostile user's command lines, run in-process through
``lewm.cli.main``: each must end with exit code 2 and ONE line ``error: ...`` (no traceback, no
usage block), before any work starts."""
from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
import torch

from lewm.cli import main
from lewm.config import get_preset


NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def w(tmp_path_factory, syn_h5):
    """Files of a hostile session: a two_room dataset and checkpoint, broken and foreign files."""
    from lewm.collect import collect
    from lewm.train import train
    d = tmp_path_factory.mktemp("hostile")
    p = {k: str(d / k) for k in ("tr.h5", "run", "trunc.h5", "text.h5", "nokeys.h5", "nanstate.h5",
                                 "nostate.h5", "zerolen.h5", "afile", "evalout")}
    collect("two_room", 4, p["tr.h5"], image_size=32, episode_len=40, workers=1, progress=False)
    cfg = get_preset("cpu-tiny").with_overrides(train={"bn_recalibrate_batches": 1})
    train(cfg, p["tr.h5"], p["run"], steps=3, progress=False, val_batches=0)
    p["ckpt"] = os.path.join(p["run"], "last.pt")
    p["syn"] = syn_h5
    data = open(p["tr.h5"], "rb").read()
    open(p["trunc.h5"], "wb").write(data[: len(data) // 3])
    open(p["text.h5"], "w").write("episode,x,y\n1,2,3\n")
    with h5py.File(p["nokeys.h5"], "w") as f:
        f["pixels"] = np.zeros((4, 32, 32, 3), np.uint8)
    for name in ("nanstate.h5", "nostate.h5", "zerolen.h5"):
        shutil.copy(p["tr.h5"], p[name])
    with h5py.File(p["zerolen.h5"], "a") as f:
        f["ep_len"][2] = 0
    with h5py.File(p["nanstate.h5"], "a") as f:
        f["state"][7, 0] = np.nan
    with h5py.File(p["nostate.h5"], "a") as f:
        del f["state"]
    open(p["afile"], "w").write("x")
    os.makedirs(p["evalout"])
    return p


def _cases():
    T = ["train", "--preset", "cpu-tiny"]
    td = lambda w, *extra: T + ["--data", w["syn"], "--out", w["run"] + "_x", *extra]  # noqa: E731
    E = lambda w, *extra: ["eval", "--checkpoint", w["ckpt"], "--episodes", "1", *extra]  # noqa: E731
    R = lambda w, *extra: ["report", "--checkpoint", w["ckpt"], "--data", w["tr.h5"], "--quick", *extra]  # noqa: E731
    C = lambda w, *extra: ["collect", "--env", "two_room", "--episodes", "1", "--no-progress", *extra]  # noqa: E731
    X = lambda w, *extra: ["export", "--checkpoint", w["ckpt"], *extra]  # noqa: E731
    cases = {
        # -- numbers: train
        "train steps 0": (lambda w: td(w, "--steps", "0"), "--steps must be in [1"),
        "train steps -5": (lambda w: td(w, "--steps", "-5"), "--steps"),
        "train steps abc": (lambda w: td(w, "--steps", "abc"), "--steps expects an integer"),
        "train batch 0": (lambda w: td(w, "--batch-size", "0"), "--batch-size"),
        "train latent 0": (lambda w: td(w, "--latent-dim", "0"), "--latent-dim must be in [1, 65536], got 0"),
        "train frameskip 0": (lambda w: td(w, "--frameskip", "0"), "--frameskip"),
        "train history 0": (lambda w: td(w, "--history", "0"), "--history"),
        "train threads 0": (lambda w: td(w, "--threads", "0"), "--threads"),
        "train workers -1": (lambda w: td(w, "--workers", "-1"), "--workers"),
        "train lr 0": (lambda w: td(w, "--lr", "0"), "--lr must be > 0, got 0"),
        "train lr nan": (lambda w: td(w, "--lr", "nan"), "--lr must be a finite number"),
        "train lambda -1": (lambda w: td(w, "--lambda", "-1"), "--lambda"),
        "train seed -1": (lambda w: td(w, "--seed", "-1"), "--seed"),
        "set bool ture": (lambda w: td(w, "--set", "train.keep_snapshots=ture"), "takes true or false, got 'ture'"),
        "set ckpt_every 0": (lambda w: td(w, "--set", "train.ckpt_every=0"), "train.ckpt_every must be >= 1, got 0"),
        "set log_every 0": (lambda w: td(w, "--set", "train.log_every=0"), "train.log_every"),
        "set image 4": (lambda w: td(w, "--set", "model.image_size=4"), "model.image_size"),
        "set image not multiple": (lambda w: td(w, "--set", "model.image_size=36"), "patch_size"),
        "set budget 5": (lambda w: td(w, "--set", "train.time_budget_s=5"), "train.time_budget_s"),
        "set steps float": (lambda w: td(w, "--set", "train.steps=1.5"), "train.steps takes an integer"),
        "set unknown section": (lambda w: td(w, "--set", "nope.x=1"), "section must be"),
        "set unknown field": (lambda w: td(w, "--set", "train.nope=1"), "has no field 'nope'"),
        "set no equals": (lambda w: td(w, "--set", "train.steps"), "expected SECTION.FIELD=VALUE"),
        "image too big for memory": (lambda w: td(w, "--set", "model.image_size=1024", "--set", "model.patch_size=2",
                                                  "--batch-size", "1024"), "GiB for its activations"),
        "set dropout 1": (lambda w: td(w, "--set", "model.dropout=1"), "model.dropout must be in [0, 1)"),
        "set val_fraction 1": (lambda w: td(w, "--set", "train.val_fraction=1"), "train.val_fraction"),
        "set knots 1": (lambda w: td(w, "--set", "sigreg.knots=1"), "sigreg.knots"),
        # -- devices
        "train device banana": (lambda w: td(w, "--device", "banana"), "is not a device"),
        "train device cuda:99": (lambda w: td(w, "--device", "cuda:99"), "--device cuda:99"),
        "eval device cuda:99": (lambda w: E(w, "--device", "cuda:99"), "--device cuda:99"),
        "bench device cuda:99": (lambda w: ["bench", "train", "--presets", "cpu-tiny", "--device", "cuda:99"],
                                 "--device cuda:99"),
        # -- datasets: train
        "train data missing": (lambda w: T + ["--data", w["syn"] + ".nope", "--out", w["run"] + "_x"], "no such"),
        "train data folder": (lambda w: T + ["--data", w["evalout"], "--out", w["run"] + "_x"], "is a folder"),
        "train data truncated": (lambda w: T + ["--data", w["trunc.h5"], "--out", w["run"] + "_x"], "trunc.h5"),
        "train data text": (lambda w: T + ["--data", w["text.h5"], "--out", w["run"] + "_x"], "text.h5"),
        "train data no keys": (lambda w: T + ["--data", w["nokeys.h5"], "--out", w["run"] + "_x"], "missing dataset key"),
        # a preset follows the data's image size; a pinned one must match it
        "train data image size": (lambda w: ["train", "--data", w["syn"], "--out", w["run"] + "_x",
                                             "--set", "model.image_size=64"], "32x32"),
        "train data patch does not divide": (lambda w: ["train", "--preset", "paper", "--data", w["syn"], "--out",
                                                        w["run"] + "_x"], "model.patch_size 14 (preset paper) does not divide 32"),
        "train data empty episode": (lambda w: T + ["--data", w["zerolen.h5"], "--out", w["run"] + "_x"],
                                     "'ep_len' of episode 2 is 0"),
        "eval data empty episode": (lambda w: E(w, "--data", w["zerolen.h5"]), "'ep_len' of episode 2 is 0"),
        "train data nan state": (lambda w: T + ["--data", w["nanstate.h5"], "--out", w["run"] + "_x"], "row 7"),
        "train resume other env": (lambda w: T + ["--data", w["syn"], "--out", w["run"]], "the run in"),
        "train init other env": (lambda w: T + ["--data", w["syn"], "--out", w["run"] + "_y", "--init", w["ckpt"]],
                                 "'two_room'"),
        "train resume past steps": (lambda w: T + ["--data", w["tr.h5"], "--out", w["run"], "--steps", "2"],
                                    "already at step 3"),
        "train init missing": (lambda w: td(w, "--init", w["ckpt"] + ".nope"), "checkpoint file not found"),
        "train data is a checkpoint": (lambda w: td(w)[:3] + ["--data", w["ckpt"], "--out", w["run"] + "_x"],
                                       "is a checkpoint, not an HDF5"),
        # -- outputs: train
        "train out is a file": (lambda w: T + ["--data", w["syn"], "--out", w["afile"]], "is a file, expected a folder"),
        "train out under a file": (lambda w: T + ["--data", w["syn"], "--out", w["afile"] + "/run"], "not a folder"),
        # -- collect
        "collect episodes 0": (lambda w: C(w, "--out", w["evalout"] + "/c.h5") [:4] + ["0", "--out", w["evalout"] + "/c.h5"],
                               "--episodes must be in [1"),
        "collect episodes -1": (lambda w: ["collect", "--env", "two_room", "--episodes", "-1", "--out", "x.h5"], "--episodes"),
        "collect image 0": (lambda w: C(w, "--image-size", "0", "--out", "x.h5"), "--image-size"),
        "collect image 4096": (lambda w: C(w, "--image-size", "4096", "--out", "x.h5"), "--image-size"),
        "collect workers 0": (lambda w: C(w, "--workers", "0", "--out", "x.h5"), "--workers"),
        "collect episode-len 1": (lambda w: C(w, "--episode-len", "1", "--out", "x.h5"), "--episode-len"),
        "collect mix 2": (lambda w: C(w, "--mix-random", "2", "--out", "x.h5"), "--mix-random"),
        "collect env unknown": (lambda w: C(w, "--out", "x.h5")[:2] + ["nope"] + C(w, "--out", "x.h5")[3:], "--env"),
        "collect out folder": (lambda w: C(w, "--out", w["evalout"]), "is a folder"),
        "collect out under file": (lambda w: C(w, "--out", w["afile"] + "/x.h5"), "not a folder"),
        "collect too big": (lambda w: C(w, "--out", w["evalout"] + "/big.h5")[:4] + ["10000000", "--image-size", "1024",
                            "--compression", "none", "--out", w["evalout"] + "/big.h5"], "GiB"),
        # -- eval
        "eval episodes 0": (lambda w: ["eval", "--checkpoint", w["ckpt"], "--episodes", "0"], "--episodes"),
        "eval iterations 0": (lambda w: E(w, "--iterations", "0"), "--iterations"),
        "eval budget 0": (lambda w: E(w, "--budget", "0"), "--budget"),
        "eval samples 0": (lambda w: E(w, "--samples", "0"), "--samples"),
        "eval topk > samples": (lambda w: E(w, "--samples", "10", "--topk", "30"), "--topk must be <= --samples"),
        "eval horizon 0": (lambda w: E(w, "--horizon", "0"), "--horizon"),
        "eval receding > horizon": (lambda w: E(w, "--receding-horizon", "9"), "--receding-horizon"),
        "eval threads 0": (lambda w: E(w, "--threads", "0"), "--threads"),
        "eval ckpt missing": (lambda w: ["eval", "--checkpoint", w["ckpt"] + ".nope"], "not found"),
        "eval ckpt is data": (lambda w: ["eval", "--checkpoint", w["tr.h5"]], "not a checkpoint (a dataset"),
        "eval data other env": (lambda w: E(w, "--data", w["syn"]), "'synthetic_dot'"),
        "eval data nan state": (lambda w: E(w, "--data", w["nanstate.h5"]), "NaN/inf at row 7"),
        "eval data no state": (lambda w: E(w, "--data", w["nostate.h5"]), "no 'state' key"),
        "eval data truncated": (lambda w: E(w, "--data", w["trunc.h5"]), "trunc.h5"),
        "eval data text": (lambda w: E(w, "--data", w["text.h5"]), "text.h5"),
        "eval out folder": (lambda w: E(w, "--out", w["evalout"]), "is a folder"),
        "eval out no parent": (lambda w: E(w, "--out", w["evalout"] + "/no/such/r.json"), "does not exist"),
        "eval out under file": (lambda w: E(w, "--out", w["afile"] + "/r.json"), "not a folder"),
        "eval out is the checkpoint": (lambda w: E(w, "--out", w["ckpt"]), "is the --checkpoint file"),
        "eval out is the data": (lambda w: E(w, "--data", w["tr.h5"], "--out", w["tr.h5"]), "is the --data file"),
        "bench json is the checkpoint": (lambda w: ["bench", "plan", "--checkpoint", w["ckpt"], "--json", w["ckpt"]],
                                         "destroy the input"),
        "eval gif is a file": (lambda w: E(w, "--gif", w["afile"]), "is a file"),
        "eval env not the checkpoint's": (lambda w: E(w, "--env", "pusht"), "trained on 'two_room'"),
        "eval env unknown": (lambda w: E(w, "--env", "nope"), "--env nope"),
        # -- report
        "report episodes 0": (lambda w: R(w, "--out", w["evalout"] + "/rep", "--episodes", "0"), "--episodes"),
        "report horizon 0": (lambda w: R(w, "--out", w["evalout"] + "/rep", "--horizon", "0"), "--horizon"),
        "report max-frames 0": (lambda w: R(w, "--out", w["evalout"] + "/rep", "--max-frames", "0"), "--max-frames"),
        "report max-frames 39": (lambda w: R(w, "--out", w["evalout"] + "/rep", "--max-frames", "39"), "--max-frames"),
        "report too few frames": (lambda w: R(w, "--out", w["evalout"] + "/rep", "--max-frames", "40"), "only 32 frames"),
        "report out is a file": (lambda w: R(w, "--out", w["afile"]), "is a file"),
        "report data other env": (lambda w: ["report", "--checkpoint", w["ckpt"], "--data", w["syn"],
                                             "--out", w["evalout"] + "/rep"], "'synthetic_dot'"),
        "report data truncated": (lambda w: ["report", "--checkpoint", w["ckpt"], "--data", w["trunc.h5"],
                                             "--out", w["evalout"] + "/rep"], "trunc.h5"),
        "report data nan state": (lambda w: ["report", "--checkpoint", w["ckpt"], "--data", w["nanstate.h5"],
                                             "--out", w["evalout"] + "/rep"], "row 7"),
        # -- bench
        "bench batch 0": (lambda w: ["bench", "train", "--presets", "cpu-tiny", "--batch", "0"], "--batch"),
        "bench steps 0": (lambda w: ["bench", "train", "--presets", "cpu-tiny", "--steps", "0"], "--steps"),
        "bench json folder": (lambda w: ["bench", "train", "--presets", "cpu-tiny", "--json", w["evalout"]], "is a folder"),
        "bench iterations 0": (lambda w: ["bench", "plan", "--preset", "cpu-tiny", "--iterations", "0"], "--iterations"),
        "bench topk > samples": (lambda w: ["bench", "plan", "--preset", "cpu-tiny", "--samples", "10", "--topk", "11"], "--topk"),
        # -- export
        "export out folder": (lambda w: X(w, "--out", w["evalout"]), "is a folder"),
        "export out no parent": (lambda w: X(w, "--out", w["evalout"] + "/no/m.pt"), "does not exist"),
        "export out exists": (lambda w: X(w, "--out", w["afile"]), "--force"),
        "export bn-batches 0": (lambda w: X(w, "--out", w["evalout"] + "/m.pt", "--bn-batches", "0"), "--bn-batches"),
        "export data other env": (lambda w: X(w, "--out", w["evalout"] + "/m.pt", "--data", w["syn"]), "'synthetic_dot'"),
        # -- the command line itself
        "no such command": (lambda w: ["fly"], "invalid choice"),
        "missing required": (lambda w: ["train", "--data", w["syn"]], "--out"),
    }
    if NO_CUDA:
        cases["train device cuda"] = (lambda w: td(w, "--device", "cuda"), "--device cuda")
        cases["eval device cuda"] = (lambda w: E(w, "--device", "cuda"), "--device cuda")
        cases["report device cuda"] = (lambda w: R(w, "--out", w["evalout"] + "/rep", "--device", "cuda"), "--device cuda")
        cases["bench plan cuda-graphs on cpu"] = (lambda w: ["bench", "plan", "--preset", "cpu-tiny", "--device", "cpu",
                                                             "--compile", "cuda-graphs"], "needs a CUDA device")
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2(name, w, capsys):
    argv, expect = CASES[name]
    rc = main(argv(w))
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]  # not progress bars
    assert rc == 2, f"{name}: exit {rc}, stderr {err!r}"
    assert "Traceback" not in err and "usage:" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: {err!r}"
    assert expect in lines[0], f"{name}: {lines[0]!r} lacks {expect!r}"


def test_nothing_is_written_by_refused_commands(w):
    """A refused command leaves no output behind (checked before the work)."""
    assert not os.path.exists(w["evalout"] + "/rep")
    assert not os.path.exists(w["evalout"] + "/m.pt")
    assert not os.path.exists("x.h5") and not os.path.exists(w["run"] + "_x")
    assert sorted(os.listdir(w["run"])) == ["config.json", "last.pt", "metrics.jsonl"]  # resume refused: intact


def test_train_library_refuses_resume_on_other_env(w):
    """train() itself (the app's path) checks the environment of the run it resumes."""
    from lewm.train import train
    with pytest.raises(ValueError, match="resume it on data of its own environment"):
        train(get_preset("cpu-tiny"), w["syn"], w["run"], steps=5, progress=False)
    assert not os.path.exists(os.path.join(w["run"], ".lock"))  # the lock is released on failure
