"""Reliability round 10 (docs/reliability_round10.md): the JobManager and the benchmark API refuse a bad
argument with one line naming it (``start_train(steps=...)``, ``bench_plan(repeats=...)``), before any run
folder, process, model or timing; a valid call still works."""
import os
import re

import pytest
import torch

from lewm import bench
from lewm import bench_compare as bc
from lewm.config import get_preset
from lewm.jobs import JobManager
from lewm.model import LeWM

CPU = torch.device("cpu")
PEAK = bench.Peak(fp32=100.0)


def _names(fn: str, arg: str) -> str:
    return re.escape(f"{fn}({arg}=...)")


def _tiny():
    return get_preset("cpu-tiny").with_overrides(model={"image_size": 32}, train={"batch_size": 8})


# ---------------------------------------------------------------------------------------------
# lewm.jobs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, exc, arg", [
    ({"max_active_train": 0}, ValueError, "max_active_train"),  # was: "0 training runs are already active"
    ({"max_active_train": -1}, ValueError, "max_active_train"),
    ({"max_active_train": "x"}, TypeError, "max_active_train"),
    ({"max_active_train": 1.5}, TypeError, "max_active_train"),
    ({"runs_root": None}, TypeError, "runs_root"),
    ({"runs_root": ""}, ValueError, "runs_root"),
])
def test_job_manager_refuses_bad_settings_at_construction(tmp_path, kw, exc, arg):
    kw = {"runs_root": str(tmp_path / "runs"), **kw}
    with pytest.raises(exc, match=_names("JobManager", arg)):
        JobManager(**kw)


def test_job_manager_refuses_a_file_as_runs_root(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match=_names("JobManager", "runs_root")):
        JobManager(str(f))
    assert JobManager(tmp_path / "runs", max_active_train=1).max_active_train == 1  # a PathLike is fine


@pytest.mark.parametrize("kw, exc, arg", [
    ({"steps": 0}, ValueError, "steps"),  # was: the preset's steps, silently
    ({"steps": -3}, ValueError, "steps"),
    ({"steps": 2.7}, TypeError, "steps"),
    ({"steps": True}, TypeError, "steps"),
    ({"threads": -1}, ValueError, "threads"),  # was: a worker traceback in job.error
    ({"threads": 0}, ValueError, "threads"),
    ({"view_every": "x"}, TypeError, "view_every"),  # was: cryptic, and an orphan folder with lab_job.json
    ({"view_every": 0}, ValueError, "view_every"),
    ({"view_dirs": 0}, ValueError, "view_dirs"),
    ({"name": 5}, TypeError, "name"),
    ({"label": ""}, ValueError, "label"),
    ({"device": "bogus"}, ValueError, "device"),
    ({"device": 0}, TypeError, "device"),
    ({"data": None}, TypeError, "data"),  # start_train(cfg, None): was cryptic + an orphan folder
    ({"data": "/nonexistent/x.h5"}, ValueError, "data"),
    ({"cfg": None}, TypeError, "cfg"),
    ({"cfg": "cpu-tiny"}, TypeError, "cfg"),
])
def test_start_train_refuses_bad_arguments_before_any_folder(tmp_path, syn_h5, kw, exc, arg):
    runs = tmp_path / "runs"
    m = JobManager(str(runs))
    kw = {"cfg": _tiny(), "data": syn_h5, "steps": 2, "threads": 1, **kw}
    with pytest.raises(exc, match=_names("start_train", arg)) as e:
        m.start_train(kw.pop("cfg"), kw.pop("data"), **kw)
    assert "\n" not in str(e.value)
    assert not runs.exists() or not os.listdir(runs), "an orphan run folder was left"
    assert m.jobs() == []


def test_start_train_refuses_an_existing_out_dir(tmp_path, syn_h5):
    m = JobManager(str(tmp_path / "runs"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "afile").write_text("x")
    for p in (tmp_path / "taken", tmp_path / "afile"):  # was: a bare FileExistsError
        with pytest.raises(ValueError, match=_names("start_train", "out_dir")):
            m.start_train(_tiny(), syn_h5, steps=2, threads=1, out_dir=str(p))
    assert os.listdir(tmp_path / "taken") == [] and m.jobs() == []


@pytest.mark.parametrize("kw, exc, arg", [
    ({"episodes": 2.7}, TypeError, "episodes"),  # was: 2 episodes, silently
    ({"episodes": 0}, ValueError, "episodes"),
    ({"image_size": 2.5}, TypeError, "image_size"),  # was: "must be in [8, 1024], got 2"
    ({"image_size": 4}, ValueError, "image_size"),
    ({"seed": None}, TypeError, "seed"),
    ({"seed": -1}, ValueError, "seed"),
    ({"episode_len": 1}, ValueError, "episode_len"),
    ({"mix_random": 1.5}, ValueError, "mix_random"),
    ({"mix_random": float("nan")}, ValueError, "mix_random"),
    ({"mix_random": "0.5"}, TypeError, "mix_random"),
    ({"policy": None}, TypeError, "policy"),
    ({"env_name": None}, TypeError, "env_name"),
    ({"out": None}, TypeError, "out"),
    ({"out": "FOLDER"}, ValueError, "out"),  # was: HDF5 written at 'folder-1', no .h5
    ({"out": "NOEXT"}, ValueError, "out"),
])
def test_start_collect_refuses_bad_arguments_before_the_job(tmp_path, kw, exc, arg):
    data = tmp_path / "data"
    data.mkdir()
    subs = {"FOLDER": str(data), "NOEXT": str(data / "episodes")}
    kw = {"env_name": "two_room", "episodes": 2, "out": str(data / "d.h5"), **kw}
    kw["out"] = subs.get(kw["out"], kw["out"]) if isinstance(kw["out"], str) else kw["out"]
    m = JobManager(str(tmp_path / "runs"))
    with pytest.raises(exc, match=_names("start_collect", arg)):
        m.start_collect(kw.pop("env_name"), kw.pop("episodes"), kw.pop("out"), **kw)
    assert os.listdir(data) == [] and m.jobs() == []


def test_valid_train_and_collect_jobs_still_run(tmp_path, syn_h5):
    m = JobManager(tmp_path / "runs", max_active_train=1)
    try:
        j = m.start_train(_tiny(), syn_h5, steps=2, threads=1, view_every=1, out_dir=str(tmp_path / "new-run"))
        c = m.start_collect("two_room", 2, tmp_path / "d.h5", image_size=32, episode_len=3, seed=1)
        assert j.wait(120) and j.status == "finished", j.error
        assert j.out == str(tmp_path / "new-run") and j.snapshot().done == 2
        assert c.wait(120) and c.status == "finished", c.error
        assert c.out == str(tmp_path / "d.h5") and os.path.isfile(c.out)
    finally:
        m.shutdown()


# ---------------------------------------------------------------------------------------------
# lewm.bench
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, exc, arg", [
    ({"batch": 0}, ValueError, "batch"),  # was: the default batch, silently
    ({"batch": -2}, ValueError, "batch"),  # was: "negative dimension"
    ({"batch": 2.5}, TypeError, "batch"),  # was: torch.randint's signature
    ({"steps": 0}, ValueError, "steps"),
    ({"steps": -1}, ValueError, "steps"),  # was: IndexError
    ({"warmup": -1}, ValueError, "warmup"),  # was: silently no warm-up
    ({"compile": "yes"}, TypeError, "compile"),
    ({"amp": 1}, TypeError, "amp"),
    ({"peak": 5.0}, TypeError, "peak"),
    ({"seed": -1}, ValueError, "seed"),
    ({"dev": "nope"}, ValueError, "dev"),
    ({"dev": 3}, TypeError, "dev"),
    ({"preset": "bogus"}, ValueError, "preset"),
    ({"preset": None}, TypeError, "preset"),
])
def test_bench_train_refuses_bad_arguments(kw, exc, arg):
    kw = {"preset": "cpu-tiny", "dev": CPU, "batch": 2, "steps": 1, "warmup": 0, "peak": PEAK, **kw}
    with pytest.raises(exc, match=_names("bench_train", arg)):
        bench.bench_train(kw.pop("preset"), kw.pop("dev"), **kw)


def test_bench_train_takes_a_device_name():  # was: AttributeError 'str' object has no attribute 'type'
    row = bench.bench_train("cpu-tiny", "cpu", batch=2, steps=1, warmup=0, peak=PEAK)
    assert row.rate > 0 and "batch 2" in row.setting


@pytest.fixture(scope="module")
def tiny_model():
    cfg = get_preset("cpu-tiny")
    torch.manual_seed(0)
    return LeWM(cfg.model), cfg


@pytest.mark.parametrize("kw, exc, arg", [
    ({"repeats": 0}, ValueError, "repeats"),  # was: the default, silently
    ({"repeats": -1}, ValueError, "repeats"),  # was: IndexError
    ({"warmup": -1}, ValueError, "warmup"),
    ({"iterations": ()}, ValueError, "iterations"),  # was: no rows
    ({"iterations": 5}, TypeError, "iterations"),  # was: "'int' object is not iterable"
    ({"iterations": (3, 0)}, ValueError, "iterations[1]"),
    ({"samples": 0}, ValueError, "samples"),  # was: named action_blocks
    ({"horizon": 0}, ValueError, "horizon"),
    ({"horizon": -1}, ValueError, "horizon"),
    ({"topk": 9}, ValueError, "topk"),
    ({"compile": "bogus"}, ValueError, "compile"),  # was: a torch RuntimeError
    ({"compile": "cuda-graphs"}, ValueError, "compile"),  # on the CPU
    ({"amp": "no"}, TypeError, "amp"),
    ({"label": None}, TypeError, "label"),
    ({"model": None}, TypeError, "model"),  # was: AttributeError
    ({"cfg": None}, TypeError, "cfg"),
    ({"cfg": "OTHER"}, ValueError, "cfg"),
    ({"dev": "cpux"}, ValueError, "dev"),
])
def test_bench_plan_refuses_bad_arguments(tiny_model, kw, exc, arg):
    model, cfg = tiny_model
    other = get_preset("cpu-tiny").with_overrides(model={"history": 1})
    kw = {"model": model, "cfg": cfg, "dev": CPU, "label": "t", "iterations": (1,), "samples": 8, "topk": 2,
          "repeats": 1, "warmup": 0, "peak": PEAK, **kw}
    if kw["cfg"] == "OTHER":
        kw["cfg"] = other
    with pytest.raises(exc, match=_names("bench_plan", arg)):
        bench.bench_plan(kw.pop("model"), kw.pop("cfg"), kw.pop("dev"), kw.pop("label"), **kw)


def test_bench_plan_valid_call_with_a_list(tiny_model):
    model, cfg = tiny_model
    rows = bench.bench_plan(model, cfg, "cpu", "t", iterations=[2], samples=8, topk=2, horizon=2, repeats=1,
                            warmup=0, peak=PEAK)
    assert len(rows) == 1 and rows[0].rate > 0 and "8x2 H2" in rows[0].setting
    assert "plans/s" in bench.format_table(rows, "plans/s", PEAK, "s")


def test_measuring_helpers_and_table_refuse_bad_arguments(tiny_model):
    with pytest.raises(ValueError, match=_names("matmul_peak", "n")):  # was: negative dimension
        bench.matmul_peak(CPU, n=-1)
    with pytest.raises(ValueError, match=_names("matmul_peak", "repeats")):
        bench.matmul_peak(CPU, n=8, repeats=0)
    with pytest.raises(TypeError, match=_names("matmul_peak", "dtype")):
        bench.matmul_peak(CPU, dtype=torch.int64, n=8)
    assert bench.matmul_peak("cpu", n=16, repeats=1) > 0
    with pytest.raises(ValueError, match=_names("timed", "repeats")):
        bench.timed(lambda: None, 0, 0, CPU)
    with pytest.raises(ValueError, match=_names("timed", "warmup")):
        bench.timed(lambda: None, 1, -1, CPU)
    assert len(bench.timed(lambda: None, 2, 0, CPU)) == 2
    with pytest.raises(ValueError, match=_names("format_table", "rows")):
        bench.format_table([], "plans/s", PEAK)
    with pytest.raises(TypeError, match=_names("format_table", "rows")):
        bench.format_table(None, "plans/s", PEAK)
    row = bench.Row("cpu", "m", "s", 1.0, 0.1, 0.2, 1.0, 10.0, 0.1)
    with pytest.raises(TypeError, match=_names("format_table", "peak")):
        bench.format_table([row], "plans/s", None)
    with pytest.raises(ValueError, match=_names("format_table", "peak")):
        bench.format_table([row], "plans/s", bench.Peak(0.0))
    with pytest.raises(ValueError, match=_names("format_table", "latency_unit")):
        bench.format_table([row], "plans/s", PEAK, "us")
    assert "fp32 100" in bench.format_table([row], "plans/s", PEAK)


# ---------------------------------------------------------------------------------------------
# lewm.bench_compare
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, kw, exc, arg", [
    ("compare_iteration", {"horizon": -1}, ValueError, "horizon"),  # was: negative dimension
    ("compare_iteration", {"samples": 0}, ValueError, "samples"),  # was: named action_blocks
    ("compare_iteration", {"horizon": 0}, ValueError, "horizon"),
    ("compare_iteration", {"rounds": 0}, ValueError, "rounds"),  # was: "min() arg is an empty sequence"
    ("compare_iteration", {"warmup": -1}, ValueError, "warmup"),
    ("compare_iteration", {"bf16": "yes"}, TypeError, "bf16"),
    ("compare_iteration", {"compiled": 1}, TypeError, "compiled"),
    ("compare_iteration", {"model": None}, TypeError, "model"),
    ("compare_plan", {"iterations": 0}, ValueError, "iterations"),
    ("compare_plan", {"topk": 9}, ValueError, "topk"),
    ("compare_plan", {"rounds": 0}, ValueError, "rounds"),
])
def test_compare_plan_paths_refuse_bad_arguments(tiny_model, fn, kw, exc, arg):
    model, _ = tiny_model
    kw = {"model": model, "label": "t", "dev": CPU, "bf16": False, "samples": 8, **kw}
    with pytest.raises(exc, match=_names(fn, arg)):
        getattr(bc, fn)(**kw)


@pytest.mark.parametrize("kw, exc, arg", [
    ({"rounds": 0}, ValueError, "rounds"),  # was: KeyError
    ({"bf16": "yes"}, TypeError, "bf16"),  # was: cryptic
    ({"batch": 0}, ValueError, "batch"),
    ({"batch": -1}, ValueError, "batch"),
    ({"warmup": -1}, ValueError, "warmup"),
    ({"preset": "bogus"}, ValueError, "preset"),
    ({"dev": None}, TypeError, "dev"),
])
def test_compare_train_refuses_bad_arguments(kw, exc, arg):
    kw = {"preset": "cpu-tiny", "dev": CPU, "bf16": False, "batch": 2, **kw}
    with pytest.raises(exc, match=_names("compare_train", arg)):
        bc.compare_train(**kw)


def test_compare_valid_calls_still_work(tiny_model):
    model, _ = tiny_model
    r = bc.compare_iteration(model, "t", "cpu", False, samples=8, horizon=2, rounds=1, warmup=0)
    assert r.rounds == 1 and r.ratio > 0 and r.max_abs_err < 1e-4
    r = bc.compare_train("cpu-tiny", CPU, False, batch=2, rounds=1, warmup=0)
    assert r.rounds == 1 and r.ratio > 0
    with pytest.raises(ValueError, match=_names("interleaved", "rounds")):
        bc.interleaved(lambda: None, lambda: None, 0, 0, CPU)
    assert "| what |" in bc.format_comparisons([r])
