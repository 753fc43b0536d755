"""Round 14 b, the lab's pages: pipes never opened (b4, b5), the reference collection's errors and sharing (b3,
b17), the gradient planner's settings (b6), an MPC episode that stops with its page (b11), ``?ckpt=`` notes
(b13, b20), a deleted selected checkpoint (b14), no state grid without a simulator (b18), no dataset of another
env selected (b19)."""
from __future__ import annotations

import os
import shutil
import threading
import warnings

import pytest

pytest.importorskip("streamlit")

from _lab_assets import make_lab_assets, seconds_until_threads_end  # noqa: E402
from lewm.runs import file_kind, read_metrics  # noqa: E402


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    import torch
    from lewm.config import get_preset
    from lewm.train import train
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = make_lab_assets(str(tmp_path_factory.mktemp("lab14")))
        syn_dir = os.path.join(a["root"], "synckpt")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:  # a checkpoint of the synthetic dot: no simulator
            train(get_preset("cpu-tiny").with_overrides(model={"history": 1}), a["syn"], syn_dir, steps=3,
                  progress=False, resume=False)
        finally:
            torch.set_num_threads(threads)
    a["syn_ckpt"] = os.path.join(syn_dir, "last.pt")
    return a


def _run_with(runs, ckpt, name="run1"):
    d = os.path.join(runs, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(ckpt, os.path.join(d, "last.pt"))
    return os.path.join(d, "last.pt")


def _clean(at):
    assert not at.exception, [e.value for e in at.exception]


def _texts(els):
    return [e.value for e in els]


# ------------------------------------------------------------------ b4, b5: pipes
def test_file_kind_and_read_metrics_never_open_a_pipe(tmp_path):
    fifo = str(tmp_path / "f.pt")
    os.mkfifo(fifo)
    assert file_kind(fifo) == "a pipe (FIFO), not a regular file"
    assert file_kind(os.devnull) == "a device, not a regular file"
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / "metrics.jsonl")
    with pytest.raises(ValueError, match=r"read_metrics\(out_dir=\.\.\.\) .*metrics.jsonl: is a pipe \(FIFO\), "
                                         r"not a metrics log"):
        read_metrics(str(run))
    with pytest.raises(ValueError, match=r"must be a run folder, got .* \(a pipe \(FIFO\), not a regular file\)"):
        read_metrics(fifo)


def test_a_pipe_as_ckpt_or_as_a_runs_metrics_log_never_blocks_a_page(lab_app, tmp_path):
    make, runs, _ = lab_app
    fifo = str(tmp_path / "fifo1")
    os.mkfifo(fifo)
    at = make("welcome", ckpt=fifo)
    _clean(at)
    assert any("a pipe (FIFO)" in w for w in _texts(at.warning)), _texts(at.warning)
    os.makedirs(os.path.join(runs, "zfifo"))
    os.mkfifo(os.path.join(runs, "zfifo", "metrics.jsonl"))
    at = make("train")
    _clean(at)
    assert any("not a metrics log" in e for e in _texts(at.error)), _texts(at.error)


# ------------------------------------------------------------------ b3, b17, b19: the reference collection
@pytest.mark.parametrize("broken", ["file", "link"])
def test_unusable_data_folder_is_one_error_in_the_picker(lab_app, assets, broken):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"])
    os.rmdir(os.path.join(runs, "data"))
    if broken == "file":
        with open(os.path.join(runs, "data"), "w") as f:
            f.write("x")
    else:
        os.symlink(os.path.join(runs, "nowhere"), os.path.join(runs, "data"))
    for page, key in (("latent", "latent_data"), ("dynamics", "dyn_data"), ("planner", "plan_data")):
        at = make(page, ckpt=ck)
        _clean(at)
        assert not [b for b in at.button if b.key == f"{key}_collect"], page
        want = "is a file, expected the data folder" if broken == "file" else "a symbolic link to"
        assert any(e.startswith("LEWM_LAB_RUNS/data") and want in e for e in _texts(at.error)), _texts(at.error)


def test_no_dataset_of_another_env_is_selected_and_a_running_collection_is_shared(lab_app, assets):
    from common import job_manager
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"])
    at = make("latent", ckpt=ck)  # only other envs' reference sets exist (checkpoints/*/reference.h5)
    _clean(at)
    assert at.selectbox(key="latent_data").value is None  # b19: was checkpoints/pusht/reference.h5 and its error
    assert not any("comes from environment" in e for e in _texts(at.error)), _texts(at.error)
    at.button(key="latent_data_collect").click().run()
    _clean(at)
    mgr = job_manager()
    try:
        assert len(mgr.active("collect")) == 1
        at.switch_page("app_pages/dynamics.py").run()
        _clean(at)
        assert not [b for b in at.button if b.key == "dyn_data_collect"]  # b17: not a second identical one
        assert len(mgr.jobs("collect")) == 1
        assert at.get("progress"), "the running collection's progress is not shown"
        if mgr.active("collect"):  # still running: it can be stopped from here (session 17)
            at.button(key="dyn_data_collect_stop").click().run()
            job = mgr.jobs("collect")[0]
            assert job.wait(30) and job.status == "stopped", job.status
    finally:
        for j in mgr.active("collect"):
            j.stop()


# ------------------------------------------------------------------ b6, b11: the planner
def test_grad_solver_shows_restarts_and_adam_steps(lab_app, assets):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"])
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=ck)
    at.selectbox(key="plan_solver").select("grad")
    at.number_input(key="plan_samples").set_value(10)
    at.number_input(key="plan_topk").set_value(1000)
    at.number_input(key="plan_iters").set_value(1)
    at.run()
    _clean(at)
    assert at.number_input(key="plan_samples").disabled and at.number_input(key="plan_topk").disabled
    assert not any("Elites" in w for w in _texts(at.warning)), _texts(at.warning)
    assert any("Samples and Elites are not used" in c and "16 restarts × 3 Adam steps" in c
               for c in _texts(at.caption)), _texts(at.caption)
    at.number_input(key="plan_restarts").set_value(4)
    at.button(key="plan_go").click().run()
    _clean(at)
    m = next(m for m in at.metric if m.label == "Adam steps")
    assert m.value == "3"


def test_mpc_episode_stops_when_its_page_run_is_stopped(lab_app, assets):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"])
    shutil.copy(assets["tr"], os.path.join(runs, "data", "tr32.h5"))
    at = make("planner", ckpt=ck)
    at.number_input(key="plan_budget").set_value(500)
    at.number_input(key="plan_samples").set_value(3000)
    at.number_input(key="plan_iters").set_value(30)  # 500 such MPC steps: many minutes; one: about a second
    at.run()
    at.button(key="plan_run").click()
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=6)  # AppTest stops the script run, as leaving the page or pressing Stop does
    took = seconds_until_threads_end("lab-episode", 60, 0.2)
    print(f"episode thread ended {took:.1f} s after the run was stopped")
    assert not any(t.name == "lab-episode" for t in threading.enumerate()), "the episode thread kept running"
    # (the page's note about the stop is written to the interrupted run's session state, which AppTest drops)


# ------------------------------------------------------------------ b13, b14, b20: the sidebar checkpoint
def test_ckpt_relative_to_the_runs_folder_and_an_exported_model(lab_app, assets):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"], "rk")
    at = make("welcome", ckpt="rk/last.pt")  # b20: relative to the runs folder
    _clean(at)
    assert at.selectbox(key="sb_checkpoint").value == "rk (run)"
    assert not any("not a known checkpoint" in w for w in _texts(at.warning)), _texts(at.warning)
    at = make("welcome", ckpt="nope/last.pt")
    assert any("no such file; a relative path is read from the repository" in w and runs in w
               for w in _texts(at.warning)), _texts(at.warning)
    model = os.path.join(os.path.dirname(ck), "model.pt")  # b13: what `export` writes beside the run
    shutil.copy(ck, model)
    at = make("welcome", ckpt=model)
    _clean(at)
    assert any("inside the lab's runs folder that it does not list" in w and "use ?ckpt=" in w
               for w in _texts(at.warning)), _texts(at.warning)


def test_a_deleted_selected_checkpoint_is_named_and_selected_again_when_back(lab_app, assets):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["ckpt"])
    at = make("latent", ckpt=ck)
    _clean(at)
    assert at.selectbox(key="sb_checkpoint").value == "run1 (run)"
    os.remove(ck)
    at.run()
    _clean(at)
    warns = _texts(at.warning)
    assert any("The selected checkpoint" in w and "no longer exists" in w for w in warns), warns
    assert not any("?ckpt=" in w for w in warns), warns
    shutil.copy(assets["ckpt"], ck)
    at.run()
    _clean(at)
    assert at.selectbox(key="sb_checkpoint").value == "run1 (run)"
    assert not any("no longer exists" in w for w in _texts(at.warning)), _texts(at.warning)


# ------------------------------------------------------------------ b18: no simulator, no grid
def test_no_state_grid_button_for_an_env_without_simulator(lab_app, assets):
    make, runs, _ = lab_app
    ck = _run_with(runs, assets["syn_ckpt"], "synrun")
    shutil.copy(assets["syn"], os.path.join(runs, "data", "syn32.h5"))
    at = make("latent", ckpt=ck)
    _clean(at)
    assert not [b for b in at.button if b.key == "latent_grid_go"]
    assert any("no simulator to render a grid" in i for i in _texts(at.info)), _texts(at.info)
    assert not at.error, _texts(at.error)
