"""Issue 16, round 2 ("nothing lost, nothing silent"): the classes of failure a second hostile
session found. Each expected failure is one line ``error: ...`` naming the file or field, exit 2,
and leaves every input intact; an interrupted evaluation keeps what it finished."""
from __future__ import annotations

import json
import os
import shutil
import warnings
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch

from lewm.cli import main

from _cli_errors import one_error_line  # noqa: E402
from lewm.config import LeWMConfig, ModelConfig
from lewm.data import DataError
from lewm.validate import check_dataset

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "two_room", "model.pt")


_one_error_line = one_error_line  # tests/_cli_errors.py: the project's bar, shared


def _replace(f: h5py.File, key: str, value) -> None:
    del f[key]
    f[key] = value


# ---------------------------------------------------------------------------------------------
# Episode index: 1-D whole numbers, episodes that do not share rows
# ---------------------------------------------------------------------------------------------
LAYOUTS = {  # name -> (edit of a 4 x 40-frame file, words the error must contain)
    "overlapping episodes": (lambda f: _replace(f, "ep_offset", np.array([0, 20, 40, 60])), "overlap"),
    "ep_len float": (lambda f: _replace(f, "ep_len", np.array([40.7, 40, 40, 39.2])), "'ep_len' must be a 1-D array"),
    "ep_len 2-D": (lambda f: (_replace(f, "ep_len", np.full((2, 2), 40, np.int32)),
                              _replace(f, "ep_offset", np.array([[0, 40], [80, 120]]))), "'ep_len' must be a 1-D"),
    "ep_len scalar": (lambda f: (_replace(f, "ep_len", np.int32(160)), _replace(f, "ep_offset", np.int64(0))),
                      "'ep_len' must be a 1-D"),
    "ep_offset float": (lambda f: _replace(f, "ep_offset", np.array([0.0, 40, 80, 120])), "'ep_offset' must be"),
}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, syn_h5):
    """One broken copy of the synthetic file per entry of LAYOUTS (the first 4 episodes of 40 frames)."""
    d = tmp_path_factory.mktemp("layouts")
    out = {}
    for name, (edit, _) in LAYOUTS.items():
        p = str(d / (name.replace(" ", "_") + ".h5"))
        shutil.copy(syn_h5, p)
        with h5py.File(p, "a") as f:
            _replace(f, "ep_len", np.full(4, 40, np.int32))
            _replace(f, "ep_offset", np.arange(4) * 40)
            edit(f)
        out[name] = p
    return out


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_bad_episode_index_is_named(name, layouts):
    with pytest.raises(DataError, match=LAYOUTS[name][1]):
        check_dataset(layouts[name])


def test_bad_episode_index_through_the_cli(layouts, tmp_path, capsys):
    """The 2-D ep_len was a traceback (IndexError) in train."""
    rc = main(["train", "--preset", "cpu-tiny", "--data", layouts["ep_len 2-D"], "--out", str(tmp_path / "r")])
    assert rc == 2 and "'ep_len'" in _one_error_line(capsys.readouterr().err)


def test_episodes_in_any_order_are_fine(tmp_path, syn_h5):
    p = str(tmp_path / "rev.h5")
    shutil.copy(syn_h5, p)
    with h5py.File(p, "a") as f:
        n = len(f["ep_len"])
        _replace(f, "ep_offset", f["ep_offset"][:][::-1].copy())
        _replace(f, "ep_len", f["ep_len"][:][::-1].copy())
    assert check_dataset(p)["num_episodes"] == n


# ---------------------------------------------------------------------------------------------
# A batch far larger than the data (gigabytes per step: it looked like a hang)
# ---------------------------------------------------------------------------------------------
def test_batch_larger_than_the_training_windows_is_refused(syn_h5, tmp_path, capsys):
    out = str(tmp_path / "r")
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--batch-size", "100000"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "train.batch_size 100000" in line and "training windows" in line
    assert not os.path.exists(os.path.join(out, "last.pt"))


# ---------------------------------------------------------------------------------------------
# Outputs that would destroy an input or another dataset / checkpoint
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def ckpt(tmp_path):
    p = str(tmp_path / "model.pt")
    shutil.copy(SHIPPED, p)
    return p


def _sig(path: str) -> bytes:
    return open(path, "rb").read()


def test_export_never_overwrites_its_checkpoint_even_with_force(ckpt, capsys):
    before = _sig(ckpt)
    rc = main(["export", "--checkpoint", ckpt, "--out", ckpt, "--force"])
    assert rc == 2 and "is the --checkpoint file" in _one_error_line(capsys.readouterr().err)
    assert _sig(ckpt) == before


@pytest.mark.parametrize("victim", ["dataset", "checkpoint"])
@pytest.mark.parametrize("cmd", ["bench train", "eval"])
def test_a_json_output_never_replaces_a_dataset_or_checkpoint(cmd, victim, ckpt, syn_h5, tmp_path, capsys):
    """`bench train --json x.h5` used to overwrite the dataset with the benchmark's rows."""
    target = str(tmp_path / ("v.h5" if victim == "dataset" else "v.pt"))
    shutil.copy(syn_h5 if victim == "dataset" else ckpt, target)
    before = _sig(target)
    argv = (["bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--warmup", "0", "--json", target]
            if cmd == "bench train" else ["eval", "--checkpoint", ckpt, "--episodes", "1", "--out", target])
    rc = main(argv)
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and target in line and ("HDF5" in line if victim == "dataset" else "a checkpoint" in line)
    assert _sig(target) == before


# ---------------------------------------------------------------------------------------------
# Action statistics that would broadcast or divide by zero without a word
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mean,std,words", [
    ((0.0,), (1.0, 1.0), "action_mean has 1 number(s) but model.action_dim is 2"),
    ((0.0, 0.0), (1.0, 0.0), "action_std must be > 0"),
    ((0.0, float("nan")), (1.0, 1.0), "action_mean must be finite"),
    ((), (1.0, 1.0, 1.0), "action_std has 3"),
])
def test_action_stats_must_fit_the_model(mean, std, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        LeWMConfig(model=ModelConfig(action_dim=2), action_mean=mean, action_std=std)


def test_a_checkpoint_with_edited_action_stats_is_refused(ckpt, capsys):
    blob = torch.load(ckpt, map_location="cpu", weights_only=False)
    cfg = json.loads(blob["config"])
    cfg["action_mean"] = [0.0]
    blob["config"] = json.dumps(cfg)
    torch.save(blob, ckpt)
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and ckpt in line and "action_mean has 1 number(s)" in line


def test_with_overrides_checks_the_finished_config():
    """Setting action_mean and action_std together (training does) is not checked half-way."""
    cfg = LeWMConfig(model=ModelConfig(action_dim=3))
    out = cfg.with_overrides(env="two_room", action_mean=(0.0, 0.0, 0.0), action_std=(1.0, 1.0, 1.0))
    assert out.action_std == (1.0, 1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Ctrl-C during eval: the finished episodes are written, marked interrupted
# ---------------------------------------------------------------------------------------------
def test_interrupted_eval_keeps_its_finished_episodes(ckpt, tmp_path, monkeypatch, capsys):
    import lewm.evaluate as ev
    calls = []

    def fake_episode(env, model, cfg, pcfg, s, g, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return SimpleNamespace(success=len(calls) == 1, plan_seconds=[0.01], plan_iterations=[10], steps=3,
                               first_success_step=None, states=[s, g])

    monkeypatch.setattr(ev, "run_episode", fake_episode)
    out = str(tmp_path / "ev.json")
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "5", "--budget", "3", "--out", out])
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted after 2 of 5 episodes" in err
    res = json.load(open(out))
    assert res["interrupted"] is True and res["episodes"] == 2 and res["episodes_requested"] == 5
    assert len(res["per_episode"]) == 2 and res["successes"] == 1 and res["success_rate"] == 0.5


def test_eval_interrupted_before_any_episode_writes_nothing(ckpt, tmp_path, monkeypatch, capsys):
    import lewm.evaluate as ev

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "run_episode", interrupt)
    out = str(tmp_path / "ev.json")
    assert main(["eval", "--checkpoint", ckpt, "--episodes", "2", "--out", out]) == 130
    assert not os.path.exists(out) and "interrupted" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The lab's path check: what is not a path is refused, never turned into one
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", [None, b"/tmp/x.h5", 5, "\ud800.h5", "data/\x00.h5"])
def test_confine_refuses_what_is_not_a_path(typed, tmp_path):
    from app import safety
    with pytest.raises(safety.PathNotAllowed, match="not a (valid )?path"):
        safety.confine(typed, [str(tmp_path)], str(tmp_path))


def test_a_dataset_being_written_is_named_as_such(syn_h5, tmp_path, capsys):
    """A file another process holds open for writing (HDF5's lock): say so, not 'not readable'."""
    p = str(tmp_path / "busy.h5")
    shutil.copy(syn_h5, p)
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    w = ctx.Process(target=_hold_for_writing, args=(p, ready, done))
    w.start()
    try:
        assert ready.wait(30)
        rc = main(["train", "--preset", "cpu-tiny", "--data", p, "--out", str(tmp_path / "r")])
        line = _one_error_line(capsys.readouterr().err)
        assert rc == 2 and p in line and "open for writing" in line
    finally:
        done.set()
        w.join(30)


def _hold_for_writing(path, ready, done):
    with h5py.File(path, "a"):
        ready.set()
        done.wait(30)


# ---------------------------------------------------------------------------------------------
# Settings that were silently replaced: a pinned action size, an edited checkpoint step
# ---------------------------------------------------------------------------------------------
def test_a_pinned_action_dim_must_be_the_datas(syn_h5, tmp_path, capsys):
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(tmp_path / "r"),
               "--set", "model.action_dim=5"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "actions have 2 dims (key 'action')" in line and "expects 5" in line


@pytest.mark.parametrize("step,metrics,words", [(-5, "{}", "its step must be a whole number >= 0, got -5"),
                                                (2.5, "{}", "its step must be"),
                                                (3, "[1, 2]", "its metrics are not a JSON object"),
                                                (3, "{nope", "its metrics are not a JSON object")])
def test_an_edited_checkpoint_step_or_metrics_is_refused(step, metrics, words, ckpt, syn_h5, tmp_path, capsys):
    blob = torch.load(ckpt, map_location="cpu", weights_only=False)
    blob["step"], blob["metrics"] = step, metrics
    torch.save(blob, ckpt)
    rc = main(["eval", "--checkpoint", ckpt, "--episodes", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and ckpt in line and words in line


# ---------------------------------------------------------------------------------------------
# Memory: a model too big is refused before it is built; an allocator's refusal is one line
# ---------------------------------------------------------------------------------------------
def test_a_model_too_big_for_memory_is_refused_before_building(syn_h5, tmp_path, capsys):
    """--set model.pred_dim_head=1e8 was a traceback from the CPU allocator (76.8 GB); 1e8 is now past the field's
    range (round 27), so the widest heads and the deepest predictor the ranges allow (2.2 trillion parameters, more
    memory than any machine has) stand in for it."""
    rc = main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(tmp_path / "r"),
               "--set", "model.pred_dim_head=65536", "--set", "model.pred_heads=1024", "--set", "model.pred_depth=256"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "billion parameters" in line and "GiB" in line
    assert not os.path.exists(tmp_path / "r")


@pytest.mark.parametrize("exc,expected", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"), True),
    (MemoryError(), True),
    (torch.cuda.OutOfMemoryError("CUDA out of memory"), True),
    (RuntimeError("shape mismatch"), False),  # a bug: keeps its traceback
])
def test_out_of_memory_is_one_line_other_errors_are_bugs(exc, expected, monkeypatch, capsys):
    import lewm.cli as cli

    def boom(a):
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "export", ("lewm.cli", "add_export_args", "run_export", "x"))
    monkeypatch.setattr(cli, "run_export", boom)
    argv = ["export", "--checkpoint", "c.pt", "--out", "o.pt"]
    if not expected:
        with pytest.raises(RuntimeError, match="shape mismatch"):
            main(argv)
        return
    assert main(argv) == 2
    assert "out of memory" in _one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------
# Devices and pipes: never read (blocks for ever), never replaced (as root, /dev/null became a file)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def fifo(tmp_path):
    p = str(tmp_path / "pipe.h5")
    os.mkfifo(p)
    return p


@pytest.mark.parametrize("argv", [
    lambda f, c, d, t: ["train", "--preset", "cpu-tiny", "--data", f, "--out", t + "/r"],
    lambda f, c, d, t: ["eval", "--checkpoint", f, "--episodes", "1"],
    lambda f, c, d, t: ["eval", "--checkpoint", c, "--episodes", "1", "--data", f],
    lambda f, c, d, t: ["train", "--preset", "cpu-tiny", "--data", d, "--out", t + "/r", "--init", f],
    lambda f, c, d, t: ["collect", "--env", "two_room", "--episodes", "1", "--out", f, "--no-progress"],
    lambda f, c, d, t: ["export", "--checkpoint", c, "--out", f, "--force"],
    lambda f, c, d, t: ["eval", "--checkpoint", c, "--episodes", "1", "--out", f],
    lambda f, c, d, t: ["bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--json", f],
], ids=["train --data", "eval --checkpoint", "eval --data", "train --init", "collect --out", "export --out",
        "eval --out", "bench --json"])
def test_a_pipe_is_refused_as_input_and_output(argv, fifo, ckpt, syn_h5, tmp_path, capsys):
    rc = main(argv(fifo, ckpt, syn_h5, str(tmp_path)))
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and fifo in line and ("device or pipe" in line or "not a regular file" in line)
    assert not os.path.isfile(fifo) and os.path.exists(fifo)  # still the pipe


def test_rows_of_no_episode_are_neither_checked_nor_counted(tmp_path, syn_h5):
    """Episodes shorter than their slots leave rows that no window reads: their NaN actions are not
    'inside an episode' and their values do not enter the action statistics."""
    from lewm.data import compute_action_stats
    p = str(tmp_path / "gaps.h5")
    shutil.copy(syn_h5, p)
    with h5py.File(p, "a") as f:
        n = len(f["ep_len"])
        _replace(f, "ep_len", np.full(n, 30, np.int32))
        _replace(f, "ep_offset", np.arange(n) * 40)
        a = f["action"][:]
        a[35::40] = np.nan  # in the gaps
        a[36::40] = 1e6  # in the gaps: would wreck the statistics
        _replace(f, "action", a)
    check_dataset(p)
    stats, _ = compute_action_stats(p, np.full(n, 30), np.arange(n) * 40)
    assert np.all(np.isfinite(stats.mean)) and np.all(np.abs(stats.mean) < 10)


# ---------------------------------------------------------------------------------------------
# Round 3: what round 2 left "by design" -- nothing replaced, nothing changed silently
# ---------------------------------------------------------------------------------------------
def _collect_argv(out: str, *extra: str) -> list[str]:
    return ["collect", "--env", "two_room", "--episodes", "1", "--episode-len", "4", "--image-size", "16",
            "--workers", "1", "--no-progress", "--out", out, *extra]


def test_collect_never_replaces_a_dataset_without_force(syn_h5, tmp_path, capsys):
    """`collect --out data.h5` over a 2000-episode file replaced it: now refused unless --force."""
    target = str(tmp_path / "data.h5")
    shutil.copy(syn_h5, target)
    before = _sig(target)
    rc = main(_collect_argv(target))
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and target in line and "--force" in line and _sig(target) == before
    assert main(_collect_argv(target, "--force")) == 0
    with h5py.File(target, "r") as f:
        assert f.attrs["env"] == "two_room" and len(f["ep_len"]) == 1


def test_an_optional_env_that_is_not_installed_names_its_package(tmp_path, capsys):
    from lewm.envs import list_envs
    if "gym_pusht" in list_envs():
        pytest.skip("gym-pusht is installed here")
    argv = _collect_argv(str(tmp_path / "g.h5"))
    argv[argv.index("two_room")] = "gym_pusht"
    rc = main(argv)
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "requirements-field.txt" in line and not os.path.exists(tmp_path / "g.h5")


@pytest.mark.parametrize("argv", [["train", "--preset", "cpu-tiny", "--steps", "1"], ["eval", "--episodes", "1"]])
def test_an_empty_device_is_not_auto(argv, ckpt, syn_h5, tmp_path, capsys):
    """`--device ''` (a script's unset variable) used to mean auto."""
    extra = ["--data", syn_h5, "--out", str(tmp_path / "r")] if argv[0] == "train" else ["--checkpoint", ckpt]
    rc = main(argv + extra + ["--device", ""])
    assert rc == 2 and "is not a device" in _one_error_line(capsys.readouterr().err)


def test_changed_settings_name_what_an_optimisation_stage_changes():
    from lewm.config import get_preset
    from lewm.config import changed_settings
    cfg = get_preset("cpu-tiny")
    new = cfg.with_overrides(train={"lr": cfg.train.lr / 2, "batch_size": 7, "steps": 99, "time_budget_s": 60.0},
                             sigreg={"weight": 0.5})
    got = changed_settings(cfg, new)
    assert got == [f"train.lr {cfg.train.lr} -> {cfg.train.lr / 2}", f"train.batch_size {cfg.train.batch_size} -> 7",
                   f"sigreg.weight {cfg.sigreg.weight} -> 0.5"]
    assert changed_settings(cfg, cfg.with_overrides(train={"steps": 5, "num_workers": 2})) == []


def test_resuming_with_another_learning_rate_says_so(syn_h5, tmp_path, capsys, one_thread):
    """Resuming with another batch size or learning rate continued silently with the new ones."""
    out = str(tmp_path / "run")
    base = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", out, "--batch-size", "4"]
    assert main(base + ["--steps", "1"]) == 0
    capsys.readouterr()
    assert main(base + ["--steps", "2", "--lr", "1e-4"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note:")]
    assert len(lines) == 1 and "train.lr" in lines[0] and "-> 0.0001" in lines[0], lines


def test_eval_with_more_pairs_than_episodes_warns(syn_h5):
    from lewm.evaluate import eval_pairs
    with pytest.warns(UserWarning, match="drawn from only 12 usable episodes"):
        pairs = eval_pairs("two_room", 30, data=syn_h5, offset=25)
    assert len(pairs) == 30


# ---------------------------------------------------------------------------------------------
# Round 4: names too long, foreign attributes, edited checkpoint configs, NaN weights, empty flags
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    lambda c, d, n: ["eval", "--checkpoint", c, "--episodes", "1", "--out", n + ".json"],
    lambda c, d, n: ["bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--json", n + ".json"],
    lambda c, d, n: ["export", "--checkpoint", c, "--out", n + ".pt"],
    lambda c, d, n: ["train", "--preset", "cpu-tiny", "--data", d, "--out", n + "/run"],
    lambda c, d, n: ["collect", "--env", "two_room", "--episodes", "1", "--no-progress", "--out", n + ".h5"],
    lambda c, d, n: ["report", "--checkpoint", c, "--data", d, "--out", n],
], ids=["eval --out", "bench --json", "export --out", "train --out", "collect --out", "report --out"])
def test_a_name_too_long_is_refused_before_the_work(argv, ckpt, syn_h5, tmp_path, capsys):
    """ENAMETOOLONG surfaced after the evaluation / benchmark / report, naming a temporary file."""
    name = str(tmp_path / ("n" * 300))
    rc = main(argv(ckpt, syn_h5, name))
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "a name of 30" in line and "bytes" in line and os.listdir(tmp_path) == ["model.pt"]


@pytest.mark.parametrize("attr,value,expect", [
    ("env", np.bytes_(b"two_room"), "two_room"),  # another tool's fixed-length string: decoded
    ("env", np.int64(5), "attribute 'env' must be a string, got"),
    ("env", np.array([b"two_room", b"pusht"]), "attribute 'env' must be a string, got"),
    ("state_names", np.array([1, 2]), "attribute 'state_names' must be a string"),
])
def test_a_foreign_env_attribute_is_decoded_or_refused(attr, value, expect, tmp_path, syn_h5):
    """`b'two_room'` and `5` used to become the run's environment name without a word."""
    p = str(tmp_path / "a.h5")
    shutil.copy(syn_h5, p)
    with h5py.File(p, "a") as f:
        f.attrs[attr] = value
    if expect == "two_room":
        assert check_dataset(p)["env"] == "two_room"
        return
    with pytest.raises(DataError, match=expect):
        check_dataset(p)


def _edit_ckpt(path: str, edit) -> None:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    edit(blob)
    torch.save(blob, path)


@pytest.mark.parametrize("edit,words", [
    (lambda b: b.__setitem__("config", "[1, 2]"), "the config must be a JSON object, got list"),
    (lambda b: b.__setitem__("config", json.dumps({**json.loads(b["config"]), "model": None})),
     "config section 'model' must be a JSON object"),
    (lambda b: b.__setitem__("config", json.dumps({k: v for k, v in json.loads(b["config"]).items() if k != "model"})),
     "its config has no 'model' section"),
    (lambda b: b["state_dict"][next(iter(b["state_dict"]))].fill_(float("nan")), "holds NaN/inf"),
], ids=["config a list", "section null", "no model section", "NaN weights"])
@pytest.mark.parametrize("cmd", ["eval", "export"])
def test_an_edited_or_damaged_checkpoint_is_one_line(edit, words, cmd, ckpt, tmp_path, capsys):
    """A NaN checkpoint planned to 0% success (and exported) without a word; the config ones were
    'cannot convert dictionary update sequence element #0' or 600 missing weight names."""
    _edit_ckpt(ckpt, edit)
    argv = (["eval", "--checkpoint", ckpt, "--episodes", "1"] if cmd == "eval"
            else ["export", "--checkpoint", ckpt, "--out", str(tmp_path / "x.pt")])
    rc = main(argv)
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and ckpt in line and words in line and not os.path.exists(tmp_path / "x.pt")


@pytest.mark.parametrize("argv,words", [
    (lambda c: ["eval", "--checkpoint", c, "--episodes", "1", "--out", ""], "--out: no file given"),
    (lambda c: ["eval", "--checkpoint", c, "--episodes", "1", "--gif", ""], "--gif: no folder given"),
    (lambda c: ["bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--json", ""], "--json: no file given"),
    (lambda c: ["eval", "--checkpoint", "", "--episodes", "1"], "--checkpoint: no file given"),
    (lambda c: ["bench", "plan", "--preset", "cpu-tiny", "--rounds", "-1"], "--rounds must be in [3, 100000]"),
])
def test_an_empty_output_or_ignored_flag_is_an_error(argv, words, ckpt, capsys):
    """`--out ''` (a script's unset variable) ran the whole evaluation and wrote nothing; `--rounds -1`
    without --compare was accepted and ignored."""
    rc = main(argv(ckpt))
    assert rc == 2 and words in _one_error_line(capsys.readouterr().err)


def test_the_report_says_what_the_data_cut_from_episodes_and_horizon():
    from lewm.report.build import _cut_note
    assert _cut_note(10, 10, 10, 7) == "; --horizon 10 is cut to 7 blocks, the longest its episodes allow"
    assert _cut_note(50, 4, 5, 7) == " (--episodes 50: the file has only 4 long enough)"
    assert _cut_note(4, 4, 5, 7) == ""


def test_constant_actions_train_with_a_warning(syn_h5, tmp_path, one_thread):
    """Round 4 found it: a dataset whose actions never vary trained without a word."""
    p = str(tmp_path / "still.h5")
    shutil.copy(syn_h5, p)
    with h5py.File(p, "a") as f:
        f["action"][...] = 0.25
    with pytest.warns(UserWarning, match="every action dimension is constant"):
        assert main(["train", "--preset", "cpu-tiny", "--data", p, "--out", str(tmp_path / "r"), "--steps", "1",
                     "--batch-size", "4"]) == 0


# ----------------------------------------------------------------------------- round 5: the Python API
@pytest.fixture(scope="module")
def shipped_planning():
    from lewm import checkpoint
    from lewm.envs import make
    from lewm.planning import PlannerConfig, setup_plan
    model, cfg, _ = checkpoint.load(SHIPPED)
    env = make("two_room", image_size=cfg.model.image_size)
    return model, cfg, env, setup_plan(model, cfg, env, [50.0, 50.0], [150.0, 150.0]), \
        PlannerConfig(num_samples=10, topk=2, iterations=1, horizon=2)


def test_round5_planning_arguments_are_one_value_error_naming_them(shipped_planning):
    """Wrong shapes / types given to lewm.planning were reshape, conv-channel, AttributeError or
    IndexError messages deep inside, or (NaN states, NaN actions, budget 0) a result without a word."""
    from lewm.planning import (clamp_state, execute_plan, imagine_candidate, latent_distances, plan,
                               plan_recorded, run_episode, setup_plan)
    model, cfg, env, setup, pc = shipped_planning
    K, ok = cfg.model.action_block_dim, [50.0, 50.0]
    cases = [
        (lambda: setup_plan(model, cfg, env, [1.0, 2.0, 3.0], ok), r"^start_state: expected 2 finite numbers \(agent_x, agent_y\), got shape \(3,\)"),
        (lambda: setup_plan(model, cfg, env, ok, [np.nan, 5.0]), r"^goal_state: .*got \[nan, 5.0\]"),
        (lambda: setup_plan(model, cfg, env, "50,50", ok), r"^start_state: expected 2 finite numbers"),
        (lambda: clamp_state(env, 5.0), r"^state: .*got shape \(\)"),
        (lambda: plan_recorded(setup, cfg, None), r"^pcfg: expected a lewm.planning.PlannerConfig"),
        (lambda: run_episode(env, model, cfg, {"num_samples": 10}, ok, ok), r"^pcfg: .*got dict"),
        (lambda: run_episode(env, model, cfg, pc, ok, [150.0, 150.0], budget=0), r"^budget must be >= 1, got 0"),
        (lambda: run_episode(env, model, cfg, pc, ok, [np.inf, 1.0], budget=2), r"^goal_state: "),
        (lambda: imagine_candidate(setup, np.zeros((3, 7))), rf"^actions: expected a \(P, {K}\) array .*got shape \(3, 7\)"),
        (lambda: imagine_candidate(setup, np.zeros((0, K))), r"got shape \(0, 10\)"),
        (lambda: imagine_candidate(setup, np.full((2, K), np.nan)), r"^actions: holds NaN/inf"),
        (lambda: execute_plan(env, cfg, ok, ok, np.zeros(K)), r"got shape \(10,\)"),
        (lambda: latent_distances(np.zeros((5, 7)), np.zeros(2)), r"^latent_distances: .*must share D"),
        (lambda: plan(setup.cost, 0, K, pc), r"^plan: horizon must be >= 1, got 0"),
        (lambda: plan(setup.cost, 2, 0, pc), r"^plan: action_dim must be >= 1, got 0"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()


def test_round5_diagnostics_arguments_are_one_value_error(shipped_planning):
    """IndexError / torch permute / LinAlgError deep inside, or a silently unchanged episode."""
    from lewm.diagnostics import (collapse_meters, colour_change, encode_frames, goal_cost_landscape,
                                  perturbation_sweep, state_grid_warp)
    model, cfg, env, _, _ = shipped_planning
    px = np.zeros((6, 64, 64, 3), np.uint8)
    ep = {"pixels": px, "action": np.zeros((6, 2), np.float32)}
    cases = [
        (lambda: goal_cost_landscape(model, env, [150.0, 150.0], n=4, dims=(0, 5)), r"^dims: expected two different state components in 0..1"),
        (lambda: state_grid_warp(model, env, n=4, dims=(1, 1)), r"^dims: "),
        (lambda: encode_frames(model, px[0]), r"^pixels: expected frames \(N, S, S, 3\), got shape \(64, 64, 3\)"),
        (lambda: collapse_meters(np.full((20, 8), np.nan)), r"^collapse_meters: the latents hold NaN/inf \(20 of 20 rows\)"),
        (lambda: colour_change(px, 100), r"^colour change time 100 must be inside the episode \(0..5\)"),
        (lambda: colour_change(px, -1), r"^colour change time -1"),
        (lambda: perturbation_sweep(model, cfg, ep, [2, 100]), r"^frames: \[100\] outside the episode's 6 frames"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()


def test_round5_leftovers_in_the_diagnostics_api_are_one_value_error(shipped_planning):
    """Episode shape / start, num_dirs, max_frames, probe rows and names, a map of < 3 latents, a goal
    of the wrong size and canvas n: each was an IndexError, a reshape error or a silent result."""
    from lewm.diagnostics import (encode_dataset, fit_latent_map, goal_cost_landscape, open_loop_dynamics,
                                  probe, sigreg_view, surprise_trace, temporal_straightness)
    from lewm.planning.stepwise import canvas_grid
    model, cfg, env, _, _ = shipped_planning
    S = cfg.model.image_size
    px, act = np.zeros((12, S, S, 3), np.uint8), np.zeros((12, 2), np.float32)
    z = np.random.default_rng(0).normal(size=(20, 4))
    cases = [
        (lambda: open_loop_dynamics(model, px[:, :32], act, cfg), rf"^pixels must have shape \(L, {S}, {S}, 3\)"),
        (lambda: open_loop_dynamics(model, px, act[:, :1], cfg), r"^actions must have shape \(12, 2\)"),
        (lambda: surprise_trace(model, px, act, cfg, start=-1), r"^start must be a frame index in 0..11, got -1"),
        (lambda: surprise_trace(model, px, act, cfg, start=12), r"^start must be a frame index"),
        (lambda: temporal_straightness(z[0]), r"^temporal_straightness expects latents z of shape \(T, D\)"),
        (lambda: sigreg_view(z, num_dirs=0), r"^num_dirs must be a whole number >= 1, got 0"),
        (lambda: encode_dataset(model, "unused.h5", max_frames=0), r"^max_frames must be a whole number >= 1"),
        (lambda: probe(z, np.zeros((19, 2))), r"^probe: 20 latents but 19 states"),
        (lambda: probe(z, np.zeros((20, 2)), state_names=["x"]), r"^probe: 1 state_names for 2 state columns"),
        (lambda: fit_latent_map(z[:2]), r"^fit_latent_map needs at least 3 latents .* got 2"),
        (lambda: goal_cost_landscape(model, env, [1.0, 2.0, 3.0], n=4), r"^goal_state must have the env's 2 state components"),
        (lambda: canvas_grid(env, n=1), r"^canvas_grid needs n >= 2 points per side, got 1"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()


def test_set_overrides_are_checked_together_and_against_the_datas_image_size(syn_h5, tmp_path, capsys):
    """--set model.patch_size=48 --set model.image_size=96 failed on the first item (32 px preset), and a
    patch size given for 64-px data was checked against the preset's 32 px ("image_size 32 is not ...")."""
    from lewm.config import apply_set_overrides, get_preset
    cfg = apply_set_overrides(get_preset("cpu-tiny"), ["model.patch_size=48", "model.image_size=96"])
    assert (cfg.model.image_size, cfg.model.patch_size) == (96, 48)
    from lewm.synthetic import write_synthetic_h5
    data = write_synthetic_h5(str(tmp_path / "s64.h5"), episodes=4, length=20, image_size=64)  # preset: 32 px
    args = ["train", "--preset", "cpu-tiny", "--data", data, "--steps", "1", "--batch-size", "4"]
    assert main(args + ["--out", str(tmp_path / "a"), "--set", "model.patch_size=48"]) == 2
    assert "model.image_size 64 is not a multiple of model.patch_size 48" in _one_error_line(capsys.readouterr().err)
    assert main(args + ["--out", str(tmp_path / "b"), "--set", "model.patch_size=16"]) == 0  # 32 % 16 == 64 % 16 == 0
    assert "model.image_size 32 -> 64" in capsys.readouterr().out


def test_a_refused_run_leaves_no_empty_out_folder(syn_h5, tmp_path, capsys):
    """--init of another architecture was refused after the run lock had made --out: an empty folder stayed."""
    args = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--batch-size", "4"]
    assert main(args + ["--out", str(tmp_path / "a"), "--steps", "1", "--latent-dim", "8"]) == 0
    capsys.readouterr()
    out = tmp_path / "never"
    assert main(args + ["--out", str(out), "--steps", "3", "--init", str(tmp_path / "a" / "last.pt")]) == 2
    assert "different architecture" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_more_threads_than_cores_is_named(monkeypatch):
    """--threads 999 on 2 cores was taken silently: oversubscription makes matmuls many times slower."""
    import lewm.devices as devices
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    before = torch.get_num_threads()
    try:
        with pytest.warns(UserWarning, match=r"--threads 999 is more than the 2 CPU cores .* \(try --threads 2\)"):
            devices.set_threads(999)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            devices.set_threads(2)
    finally:
        torch.set_num_threads(before)


def test_round6_sigreg_and_planner_arguments_are_one_value_error():
    """num_proj 0, t_max 0 and an empty batch gave NaN or 0 without a word, knots 1 a ZeroDivisionError; a cost
    function of the wrong shape or type an IndexError / AttributeError, and an all-NaN cost a plan of random actions."""
    from lewm.planning import PlannerConfig, plan
    from lewm.sigreg import sigreg
    z, pc = torch.randn(16, 8), PlannerConfig(num_samples=10, topk=2, iterations=2)
    cases = [
        (lambda: sigreg(z, num_proj=0), r"^SIGReg num_proj must be a whole number >= 1, got 0"),
        (lambda: sigreg(z, knots=1), r"^SIGReg knots must be a whole number >= 2"),
        (lambda: sigreg(z, t_max=0.0), r"^SIGReg t_max must be > 0"),
        (lambda: sigreg(torch.randn(0, 8)), r"^SIGReg needs at least one latent"),
        (lambda: plan(lambda a: a.sum(), 3, 2, pc), r"^cost_fn must return a torch tensor of costs of shape \(10,\)"),
        (lambda: plan(lambda a: (a ** 2).sum((1, 2)).numpy(), 3, 2, pc), r"^cost_fn must return a torch tensor .* ndarray"),
        (lambda: plan(lambda a: torch.full((len(a),), float("nan")), 3, 2, pc), r"^cost_fn returned NaN/inf for all 10"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    from lewm import checkpoint
    from lewm.diagnostics import encode_frames
    model, _, _ = checkpoint.load(SHIPPED)
    for px, pattern in [(np.random.rand(2, 64, 64, 3).astype(np.float32), r"^pixels: expected uint8 frames \(0..255\), got torch.float32"),
                        (np.full((2, 64, 64, 3), np.nan, np.float32), r"^pixels: expected uint8 frames"),
                        (np.zeros((2, 3, 64, 64), np.uint8), r"^pixels: expected frames \(N, S, S, 3\) with channels last")]:
        with pytest.raises(ValueError, match=pattern):  # floats in [0, 1] were taken as normalised: a wrong z
            encode_frames(model, px)
    # NaN for some candidates: those are never elites, and the plan is the finite candidates' optimum
    res = plan(lambda a: torch.where(a[:, 0, 0] > 0, float("nan"), (a ** 2).sum((1, 2))), 3, 2,
               PlannerConfig(num_samples=200, topk=10, iterations=5))
    assert np.isfinite(res.cost) and all(bool((it.costs[it.elite_idx].isfinite()).all()) for it in res.iterations)


def test_round6_env_states_and_window_arguments_are_checked(syn_h5):
    """A NaN start or goal state was drawn and stepped without a word; WindowDataset took history 0,
    frameskip 0 and val_fraction 1.5, and split='nope' was a bare KeyError."""
    from lewm.data import WindowDataset
    from lewm.envs import make
    env = make("two_room", image_size=64)
    with pytest.raises(ValueError, match=r"^two_room: state must be finite, got \[nan, 1.0\]"):
        env.reset(state=[np.nan, 1.0])
    with pytest.raises(ValueError, match=r"^two_room: goal must be finite"):
        env.reset(goal=[np.inf, 1.0])
    for kw, pattern in [({"history": 0}, r"history must be a whole number >= 1, got 0"),
                        ({"frameskip": 0}, r"frameskip must be a whole number >= 1, got 0"),
                        ({"split": "nope"}, r"split must be 'train', 'val' or 'all', got 'nope'"),
                        ({"val_fraction": 1.5}, r"val_fraction must be in \[0, 1\), got 1.5")]:
        with pytest.raises(ValueError, match="^WindowDataset: " + pattern):
            WindowDataset(syn_h5, **{"history": 1, "frameskip": 1, **kw})


def test_report_refuses_a_plotly_js_path_that_is_not_there(syn_h5, tmp_path, capsys):
    """--plotly-js ../nope/plotly.js wrote a report.html whose charts never draw, without a word."""
    out = tmp_path / "rep"
    assert main(["report", "--checkpoint", SHIPPED, "--data", syn_h5, "--out", str(out),
                 "--plotly-js", "../nope/plotly.js"]) == 2
    err = _one_error_line(capsys.readouterr().err)
    assert f"no file at {tmp_path / 'nope' / 'plotly.js'}" in err and not (out / "report.html").exists()


def test_a_run_stopped_by_its_time_budget_says_so(syn_h5, tmp_path, capsys, monkeypatch):
    """A run cut short by train.time_budget_s printed 'done: step N ... eff.rank nan' as if finished."""
    import lewm.train as train_mod
    clock = iter(range(0, 10**6, 1000))  # every reading of the clock is 1000 s later
    monkeypatch.setattr(train_mod.time, "perf_counter", lambda: float(next(clock)))
    assert main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(tmp_path / "r"), "--steps", "5",
                 "--batch-size", "4", "--set", "train.time_budget_s=1500"]) == 0
    out, err = capsys.readouterr()
    assert "nan" not in out and "done: step" in out
    assert "of 5: train.time_budget_s=1500 s ran out" in err


@pytest.mark.parametrize("kw, pattern", [
    ({"episodes": 0}, r"^episodes must be >= 1, got 0"),  # was success_rate 0.0 of 0 episodes
    ({"episodes": 1.5}, r"^episodes must be a whole number, got 1.5"),  # was a TypeError in eval_pairs
    ({"budget": 0}, r"^budget must be >= 1"),
    ({"offset": 0}, r"^offset must be >= 1, got 0"),  # goal = start: a 100 % success rate
    ({"pcfg": {"solver": "cem"}}, r"^pcfg: expected a lewm.planning.PlannerConfig"),
])
def test_round5_evaluate_refuses_arguments_that_gave_a_meaningless_rate(kw, pattern):
    from lewm.evaluate import evaluate
    with pytest.raises(ValueError, match=pattern):
        evaluate(SHIPPED, **{"episodes": 1, "progress": False, **kw})


def test_round5_collect_api_never_replaces_a_dataset_and_counts_whole_episodes(tmp_path):
    """lewm.collect.collect replaced an existing dataset without a word (the CLI refused it without
    --force); 1.7 or True episodes and episode_len 2.5 were truncated silently."""
    from lewm.collect import collect
    out = tmp_path / "keep.h5"
    with h5py.File(out, "w") as f:  # an HDF5 file: --force replaces only a file of the same kind (round 8)
        f["precious"] = np.arange(3)
    precious = out.read_bytes()
    with pytest.raises(FileExistsError, match=r"^out .*keep.h5: exists; pass --force"):
        collect("two_room", 1, str(out), image_size=16, episode_len=4, workers=1, progress=False)
    assert out.read_bytes() == precious
    for kw, pattern in (({"episodes": 1.7}, r"^episodes must be a whole number, got 1.7"),
                        ({"episodes": True}, r"^episodes must be a whole number, got True"),
                        ({"episode_len": 2.5}, r"^episode_len must be a whole number, got 2.5"),
                        ({"episode_len": 0}, r"^episode_len must be >= 2, got 0")):
        with pytest.raises(ValueError, match=pattern):
            collect("two_room", **{"episodes": 1, "out": str(tmp_path / "n.h5"), "image_size": 16,
                                   "episode_len": 4, "workers": 1, "progress": False, **kw})
    assert not (tmp_path / "n.h5").exists()
    collect("two_room", 1, str(out), image_size=16, episode_len=4, workers=1, progress=False, force=True)
    with h5py.File(out) as f:
        assert f["ep_len"][:].tolist() == [4]


def test_round5_a_folder_given_as_a_dataset_is_one_line(tmp_path):
    """h5py's errno-21 message spread over lines ("file read failed: time = ..."); the lab showed it."""
    from lewm.data import open_h5
    with pytest.raises(DataError, match=r"is a folder, expected an HDF5 episode file \(.h5\) inside it$"):
        open_h5(str(tmp_path))


# ----------------------------------------------------------------------------- round 7 (session 14)
def _r7_variant(src: str, dst, edit) -> str:
    p = str(dst)
    shutil.copy(src, p)
    with h5py.File(p, "a") as f:
        edit(f)
    return p


@pytest.mark.parametrize("edit,words", [
    (lambda f: (f.__delitem__("pixels"), f.create_group("pixels")), "key 'pixels' is an HDF5 group, expected a dataset"),
    (lambda f: (f.__delitem__("ep_len"), f.create_group("ep_len")), "key 'ep_len' is an HDF5 group"),
    (lambda f: (f.__delitem__("state"), f.create_group("state")), "key 'state' is an HDF5 group"),
    (lambda f: (f.__delitem__("pixels"), f.__setitem__("pixels", h5py.SoftLink("/nope"))),
     "key 'pixels' cannot be opened (a broken or external link?)"),
    (lambda f: _replace(f, "action", np.zeros((len(f["pixels"]), 0), np.float32)), "key 'action' has no column"),
    (lambda f: _replace(f, "state", f["state"][:] > 0), "key 'state' must hold real numbers (int or float), got bool"),
    (lambda f: _replace(f, "state", f["state"][:].astype(np.complex64)), "got complex64"),
    (lambda f: f.attrs.__setitem__("state_names", "x,y,z"),
     "attribute 'state_names' names 3 components ('x,y,z') but key 'state' has 2 columns"),
    (lambda f: _replace(f, "ep_len", np.array([2**63 + 5] + [1] * (len(f["ep_len"]) - 1), np.uint64)),
     "key 'ep_len' holds 9223372036854775813"),
], ids=["pixels a group", "ep_len a group", "state a group", "dangling link", "0 action columns", "bool states",
        "complex states", "3 names for 2 columns", "uint64 ep_len"])
def test_round7_foreign_hdf5_layouts_are_one_line(edit, words, syn_h5, tmp_path, capsys):
    """A group where a dataset belongs was an AttributeError traceback in train; complex states lost their
    imaginary part silently; 0 action columns trained until model.action_dim refused 0; 3 state names for 2
    columns failed the report half-way ("probe: 3 state_names for 2 state columns")."""
    p = _r7_variant(syn_h5, tmp_path / "v.h5", edit)
    rc = main(["train", "--preset", "cpu-tiny", "--data", p, "--out", str(tmp_path / "r"), "--steps", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and p in line and words in line and not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv,words", [
    (lambda c, t: ["export", "--checkpoint", c, "--out", t + "/nd/"], "ends with '/', a folder name; expected a file name"),
    (lambda c, t: _collect_argv(t + "/nd/"), "ends with '/', a folder name"),
    (lambda c, t: ["export", "--checkpoint", c, "--out", t + "/data.h5", "--force"],
     "is an HDF5 episode file; writing a checkpoint there would destroy it"),
    (lambda c, t: _collect_argv(c, "--force"), "is a checkpoint; writing an HDF5 episode file there would destroy it"),
    (lambda c, t: _collect_argv(t + "/x.h5", "--seed", str(2**70)), "--seed must be in [0, 9223372036854775807]"),
], ids=["export to new/", "collect to new/", "export --force onto a dataset", "collect --force onto a checkpoint",
        "huge seed range"])
def test_round7_outputs_of_another_kind_or_a_folder_name(argv, words, ckpt, syn_h5, tmp_path, capsys):
    """`--out new/` failed after the work naming a temporary file ('.tmp-xxxx.pt: Not a directory', h5py's
    errno 2); `--force` replaced a dataset with a checkpoint (and the reverse); a range read 9.22337e+18."""
    shutil.copy(syn_h5, tmp_path / "data.h5")
    before = {p: _sig(p) for p in (ckpt, str(tmp_path / "data.h5"))}
    rc = main(argv(ckpt, str(tmp_path)))
    assert rc == 2 and words in _one_error_line(capsys.readouterr().err)
    assert all(_sig(p) == b for p, b in before.items()) and not (tmp_path / "nd").exists()


def test_round7_a_damaged_metrics_log_neither_stops_a_resume_nor_the_run_page(syn_h5, tmp_path, capsys, one_thread):
    """Bytes that are not UTF-8 stopped the resume with "error: 'utf-8' codec can't decode" (no file named),
    `"step": 1e400` was an OverflowError traceback; the lab's reader failed on a JSON list or number line and
    plotted the string "0.5" and true as numbers."""
    from lewm.runs import read_metrics
    out = tmp_path / "run"
    base = ["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(out), "--batch-size", "4"]
    assert main(base + ["--steps", "2"]) == 0
    log = out / "metrics.jsonl"
    good = log.read_bytes()
    log.write_bytes(good + b'\xff\xfe garbage\n{"step": 1e400}\n[1, 2]\n5\n{"step": 9, "loss": "0.5", "pred_loss": true}\n')
    with pytest.raises(UnicodeDecodeError):  # the run page shows "metrics.jsonl: unreadable (...)", not a silent gap
        read_metrics(str(out))
    log.write_bytes(good + b'{"step": 1e400}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl: a line holds list '\[1, 2\]', expected a JSON object"):
        read_metrics(str(out))
    log.write_bytes(good + b'{"step": 1e400}\n{"step": 9, "loss": "0.5", "pred_loss": true}\n')
    got = read_metrics(str(out))
    assert got["step"].tolist() == [1.0, 2.0, 9.0] and np.isnan(got["loss"][2]) and np.isnan(got["pred_loss"][2])
    log.write_bytes(good + b'\xff\xfe garbage\n{"step": 1e400}\n[1, 2]\n5\n{"step": 9, "loss": "0.5", "pred_loss": true}\n')
    capsys.readouterr()
    assert main(base + ["--steps", "3"]) == 0
    steps = [json.loads(ln)["step"] for ln in log.read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_round7_config_values_from_numpy_or_of_the_wrong_kind():
    """np.int64 / np.float32 fields passed the checks but the checkpoint's JSON could not be written at the end
    of a run; an action_mean array was "truth value of an array is ambiguous", a dict section an AttributeError,
    env=5 became the environment '5'."""
    from lewm.config import SIGRegConfig, TrainConfig
    from lewm.planning import PlannerConfig
    cfg = LeWMConfig(model=ModelConfig(latent_dim=np.int64(32), action_dim=2), train=TrainConfig(compile=np.bool_(False)),
                     sigreg=SIGRegConfig(weight=np.float32(0.5)), action_mean=np.zeros(2), action_std=np.ones(2))
    json.dumps(cfg.to_dict())
    assert type(cfg.model.latent_dim) is int and cfg.action_std == (1.0, 1.0)
    assert type(PlannerConfig(num_samples=np.int64(10), topk=2).num_samples) is int
    for kw, pattern in [({"model": {"latent_dim": 8}}, r"^model must be a ModelConfig, got dict"),
                        ({"env": 5}, r"^env must be a string, got 5"),
                        ({"preset": None}, r"^preset must be a string"),
                        ({"action_mean": "00", "action_std": (1.0, 1.0)}, r"^action_mean must be a list of numbers")]:
        with pytest.raises(ValueError, match=pattern):
            LeWMConfig(**kw)
    with pytest.raises(ValueError, match=r"^action_std must be a list of numbers .* got 5"):
        LeWMConfig.from_dict({"action_std": 5})


def test_round7_solver_arguments_are_checked_before_the_first_candidate():
    """bounds lo > hi planned a constant sequence without a word; NaN bounds or a NaN init_mean blamed "the model
    or the goal"; a wrong-shape init_mean was a broadcast error, a numpy one an AttributeError; the grad solver on
    a cost without gradient was autograd's "element 0 of tensors does not require grad"."""
    from lewm.planning import PlannerConfig, cem, grad_plan, mppi, plan
    cost = lambda a: (a ** 2).sum((1, 2))  # noqa: E731
    pc = PlannerConfig(num_samples=10, topk=2, iterations=1)
    for solver in ("cem", "mppi", "grad"):
        c = PlannerConfig(solver=solver, num_samples=10, topk=2, iterations=1)
        with pytest.raises(ValueError, match=r"^bounds: lo must be <= hi in every dimension"):
            plan(cost, 3, 2, c, bounds=(1.0, -1.0))
        with pytest.raises(ValueError, match=r"^init_mean: holds NaN/inf"):
            plan(cost, 3, 2, c, init_mean=torch.full((3, 2), float("nan")))
    cases = [
        (lambda: plan(cost, 3, 2, pc, bounds=(float("nan"), 1.0)), r"^bounds: must be finite"),
        (lambda: plan(cost, 3, 2, pc, bounds=(torch.zeros(3), torch.ones(3))), r"^bounds: lo and hi must be one number or 2"),
        (lambda: plan(cost, 3, 2, pc, bounds=1.0), r"^bounds: expected a pair \(lo, hi\)"),
        (lambda: plan(cost, 3, 2, pc, init_mean=torch.zeros(4, 2)), r"^init_mean: expected a \(3, 2\) tensor .* got shape \(4, 2\)"),
        (lambda: plan(cost, 3, 2, pc, dtype=torch.int64), r"^dtype must be a floating torch dtype"),
        (lambda: mppi(cost, 3, 2, pc, bounds=(1.0, -1.0)), r"^bounds: lo must be <= hi"),
        (lambda: cem(cost, 3, 2, pc, bounds=(1.0, -1.0)), r"^bounds: lo must be <= hi"),
        (lambda: grad_plan(lambda a: (a.detach() ** 2).sum((1, 2)), 3, 2, PlannerConfig(solver="grad", iterations=1)),
         r"^solver 'grad' needs a differentiable cost_fn"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    assert plan(cost, 3, 2, pc, init_mean=np.zeros((3, 2), np.float32)).actions.shape == (3, 2)  # numpy is converted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one restart: torch's "degrees of freedom <= 0" warning at every step
        plan(cost, 3, 2, PlannerConfig(solver="grad", grad_restarts=1, iterations=1))


def test_round7_diagnostics_envs_and_sigreg_arguments_are_one_error(shipped_planning, syn_h5):
    """sklearn's NaN paragraph / '0 sample(s)' / PCA n_components messages, NaN surprise from NaN actions,
    NaN teleports and landscapes without a word, broadcast and range() errors, a numpy array given to SIGReg
    ("'str' object has no attribute 'type'"), env.step's reshape error and numpy's seed message."""
    from lewm.diagnostics import (encode_dataset, encode_frames, fit_latent_map, goal_cost_landscape, linear_readout,
                                  paired_one_sided, probe, sigreg_view, split_indices, surprise_trace, teleport)
    from lewm.envs import make
    from lewm.sigreg import sigreg
    model, cfg, env, _, _ = shipped_planning
    S, z = cfg.model.image_size, np.random.default_rng(0).normal(size=(20, 4))
    px, act = np.zeros((12, S, S, 3), np.uint8), np.zeros((12, 2), np.float32)
    act_nan = act.copy()
    act_nan[3] = np.nan
    small = make("two_room", image_size=32)
    cases = [
        (lambda: probe(z[:3], np.zeros((3, 2))), r"^probe needs at least 4 latents"),
        (lambda: probe(z, np.full((20, 2), np.nan)), r"^probe: the states hold NaN/inf \(20 of 20 rows\)"),
        (lambda: fit_latent_map(np.full((10, 4), np.nan)), r"^fit_latent_map: the latents hold NaN/inf"),
        (lambda: fit_latent_map(z[:, :1]), r"^fit_latent_map needs latents of at least 2 dimensions"),
        (lambda: sigreg_view(np.full((10, 4), np.nan)), r"^sigreg_view: the latents hold NaN/inf"),
        (lambda: split_indices(10, test_fraction=1.5), r"^test_fraction must be in \(0, 1\), got 1.5"),
        (lambda: surprise_trace(model, px, act_nan, cfg), r"^actions hold NaN/inf at row 3"),
        (lambda: teleport(px, np.zeros((12, 2)), 3, env, delta=[np.nan, 0.0]), r"^teleport delta must be finite"),
        (lambda: goal_cost_landscape(model, env, [np.nan, 50.0], n=3), r"^goal_state must be finite"),
        (lambda: paired_one_sided(np.ones(3), np.ones(4)), r"^paired_one_sided needs two 1-D arrays of the same length"),
        (lambda: linear_readout(z[:1], np.zeros((1, 2))), r"^linear_readout needs >= 3 latents"),
        (lambda: encode_frames(model, px, batch=0), r"^batch must be a whole number >= 1, got 0"),
        (lambda: encode_dataset(model, syn_h5, max_frames=10), r"images are 32x32 but the model expects 64x64"),
        (lambda: small.step(np.zeros(3)), r"^two_room: action must be 2 numbers in \[-1, 1\], got shape \(3,\)"),
        (lambda: small.reset(seed=-1), r"^two_room: seed must be a whole number >= 0 \(or None\), got -1"),
        (lambda: small.reset(seed=1.5), r"^two_room: seed must be a whole number"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    act_end = act.copy()
    act_end[-1] = np.nan  # the file layout's convention: the last row of an episode may be NaN
    surprise_trace(model, px, act_end, cfg)
    with pytest.raises(TypeError, match=r"^SIGReg expects a torch tensor of latents, got ndarray"):
        sigreg(np.random.randn(16, 4))


# ----------------------------------------------------------------------------- round 8 (session 15)
def test_round8_diagnostics_that_answered_nan_or_empty_now_refuse(shipped_planning):
    """Round 7 left these answering NaN or an empty result where nothing can be measured: a 1-frame
    surprise trace, the straightness of 2 frames, no episodes / no landscapes, a split of one row, a
    decoder trained for 0 steps, SIGReg of NaN latents, an image size of 8.5 drawn at 8."""
    from lewm.diagnostics import (landscape_summary, split_indices, surprise_test, surprise_trace,
                                  temporal_straightness, train_decoder)
    from lewm.envs import make
    from lewm.sigreg import sigreg, sigreg_stats
    model, cfg, _, _, _ = shipped_planning
    S = cfg.model.image_size
    z = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    frames = np.zeros((20, 16, 16, 3), np.uint8)
    nan_z = torch.zeros(8, 4)
    nan_z[2, 1] = float("nan")
    cases = [
        (lambda: surprise_trace(model, np.zeros((1, S, S, 3), np.uint8), np.zeros((1, 2)), cfg),
         r"^surprise_trace needs at least 2 kept frames"),
        (lambda: temporal_straightness(np.zeros((2, 3))), r"^temporal_straightness needs at least 3 frames"),
        (lambda: surprise_test(model, cfg, []), r"^surprise_test needs at least one episode"),
        (lambda: landscape_summary([]), r"^landscape_summary needs at least one goal landscape"),
        (lambda: split_indices(1), r"^split_indices needs at least 2 rows"),
        (lambda: train_decoder(z, frames, steps=0), r"^train_decoder: steps must be a whole number >= 1, got 0"),
        (lambda: train_decoder(z, frames, steps=2, lr=float("nan")), r"^train_decoder: lr must be a finite number"),
        (lambda: train_decoder(z[:1], frames[:1], steps=2), r"^train_decoder: latents must be \(N, D\) with N >= 2"),
        (lambda: train_decoder(np.where(z > 2, np.nan, z), frames, steps=2), r"^train_decoder: the latents hold"),
        (lambda: sigreg(nan_z), r"^SIGReg: the latents hold 1 NaN/inf values of 32"),
        (lambda: sigreg_stats(nan_z), r"^SIGReg: the latents hold 1 NaN/inf"),
        (lambda: make("two_room", image_size=8.5), r"^image_size must be a whole number of pixels >= 8, got 8.5"),
        (lambda: make("two_room", image_size=7.5), r"^image_size must be a whole number of pixels >= 8, got 7.5"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    with pytest.warns(UserWarning, match="all 10 rows are in one group"):
        split_indices(10, groups=np.zeros(10))
    # the training loss keeps NaN flowing to the trainer's own guard (no device sync per step)
    assert torch.isnan(sigreg(nan_z, check_finite=False))
    assert make("two_room", image_size=np.int64(16)).image_size == 16


def test_round8_model_operations_name_the_argument(shipped_planning):
    """LeWM.encode / predict / rollout: torch's dtype, conv-channel and matmul messages (float64 or int
    inputs, a wrong latent or block width, empty batches, numpy arrays) and 0-255 float frames encoded
    as garbage. Whole numbers and float64 are converted; fp32 / bf16 pass as they are."""
    model, cfg, _, _, _ = shipped_planning
    S, D, K = cfg.model.image_size, cfg.model.latent_dim, cfg.model.action_block_dim
    px = torch.randint(0, 256, (2, 1, 3, S, S), dtype=torch.uint8)
    z = torch.randn(2, 1, D)
    cases = [
        (lambda: model.encode(px.float()), ValueError, r"^pixels: float frames must be ImageNet-normalised"),
        (lambda: model.encode(px.long()), TypeError, r"^pixels: expected uint8 \(0-255\) or float"),
        (lambda: model.encode(px[:0]), ValueError, r"^pixels: expected shape \(B, T, 3, 64, 64\) with at least one"),
        (lambda: model.encode(px[:, :, :, :16, :16]), ValueError, r"^pixels: the model was trained on 64x64 frames"),
        (lambda: model.predict(torch.randn(2, 1, D + 1), torch.randn(2, 1, K)), ValueError, r"^z: expected shape \(B, T, 2\)"),
        (lambda: model.predict(z, torch.randn(2, 1, K + 1)), ValueError, r"^actions: expected shape \(B, T, 10\)"),
        (lambda: model.rollout(torch.randn(1, 1, D), torch.randn(3, 0, K)), ValueError, r"^action_blocks: .* dimension 1"),
        (lambda: model.rollout(torch.randn(1, 1, D), torch.randn(3, 2, K + 1)), ValueError, r"^action_blocks: expected"),
        (lambda: model.rollout(torch.randn(1, 1, D), np.zeros((3, 2, K))), TypeError, r"^action_blocks: expected a torch tensor"),
        (lambda: model.rollout(torch.randn(1, 0, D), torch.randn(3, 2, K)), ValueError, r"^z_hist: .* dimension 1"),
        (lambda: model.rollout(torch.randn(1, 2, D), torch.randn(3, 2, K), torch.randn(1, 2, K)), ValueError,
         r"^act_hist: expected one action block between each two of the 2 context frames"),
    ]
    with torch.no_grad():
        for fn, exc, pattern in cases:
            with pytest.raises(exc, match=pattern):
                fn()
        want = model.predict(z, torch.ones(2, 1, K))
        torch.testing.assert_close(model.predict(z.double(), torch.ones(2, 1, K, dtype=torch.long)), want)


def test_round8_planning_arguments(shipped_planning):
    """A goal of another width failed at the first call, 1e10 samples in the allocator, init_std 1e30 was
    blamed on the model, generator=5 and device='meta' were torch errors, a context with autograd history
    broke the grad solver, frameskip 0 gave empty bounds, and a two_room model planned in a pusht world."""
    from lewm.data import ActionStats
    from lewm.envs import make
    from lewm.planning import PlannerConfig, cem, plan
    from lewm.planning.cost import LatentGoalCost
    from lewm.planning.env_space import action_bounds
    from lewm.planning.episode import run_episode
    model, cfg, _, _, pcfg = shipped_planning
    D, K = cfg.model.latent_dim, cfg.model.action_block_dim
    cost = LatentGoalCost(model, torch.randn(1, 1, D), torch.randn(1, D))
    cases = [
        (lambda: LatentGoalCost(model, torch.randn(1, 1, D), torch.randn(1, D + 1)), ValueError, r"^z_goal: expected 2 numbers"),
        (lambda: PlannerConfig(num_samples=10**10), ValueError, r"^planner.num_samples must be in \[1, 100000\]"),
        (lambda: PlannerConfig(init_std=1e30), ValueError, r"^planner.init_std must be in \(0, 100\]"),
        (lambda: PlannerConfig(grad_lr=1e30), ValueError, r"^planner.grad_lr must be in \(0, 10\]"),
        (lambda: cem(cost, 2, K, pcfg, generator=5), TypeError, r"^generator must be a torch.Generator"),
        (lambda: cem(cost, 2, K, pcfg, device="meta"), ValueError, r"^device 'meta' holds no numbers"),
        (lambda: action_bounds(ActionStats(np.zeros(2, np.float32), np.ones(2, np.float32)), 0), ValueError,
         r"^frameskip must be a whole number >= 1, got 0"),
    ]
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()
    with torch.no_grad():
        assert cem(cost, 2, K, pcfg, dtype=torch.float64).actions.dtype == torch.float64
    z_enc = model.encode(torch.randint(0, 256, (1, 1, 3, 64, 64), dtype=torch.uint8))  # carries autograd history
    grad = PlannerConfig(solver="grad", iterations=2, grad_restarts=2, horizon=2, num_samples=10, topk=2)
    plan(LatentGoalCost(model, z_enc, torch.randn(1, D)), 2, K, grad)
    from lewm.planning import setup_plan
    with pytest.raises(ValueError, match=r"^two_room: start_state \[112, 30\] is outside the world: .* not inside the wall"):
        setup_plan(model, cfg, make("two_room", image_size=64), [112.0, 30.0], [100.0, 100.0])  # inside the wall
    env = make("pusht", image_size=64)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"^the model was trained on 'two_room' but the environment is 'pusht'"):
        run_episode(env, model, cfg, pcfg, env.get_state(), env.get_state(), budget=5)


def test_round10_nothing_is_lost_and_nothing_hangs(syn_h5, tmp_path, shipped_planning):
    """Round 10's worst: checkpoint.save replaced a dataset, write_synthetic_h5 replaced a dataset or a
    checkpoint, a pipe named weights.pt hung the official loader, train(val_batches=2.5) failed after the
    whole run and -1 stored a NaN validation loss."""
    from lewm import checkpoint
    from lewm.official import _read_weights
    from lewm.synthetic import write_synthetic_h5
    from lewm.train import train
    model, cfg, _, _, _ = shipped_planning
    data = str(tmp_path / "d.h5")
    shutil.copy(syn_h5, data)
    before = open(data, "rb").read()
    with pytest.raises(ValueError, match=r"has a dataset's extension \(\.h5\); a checkpoint is a \.pt file"):
        checkpoint.save(data, model, cfg)
    disguised = str(tmp_path / "d.pt")  # a dataset under a checkpoint's name is not replaced either
    shutil.copy(syn_h5, disguised)
    with pytest.raises(ValueError, match=r"holds an HDF5 episode file, not a checkpoint"):
        checkpoint.save(disguised, model, cfg)
    assert open(disguised, "rb").read() == before
    with pytest.raises(ValueError, match=r"exists; it writes only a new file"):
        write_synthetic_h5(data, episodes=2)
    assert open(data, "rb").read() == before
    with pytest.raises(ValueError, match=r"write_synthetic_h5: episodes must be >= 1"):
        write_synthetic_h5(str(tmp_path / "new.h5"), episodes=0)
    fifo = str(tmp_path / "weights.pt")
    os.mkfifo(fifo)
    with pytest.raises(Exception, match=r"is not a regular file"):
        _read_weights(fifo)
    from lewm.config import get_preset
    tiny = get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 8})
    for bad, words in ((2.5, "must be a whole number"), (-1, "must be >= 0")):
        with pytest.raises(ValueError, match=f"val_batches {words}"):
            train(tiny, syn_h5, str(tmp_path / f"run{bad}"), steps=1, device="cpu", progress=False, val_batches=bad)
        assert not os.path.exists(str(tmp_path / f"run{bad}" / "last.pt"))


@pytest.mark.parametrize("script,args,words", [
    ("pusht_angle_stats.py", ["--data", "/nonexistent.h5", "--parts", "data"], "nonexistent.h5"),
    ("oracle_split.py", ["--checkpoint", "/nonexistent.pt"], "/nonexistent.pt: checkpoint file not found"),
])
def test_round10_scripts_end_an_expected_failure_in_one_line(script, args, words):
    """scripts/*.py printed a traceback for a missing file (round 10); ``lewm.cli.run_script`` gives the CLI's bar."""
    import subprocess
    import sys
    root = os.path.join(os.path.dirname(__file__), "..")
    r = subprocess.run([sys.executable, os.path.join(root, "scripts", script), *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root}, timeout=300)
    assert r.returncode == 2 and words in _one_error_line(r.stderr)
