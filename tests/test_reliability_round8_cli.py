"""Issue 16, round 8 (the command line): outputs that replaced a run's files, symbolic links and blank
names as outputs, edited checkpoints, flags that conflict or are ignored, advice that cannot help.
Each expected failure is one line ``error: ...`` naming the file or field, exit code 2, before the
work, with every input left as it was."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch

from lewm.cli import main

from _cli_errors import one_error_line  # noqa: E402

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "two_room", "model.pt")
ROOT = os.path.join(os.path.dirname(__file__), "..")


_one_error_line = one_error_line  # tests/_cli_errors.py: the project's bar, shared


def _sig(path: str) -> bytes:
    return open(path, "rb").read()


@pytest.fixture
def ckpt(tmp_path):
    p = str(tmp_path / "model.pt")
    shutil.copy(SHIPPED, p)
    return p


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, syn_h5):
    """A 2-step cpu-tiny run on the synthetic file (last.pt with optimizer state, metrics.jsonl, config.json)."""
    out = str(tmp_path_factory.mktemp("r8") / "run")
    n = torch.get_num_threads()
    assert main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--steps", "2",
                 "--batch-size", "4", "--threads", "1"]) == 0
    torch.set_num_threads(n)
    return out


@pytest.fixture
def run_folder(tmp_path, ckpt):
    """A run folder and a report folder as train / report leave them (contents cut short)."""
    run, rep = tmp_path / "run", tmp_path / "rep"
    run.mkdir()
    rep.mkdir()
    shutil.copy(ckpt, run / "last.pt")
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n')
    (run / "config.json").write_text(json.dumps({"model": {}, "sigreg": {}, "train": {}}, indent=2))
    (rep / "report.json").write_text(json.dumps({"checkpoint": {}, "settings": {}, "frames_encoded": 40}))
    return str(run), str(rep)


def _fake_episode(env, model, cfg, pcfg, s, g, **kw):
    return SimpleNamespace(success=True, plan_seconds=[0.01], plan_iterations=[1], steps=1,
                           first_success_step=0, states=[s, g])


_BENCH = ["bench", "plan", "--preset", "cpu-tiny", "--iterations", "1", "--samples", "4", "--topk", "2",
          "--repeats", "1", "--warmup", "0", "--json"]


# ---------------------------------------------------------------------------------------------
# N1-N5: an output never replaces a run's / report's / checkpoint's file, nor a file of another kind
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,victim,words", [
    (lambda c, r, p: ["eval", "--checkpoint", c, "--episodes", "1", "--out", os.path.join(os.path.dirname(c), "eval.json")],
     lambda c, r, p: os.path.join(os.path.dirname(c), "eval.json"), "planner settings and results of the checkpoint"),
    (lambda c, r, p: _BENCH + [os.path.join(r, "metrics.jsonl")], lambda c, r, p: os.path.join(r, "metrics.jsonl"),
     "is a JSON-lines log"),
    (lambda c, r, p: _BENCH + [os.path.join(p, "report.json"), "--force"], lambda c, r, p: os.path.join(p, "report.json"),
     "is a report's results (report.json); writing a benchmark result there would destroy it"),
    (lambda c, r, p: ["eval", "--checkpoint", c, "--episodes", "1", "--out", os.path.join(r, "config.json"), "--force"],
     lambda c, r, p: os.path.join(r, "config.json"), "is a run's config (config.json)"),
    (lambda c, r, p: ["collect", "--env", "two_room", "--episodes", "1", "--no-progress", "--force", "--out",
                      os.path.join(r, "metrics.jsonl")], lambda c, r, p: os.path.join(r, "metrics.jsonl"),
     "writing an HDF5 episode file there would destroy it"),
    (lambda c, r, p: ["eval", "--checkpoint", c, "--episodes", "1", "--out", os.path.join(r, "notes.txt"), "--force"],
     lambda c, r, p: os.path.join(r, "notes.txt"), "is a text file (not JSON)"),
], ids=["N1 eval --out eval.json beside the checkpoint", "N2 bench --json metrics.jsonl",
        "N3 bench --json report.json --force", "N4 eval --out config.json --force", "N5 collect --out metrics.jsonl --force",
        "eval --out a text file --force"])
def test_round8_outputs_never_replace_a_runs_file_or_another_kind(argv, victim, words, ckpt, run_folder, capsys):
    run, rep = run_folder
    shutil.copy(os.path.join(ROOT, "checkpoints", "two_room", "eval.json"), os.path.join(os.path.dirname(ckpt), "eval.json"))
    with open(os.path.join(run, "notes.txt"), "w") as f:
        f.write("my notes\n")
    target = victim(ckpt, run, rep)
    before = _sig(target)
    rc = main(argv(ckpt, run, rep))
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and target in line and words in line and _sig(target) == before


def test_round8_eval_force_replaces_the_eval_json_beside_the_checkpoint(ckpt, monkeypatch, capsys):
    """N1: with --force the (same-kind) eval.json beside the checkpoint is replaced, as reproduce.sh does."""
    import lewm.evaluate as ev
    monkeypatch.setattr(ev, "run_episode", _fake_episode)
    shipped = os.path.join(os.path.dirname(ckpt), "eval.json")
    shutil.copy(os.path.join(ROOT, "checkpoints", "two_room", "eval.json"), shipped)
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", shipped, "--force"]) == 0
    assert json.load(open(shipped))["episodes"] == 1
    other = os.path.join(os.path.dirname(ckpt), "mine.json")  # a JSON of no known kind: only with --force
    with open(other, "w") as f:
        f.write('{"a": 1}')
    capsys.readouterr()
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", other]) == 2
    assert "pass --force" in _one_error_line(capsys.readouterr().err) and json.load(open(other)) == {"a": 1}


@pytest.mark.parametrize("content,kind", [
    (b"", None),
    (b'{"step": 1}\n{"step": 2}\n', "a JSON-lines log"),
    (b'{"planner": {"iterations": 3}}', "an evaluation result"),
    (b'{"device": "cpu", "rows": []}', "a benchmark result"),
    (b'{"model": {}, "train": {}}', "a run's config"),
    (b'{"frames_encoded": 3}', "a report's results"),
    (b'[1, 2]', "a JSON file of no kind the lab writes"),
    (b"hello\n", "a text file (not JSON)"),
    (b"\x00\x01\x02\xff", "a binary file"),
    (b"\x89HDF\r\n\x1a\n....", "an HDF5 episode file"),
    (b"PK\x03\x04....", "a checkpoint"),
])
def test_round8_file_kind(content, kind, tmp_path):
    from lewm.runs import file_kind
    p = tmp_path / "f"
    p.write_bytes(content)
    got = file_kind(str(p))
    assert (got is None) if kind is None else got.startswith(kind)


# ---------------------------------------------------------------------------------------------
# N6-N11, N33, N35: symbolic links, blank / '-' / space-padded names, a folder name
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,words", [
    (lambda c, t: ["eval", "--checkpoint", c, "--episodes", "1", "--out", t + "/link.json"], "is a symbolic link to"),
    (lambda c, t: ["export", "--checkpoint", c, "--out", t + "/dangling.pt", "--force"], "(which does not exist)"),
    (lambda c, t: ["collect", "--env", "two_room", "--episodes", "1", "--out", t + "/link.h5", "--force"],
     "writing would replace the link, not its target"),
    (lambda c, t: ["train", "--preset", "cpu-tiny", "--data", t + "/d.h5", "--out", t + "/dangling_dir"],
     "is a symbolic link to"),
    (lambda c, t: ["eval", "--checkpoint", c, "--episodes", "1", "--gif", t + "/dangling_dir"], "which does not exist"),
    (lambda c, t: ["report", "--checkpoint", c, "--out", t + "/dangling_dir"], "which does not exist"),
    (lambda c, t: ["eval", "--checkpoint", c, "--episodes", "1", "--out", t + "/ "], "' ' is only spaces"),
    (lambda c, t: ["eval", "--checkpoint", c, "--episodes", "1", "--out", "-"], "'-' (standard output) is not supported"),
    (lambda c, t: ["train", "--preset", "cpu-tiny", "--data", t + "/d.h5", "--out", t + "/run14 "],
     "'run14 ' begins or ends with a space"),
    (lambda c, t: ["collect", "--env", "two_room", "--episodes", "1", "--out", t + "/folder"], "e.g. "),
], ids=["N6 eval --out link", "N7 export --out dangling link", "N8 collect --out link", "N33 train --out dangling dir",
        "N33 eval --gif dangling dir", "N33 report --out dangling dir", "N9 --out ' '", "N10 --out -",
        "N11 train --out 'run14 '", "N35 collect --out folder"])
def test_round8_links_and_names_no_one_meant_are_refused_before_the_work(argv, words, ckpt, syn_h5, tmp_path, capsys):
    t = str(tmp_path)
    shutil.copy(syn_h5, t + "/d.h5")
    (tmp_path / "target.json").write_text('{"planner": {}}')
    os.symlink(t + "/target.json", t + "/link.json")
    os.symlink(t + "/d.h5", t + "/link.h5")
    os.symlink(t + "/nowhere.pt", t + "/dangling.pt")
    os.symlink(t + "/nowhere", t + "/dangling_dir")
    os.mkdir(t + "/folder")
    before = sorted(os.listdir(t))
    rc = main(argv(ckpt, t))
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and words in line, line
    assert sorted(os.listdir(t)) == before and _sig(t + "/target.json") == b'{"planner": {}}'
    assert not os.path.exists(t + "/nowhere") and not os.path.exists("-")
    if words == "e.g. ":  # an HDF5 output suggests an .h5 name (was: rv/out.json)
        assert line.endswith(f"(e.g. {t}/folder/out.h5)")


# ---------------------------------------------------------------------------------------------
# N12: a worker's ValueError is the parent's one line; N13: a TQDM_* variable tqdm cannot read
# ---------------------------------------------------------------------------------------------
def test_round8_collect_policy_of_another_env_is_one_line_with_workers(tmp_path, capsys):
    out = str(tmp_path / "r.h5")
    rc = main(["collect", "--env", "reacher", "--policy", "wall_slide", "--episodes", "2", "--workers", "2",
               "--episode-len", "3", "--image-size", "16", "--no-progress", "--out", out])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "'wall_slide' policy is for two_room only" in line and not os.listdir(tmp_path)


def test_round8_a_workers_value_error_is_sent_as_one_line():
    import queue
    from lewm.collect import _worker
    q = queue.Queue()
    _worker("reacher", {}, 16, "wall_slide", 0, 3, 0.0, 0, 1, q)
    kind, msg = q.get_nowait()
    assert kind == "invalid" and msg.startswith("the 'wall_slide' policy") and "\n" not in msg


def test_round8_an_unreadable_tqdm_variable_is_one_line(tmp_path):
    env = {**os.environ, "TQDM_MININTERVAL": "abc", "PYTHONPATH": ROOT}
    r = subprocess.run([sys.executable, "-m", "lewm", "train", "--data", "x.h5", "--out", "o"], cwd=str(tmp_path),
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip() == ("error: environment variable TQDM_MININTERVAL='abc' is not a number (tqdm reads it for "
                                "its progress bars); set it to one, e.g. TQDM_MININTERVAL=30, or unset it")


# ---------------------------------------------------------------------------------------------
# N14, N15, N24, N30, N32, N23, N31: edited checkpoints and files that are no checkpoint
# ---------------------------------------------------------------------------------------------
def _edit_ckpt(path: str, edit) -> None:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    edit(blob)
    torch.save(blob, path)


def _edit_config(**kw):
    def edit(b):
        b["config"] = json.dumps({**json.loads(b["config"]), **kw})
    return edit


def _first(b, suffix):
    return next(k for k in b["state_dict"] if k.endswith(suffix))


@pytest.mark.parametrize("edit,words", [
    (lambda b: b.__setitem__("state_dict", list(b["state_dict"].values())), "'state_dict' (the weights) must be a dict "
                                                                             "of tensors, got a list"),
    (lambda b: b.pop("state_dict"), "'state_dict' (the weights) must be a dict of tensors, got missing"),
    (lambda b: b["state_dict"].__setitem__(_first(b, "weight"), b["state_dict"][_first(b, "weight")].round().long()),
     "is stored as torch.int64 but the model's is torch.float"),
    (lambda b: b["state_dict"][_first(b, "running_var")].fill_(-1.0), "(a BatchNorm variance) holds negative values"),
    (_edit_config(action_std=[1e-30, 1e-30]), "action_std must be in [1e-07, 1e+06]"),
    (_edit_config(action_std=[1e30, 1e30]), "action_std must be in [1e-07, 1e+06]"),
    (_edit_config(action_mean=[1e30, -1e30]), "action_mean must be within +-1e+06"),
], ids=["N14 state_dict a list", "N15 no state_dict", "N24 int64 weight", "N30 negative running_var",
        "N23 action_std 1e-30", "N23 action_std 1e30", "N31 action_mean 1e30"])
def test_round8_an_edited_checkpoint_is_one_line_naming_it(edit, words, ckpt, capsys):
    _edit_ckpt(ckpt, edit)
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and ckpt in line and words in line, line


def test_round8_action_stats_keep_every_real_scale():
    from lewm.config import LeWMConfig, ModelConfig
    floor = float(np.float32(1e-6))  # training's floor for a constant action, as float32 stores it
    LeWMConfig(model=ModelConfig(action_dim=2), action_mean=(-300.0, 512.0), action_std=(floor, 200.0))


@pytest.mark.parametrize("content,words", [
    (b'{"step": 1}\n{"step": 2}\n', "not a checkpoint, it is a JSON-lines log"),
    (b"hello", "not a checkpoint, it is a text file"),
    (None, "holds Python objects other than tensors"),
], ids=["N32 metrics.jsonl", "text", "foreign pickle"])
def test_round8_a_file_that_is_no_checkpoint_says_what_it_is_never_weights_only_false(content, words, tmp_path, capsys):
    import fractions
    p = str(tmp_path / "x.pt")
    if content is None:
        torch.save({"a": fractions.Fraction(1, 3)}, p)
    else:
        open(p, "wb").write(content)
    rc = main(["eval", "--checkpoint", p, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and p in line and words in line and "weights_only" not in line


# ---------------------------------------------------------------------------------------------
# N16, N29: an optimizer state that does not fit; N26: resuming on other data says so
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit,words", [
    (lambda o: "garbage", "'str' object has no attribute"),
    (lambda o: {"state": {}, "param_groups": [{"params": [0, 1], "lr": 1}]}, "parameter group"),
    (lambda o: {**o, "state": {**o["state"], 0: {**o["state"][0], "exp_avg": torch.zeros(3, 3)}}}, "moments of shape (3, 3)"),
], ids=["N16 a string", "N29 another model's groups", "another model's shapes"])
def test_round8_a_resume_with_an_unusable_optimizer_state_is_one_line(edit, words, tiny_run, syn_h5, tmp_path, capsys):
    run = str(tmp_path / "run")
    shutil.copytree(tiny_run, run)
    _edit_ckpt(run + "/last.pt", lambda b: b.__setitem__("optimizer", edit(b["optimizer"])))
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", run, "--steps", "3", "--batch-size", "4"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and f"{run}/last.pt: its optimizer state does not fit the model" in line and words in line
    assert "python -m lewm export --checkpoint" in line and "--no-resume" in line


def test_round8_resuming_on_other_data_names_the_action_statistics_change(tiny_run, syn_h5, tmp_path, capsys):
    run, other = str(tmp_path / "run"), str(tmp_path / "other.h5")
    shutil.copytree(tiny_run, run)
    shutil.copy(syn_h5, other)
    with h5py.File(other, "a") as f:
        f["action"][...] = f["action"][()] * 2.0
    assert main(["train", "--preset", "cpu-tiny", "--data", other, "--out", run, "--steps", "3", "--batch-size", "4",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"the action statistics (mean, std), re-estimated on --data {other} (other data than the run's?)" in out
    assert main(["train", "--preset", "cpu-tiny", "--data", other, "--out", run, "--steps", "4", "--batch-size", "4",
                 "--threads", "1"]) == 0
    assert "note:" not in capsys.readouterr().out  # the same data again: nothing to say


# ---------------------------------------------------------------------------------------------
# N17: a flag and --set that give one field two values
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,words", [
    (["--workers", "0", "--set", "train.num_workers=2"], "--workers 0 and --set train.num_workers=2"),
    (["--steps", "2", "--set", "train.steps=5"], "--steps 2 and --set train.steps=5"),
    (["--batch-size", "4", "--set", "train.batch_size=8"], "--batch-size 4 and --set train.batch_size=8"),
    (["--history", "1", "--set", "model.history=2"], "--history 1 and --set model.history=2"),
    (["--compile", "--set", "train.compile=off"], "--compile and --set train.compile=False"),
])
def test_round8_a_flag_and_set_disagreeing_is_refused(extra, words, syn_h5, tmp_path, capsys):
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(tmp_path / "r")] + extra)
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and words in line and "two values; give it once" in line and not (tmp_path / "r").exists()


def test_round8_a_flag_and_set_agreeing_is_fine():
    from lewm.cli import _check_flags_agree_with_set, _flag_settings
    from lewm.config import apply_set_overrides, get_preset
    a = argparse.Namespace(history=None, latent_dim=None, frameskip=None, lr=0.001, batch_size=4, seed=None,
                           workers=None, steps=5, compile=False, precision=None, lam=None,
                           overrides=["train.batch_size=4", "train.lr=1e-3", "train.steps=5", "train.compile=false"])
    cfg = apply_set_overrides(get_preset("cpu-tiny").with_overrides(**_flag_settings(a)), a.overrides)
    _check_flags_agree_with_set(a, cfg)
    assert (cfg.train.batch_size, cfg.train.lr, cfg.train.steps) == (4, 0.001, 5)


# ---------------------------------------------------------------------------------------------
# N18, N28, N34: the planner line says what runs; stored settings are named as the source
# ---------------------------------------------------------------------------------------------
def test_round8_flags_a_solver_ignores_are_refused_and_the_line_is_honest(ckpt, tmp_path):
    from lewm.evaluate import resolve_planner
    with pytest.raises(ValueError, match=r"^--stop-tol: the grad solver does not use it"):
        resolve_planner(ckpt, flags={"solver": "grad", "stop_tol": 0.1})
    with pytest.raises(ValueError, match=r"^--samples, --topk: the grad solver does not use them"):
        resolve_planner(ckpt, flags={"solver": "grad", "num_samples": 20, "topk": 5})
    with pytest.raises(ValueError, match=r"^--topk: the mppi solver does not use it"):
        resolve_planner(ckpt, flags={"solver": "mppi", "topk": 50, "num_samples": 20})
    pcfg, line = resolve_planner(ckpt, flags={"solver": "mppi", "num_samples": 4})  # the default top 30 > 4: unused
    assert pcfg.num_samples == 4 and line.startswith("planner: mppi 4 samples / 10 iterations, temperature 0.1,")
    assert "top" not in line.split(" — ")[0]
    _, line = resolve_planner(ckpt, flags={"solver": "grad"})
    assert line.startswith("planner: grad 16 restarts / 10 iterations (30 Adam steps, lr 0.1), horizon 5")
    (tmp_path / "eval.json").write_text(json.dumps({"planner": {"num_samples": 20}}))  # the default top 30 > 20:
    assert resolve_planner(ckpt, flags={"topk": 5})[0].topk == 5  # a flag mends it (the file alone is refused)
    (tmp_path / "eval.json").write_text(json.dumps({"planner": {"solver": "mppi", "num_samples": 20, "topk": 5}}))
    with pytest.raises(ValueError, match=r"^--topk: the mppi solver \(from .*eval.json\) does not use it"):
        resolve_planner(ckpt, flags={"topk": 5})


def test_round8_bad_stored_planner_settings_name_their_source_not_the_flags(ckpt, tmp_path, capsys):
    _edit_ckpt(ckpt, lambda b: b.__setitem__("metrics", json.dumps({"planner": {"num_samples": -5}})))
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and f"{ckpt} (its stored planner settings): planner.num_samples must be in" in line
    assert "--topk" not in line
    os.mkdir(tmp_path / "eval.json")  # N34: a folder where eval.json belongs
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and f"{tmp_path}/eval.json: is a folder" in line


# ---------------------------------------------------------------------------------------------
# N19, N20, N21: flags that were ignored; N27: advice that could not help
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,words", [
    (lambda c, t: ["export", "--checkpoint", c, "--out", t + "/x.pt", "--bn-batches", "3"], "--bn-batches 3 needs --data"),
    (lambda c, t: ["bench", "plan", "--preset", "cpu-tiny", "--precision", "bf16"],
     "--precision bf16 sets the fast path of --compare only"),
    (lambda c, t: ["bench", "train", "--presets", "cpu-tiny", "--precision", "fp32"], "add --compare"),
    (lambda c, t: ["eval", "--checkpoint", c, "--episodes", "1", "--force"], "without --out it does nothing"),
    (lambda c, t: ["bench", "train", "--presets", "cpu-tiny", "--force"], "without --json it does nothing"),
], ids=["N19 export --bn-batches without --data", "N21 bench plan --precision", "bench train --precision",
        "eval --force without --out", "bench --force without --json"])
def test_round8_a_flag_that_would_be_ignored_is_refused(argv, words, ckpt, tmp_path, capsys):
    rc = main(argv(ckpt, str(tmp_path)))
    assert rc == 2 and words in _one_error_line(capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "x.pt")


def test_round8_bn_batches_are_capped_at_one_pass_over_the_file(tiny_run, syn_h5, tmp_path, capsys):
    out = str(tmp_path / "x.pt")
    with pytest.warns(UserWarning, match=r"windows fill \d+ batches of 4; BatchNorm statistics are re-estimated on "
                                         r"those \d+, not 100000"):
        assert main(["export", "--checkpoint", tiny_run + "/last.pt", "--out", out, "--data", syn_h5,
                     "--bn-batches", "100000", "--threads", "1"]) == 0
    frames = int(capsys.readouterr().out.split("re-estimated on ")[1].split()[0])
    assert 0 < frames < 12 * 40 * 3  # at most one pass over the windows (3 frames each), not 1.2 M


def test_round8_report_on_too_small_a_file_does_not_advise_more_max_frames(tiny_run, syn_h5, tmp_path):
    from lewm.data import DataError
    from lewm.report import make_report
    small = str(tmp_path / "small.h5")
    shutil.copy(syn_h5, small)
    with h5py.File(small, "a") as f:  # one episode of 40 frames: 8 at the model's frameskip 5
        for k, v in (("ep_len", np.array([40], np.int32)), ("ep_offset", np.array([0], np.int64))):
            del f[k]
            f[k] = v
    with pytest.raises(DataError, match=r"only 8 frames encoded .* at least 40: use a larger data file \(more "
                                        r"episodes\)$"):
        make_report(tiny_run + "/last.pt", small, str(tmp_path / "rep"), quick=True, max_frames=100000,
                    progress=False, landscape_goals=0)
    assert not (tmp_path / "rep").exists()
