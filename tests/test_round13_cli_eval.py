"""Round 13 (CLI, hostile user), eval / bench / the command-line parser: a single-valued flag given twice
(cli15), --rounds without --compare (cli6), the out-of-memory hint naming the command's own flag (cli7),
every bench --checkpoint checked before any timing (cli8), eval's result printed although --out cannot be
written (cli13), the 25-step goal offset explained (cli16), a states-only --data (cli17), a --gif folder
of an earlier eval (cli23), an ASCII terminal (cli24/25), and a benchmark stopped by Ctrl-C (cli26)."""
from __future__ import annotations

import argparse
import errno
import io
import json
import os
import pathlib
import shutil

import h5py
import numpy as np
import pytest

from lewm import bench, faults
from lewm.cli import Parser, main, tolerant_output
from lewm.evaluate import eval_pairs

from _cli_errors import one_error_line  # noqa: E402

SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "checkpoints" / "two_room"
FAST = ["--episodes", "1", "--budget", "2", "--samples", "8", "--topk", "2", "--iterations", "1", "--threads", "1",
        "--device", "cpu", "--protocol", "paper"]
PEAK = bench.Peak(fp32=100.0)


@pytest.fixture
def ckpt(tmp_path):
    p = tmp_path / "agent" / "model.pt"
    p.parent.mkdir()
    shutil.copy(SHIPPED / "model.pt", p)
    return str(p)


def _err(capsys) -> str:
    return one_error_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------------- cli15
def test_a_single_valued_flag_given_twice_is_refused(tmp_path, capsys):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    base = ["collect", "--env", "two_room", "--episodes", "2", "--episode-len", "20", "--image-size", "32"]
    assert main(base + ["--out", a, "--out", b]) == 2
    assert _err(capsys).startswith(f"error: --out given twice (--out {a}, then --out {b}): it takes one value")
    assert main(base + [f"--out={a}", "--episodes", "3"]) == 2
    assert "--episodes given twice (--episodes 2, then --episodes 3)" in _err(capsys)
    assert not os.path.exists(a) and not os.path.exists(b)
    assert main(["bench", "train", "--presets", "cpu-tiny", "--presets", "cpu-small"]) == 2
    assert "--presets given twice (--presets cpu-tiny, then --presets cpu-small)" in _err(capsys)


def test_append_options_flags_and_nargs_still_parse():
    from lewm.cli import add_train_args
    p = Parser(prog="t")
    add_train_args(p)
    a = p.parse_args(["--data", "d.h5", "--out", "o", "--set", "train.lr=1e-3", "--set", "model.history=2",
                      "--no-resume", "--no-resume"])
    assert a.overrides == ["train.lr=1e-3", "model.history=2"] and a.no_resume is True
    assert "_lewm_options_given" not in vars(a)  # no trace of the bookkeeping in the namespace
    q = Parser(prog="q")
    q.add_argument("pos")
    q.add_argument("--tag", action="append", default=[])
    group = q.add_mutually_exclusive_group()
    group.add_argument("--one")
    group.add_argument("--two")
    a = q.parse_args(["x", "--tag", "a", "--tag", "b", "--one", "1"])
    assert (a.pos, a.tag, a.one, a.two) == ("x", ["a", "b"], "1", None)
    with pytest.raises(ValueError, match=r"--one given twice \(--one 1, then --one 2\)"):
        q.parse_args(["x", "--one", "1", "--one", "2"])  # an option of an argument group too
    r = Parser(prog="r")
    bench.add_bench_args(r)
    a = r.parse_args(["plan", "--preset", "cpu-tiny", "--iterations", "30", "10"])
    assert a.iterations == [30, 10] and a.preset == ["cpu-tiny"]


# ----------------------------------------------------------------------------------- cli6
def test_rounds_without_compare_is_refused(capsys):
    assert main(["bench", "train", "--presets", "cpu-tiny", "--steps", "1", "--rounds", "5"]) == 2
    assert _err(capsys) == ("error: --rounds 5 sets the timed rounds of --compare only; add --compare, or drop it "
                            "(without --compare: --steps)")
    assert main(["bench", "plan", "--preset", "cpu-tiny", "--rounds", "4"]) == 2
    assert "(without --compare: --repeats)" in _err(capsys)


# ----------------------------------------------------------------------------------- cli7
def test_out_of_memory_names_the_commands_own_flag(monkeypatch, capsys):
    def oom(*a, **k):
        raise MemoryError()
    monkeypatch.setattr(bench.Peak, "measure", classmethod(lambda cls, dev: PEAK))
    monkeypatch.setattr(bench, "bench_train", oom)
    assert main(["bench", "train", "--presets", "cpu-tiny", "--batch", "100000", "--device", "cpu"]) == 2
    line = _err(capsys)
    assert line.startswith("error: out of memory") and "lower --batch (" in line and "--batch-size" not in line


# ----------------------------------------------------------------------------------- cli8
def test_every_bench_checkpoint_is_checked_before_any_timing(ckpt, tmp_path, monkeypatch, capsys):
    timed = []
    monkeypatch.setattr(bench, "bench_plan", lambda *a, **k: timed.append(a) or [])
    monkeypatch.setattr(bench.Peak, "measure", classmethod(lambda cls, dev: PEAK))
    data = str(tmp_path / "d.h5")
    shutil.copy(SHIPPED / "reference.h5", data)
    for bad, why in ((str(tmp_path / "none.pt"), "checkpoint file not found"), (data, "is an HDF5 episode file")):
        assert main(["bench", "plan", "--checkpoint", ckpt, bad, "--device", "cpu", "--json",
                     str(tmp_path / "b.json")]) == 2
        assert why in _err(capsys)
        assert timed == [] and not os.path.exists(tmp_path / "b.json")


# ----------------------------------------------------------------------------------- cli13
def test_eval_prints_its_result_although_out_cannot_be_written(ckpt, tmp_path, monkeypatch, capsys):
    def full(path, text, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    monkeypatch.setattr(faults, "write_atomic", full)
    out = str(tmp_path / "e.json")
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--out", out, "--json"]) == 2
    cap = capsys.readouterr()
    res = json.loads(cap.out)  # the whole result, on stdout, before the error
    assert res["episodes"] == 1 and res["env"] == "two_room"
    err = [ln for ln in cap.err.splitlines() if not ln.startswith("planner: ")]  # --json: the planner line on stderr
    assert one_error_line("\n".join(err)).startswith(f"error: disk full: no space left on the device writing {out}")
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--out", out]) == 2
    cap = capsys.readouterr()
    assert "two_room: success" in cap.out and "disk full" in one_error_line(cap.err)


# ----------------------------------------------------------------------------------- cli16
def test_too_short_episodes_explain_the_goal_offset(tmp_path):
    p = str(tmp_path / "short.h5")
    with h5py.File(p, "w") as f:
        f["state"] = np.zeros((40, 2))
        f["ep_len"] = np.array([20, 20])
        f["ep_offset"] = np.array([0, 20])
    with pytest.raises(ValueError, match=r"short.h5: the protocol's goal is the state 25 steps after the start, so it "
                                         r"needs episodes of at least 26 steps; its longest has 20 .*--episode-len 100"):
        eval_pairs("two_room", 1, data=p)


# ----------------------------------------------------------------------------------- cli17
def _states_only(src: str, dst: str, state=None, **attrs) -> str:
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as f:
        f["state"] = s["state"][:] if state is None else state
        for k in ("ep_len", "ep_offset"):
            f[k] = s[k][:]
        f.attrs.update({**dict(s.attrs), **attrs})
    return dst


def test_eval_accepts_a_file_of_states_only(ckpt, tmp_path, capsys):
    data = _states_only(str(SHIPPED / "reference.h5"), str(tmp_path / "states.h5"))
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--data", data, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1
    # its keys and attributes are still checked, before the work
    bad = _states_only(str(SHIPPED / "reference.h5"), str(tmp_path / "narrow.h5"), state=np.zeros((800, 1)))
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--data", bad]) == 2
    assert "states have 1 numbers (key 'state') but the evaluation" in _err(capsys)
    other = _states_only(str(SHIPPED / "reference.h5"), str(tmp_path / "other.h5"), env="pusht")
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--data", other]) == 2
    assert "holds 'pusht' states (attribute 'env')" in _err(capsys)
    nan = np.zeros((800, 2))
    nan[5] = np.nan
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--data",
                 _states_only(str(SHIPPED / "reference.h5"), str(tmp_path / "nan.h5"), state=nan)]) == 2
    assert "key 'state' has NaN/inf at row 5" in _err(capsys)


# ----------------------------------------------------------------------------------- cli23
def test_a_gif_folder_of_an_earlier_eval_needs_force_and_a_non_gif_is_never_replaced(ckpt, tmp_path, capsys):
    gifs = tmp_path / "g dir"
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--gif", str(gifs)]) == 0
    first = sorted(os.listdir(gifs))
    assert len(first) == 1 and first[0].startswith("two_room_ep00_")
    capsys.readouterr()
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--gif", str(gifs), "--seed", "5"]) == 2
    assert _err(capsys) == (f"error: --gif {gifs}: holds the GIFs of an earlier eval ({first[0]}); pass --force to "
                            f"replace them, or choose another --gif folder")
    assert main(["eval", "--checkpoint", ckpt, *FAST, "--gif", str(gifs), "--seed", "5", "--force"]) == 0
    assert "removed the 1 GIF(s) of an earlier eval" in capsys.readouterr().err
    assert len(os.listdir(gifs)) == 1  # this eval's GIF only, never two evaluations mixed
    for name in ("two_room_ep00_ok.gif", "two_room_ep00_fail.gif"):
        shutil.copy(SHIPPED / "reference.h5", gifs / name)  # a dataset named like a GIF
    for force in ([], ["--force"]):
        assert main(["eval", "--checkpoint", ckpt, *FAST, "--gif", str(gifs), *force]) == 2
        assert "is not a GIF (it is an HDF5 episode file)" in _err(capsys)
    with open(gifs / "two_room_ep00_ok.gif", "rb") as f:
        assert f.read(4) == b"\x89HDF"  # untouched


# ----------------------------------------------------------------------------------- cli24 / cli25
def test_an_ascii_terminal_never_fails_a_command(monkeypatch):
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace")
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    tolerant_output()
    print("planner: cem — from eval.json, 109°")  # was: UnicodeEncodeError ('ascii' codec can't encode)
    out.flush()
    assert out.buffer.getvalue() == b"planner: cem ? from eval.json, 109?\n"
    assert err.errors == "backslashreplace"  # another handler is left as it is


# ----------------------------------------------------------------------------------- cli26
def test_a_benchmark_stopped_by_ctrl_c_keeps_its_rows(tmp_path, monkeypatch, capsys):
    calls = []

    def row(name, dev, **kw):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return bench.Row("cpu", name, "s", 10.0, 0.1, 0.1, 1.0, 10.0, 0.1)
    monkeypatch.setattr(bench.Peak, "measure", classmethod(lambda cls, dev: PEAK))
    monkeypatch.setattr(bench, "bench_train", row)
    out = tmp_path / "bj.json"
    assert main(["bench", "train", "--presets", "cpu-tiny", "cpu-small", "--device", "cpu", "--json", str(out)]) == 130
    cap = capsys.readouterr()
    assert "| cpu-tiny" in cap.out and "interrupted after 1 row(s)" in cap.err
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and [r["model"] for r in doc["rows"]] == ["cpu-tiny"]
    calls.clear()
    monkeypatch.setattr(bench, "bench_train", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["bench", "train", "--presets", "cpu-tiny", "--device", "cpu", "--json", str(tmp_path / "n.json")]) == 130
    assert not os.path.exists(tmp_path / "n.json")  # nothing measured: nothing written


def test_bench_namespace_default_rounds_still_compare():
    p = argparse.ArgumentParser()
    bench.add_bench_args(p)
    assert p.parse_args(["train", "--compare"]).rounds is None  # resolved to 7 by --compare


def test_export_refuses_a_json_name_and_report_an_ignored_plotly_js(tmp_path, capsys):
    """Round 13 (cli28, cli6): `export --out x.json` wrote a checkpoint under a text name; `report --no-html
    --plotly-js URL` took a flag that does nothing."""
    from lewm.cli import main
    ck = str(pathlib.Path(__file__).resolve().parents[1] / "checkpoints" / "two_room" / "model.pt")
    assert main(["export", "--checkpoint", ck, "--out", str(tmp_path / "x.json")]) == 2
    assert "a .json name is a text file's" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    assert main(["report", "--checkpoint", ck, "--out", str(tmp_path / "r"), "--no-html", "--plotly-js", "x.js"]) == 2
    assert "--no-html writes no page" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_bench_plan_stopped_mid_model_keeps_the_iteration_rows_done(tmp_path, monkeypatch, capsys):
    """Round 14 (a2): one --preset with several --iterations: a model's rows were added only when all were done."""
    calls = []

    def timed(fn, repeats, warmup, dev):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return [0.01, 0.011, 0.012]
    monkeypatch.setattr(bench.Peak, "measure", classmethod(lambda cls, dev: PEAK))
    monkeypatch.setattr(bench, "timed", timed)
    out = tmp_path / "bp.json"
    assert main(["bench", "plan", "--preset", "cpu-tiny", "--iterations", "1", "2", "3", "--samples", "8", "--topk", "2",
                 "--threads", "1", "--device", "cpu", "--json", str(out)]) == 130
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and len(doc["rows"]) == 1 and "x1 " in doc["rows"][0]["setting"]
