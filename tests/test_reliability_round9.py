"""Issue 16, round 9: outputs that collide (--gif and --out at one place, two commands into one new
file), torchrun variables read after the work, a CUDA-only flag ignored on the CPU, report API
arguments checked only after the encode, and small API functions that answered nonsense."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from lewm.cli import main

from _cli_errors import one_error_line  # noqa: E402

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "two_room", "model.pt")


_one_error_line = one_error_line  # tests/_cli_errors.py: the project's bar, shared


@pytest.fixture
def ckpt(tmp_path):
    p = str(tmp_path / "model.pt")
    shutil.copy(SHIPPED, p)
    return p


# ------------------------------------------------------------------------------------ command line
def test_round9_eval_gif_and_out_at_one_place_is_refused_before_the_work(ckpt, tmp_path, capsys, monkeypatch):
    import lewm.evaluate as ev
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("the evaluation ran"))
    g = str(tmp_path / "G")
    for gif in (g, os.path.join(g, "sub")):
        assert main(["eval", "--checkpoint", ckpt, "--episodes", "1", "--threads", "1", "--gif", gif,
                     "--out", g]) == 2
        assert "--out is a file and --gif a folder" in _one_error_line(capsys.readouterr().err)
    assert not os.path.exists(g)


@pytest.mark.parametrize("var,value,words", [
    ("RANK", "abc", "RANK='abc': expected a whole number >= 0"),
    ("WORLD_SIZE", "abc", "WORLD_SIZE='abc': expected a whole number >= 1"),
    ("LOCAL_RANK", "-1", "LOCAL_RANK='-1'"),
    ("RANK", "1", "RANK=1 must be below WORLD_SIZE=1"),
])
def test_round9_torchrun_variables_are_checked_before_the_training(var, value, words, syn_h5, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv(var, value)
    out = tmp_path / "t"
    assert main(["train", "--preset", "cpu-tiny", "--data", syn_h5, "--out", str(out), "--steps", "2",
                 "--threads", "1"]) == 2
    assert words in _one_error_line(capsys.readouterr().err) and not out.exists()


def test_round9_torchrun_env_reads_unset_and_empty_as_one_process(monkeypatch):
    from lewm.faults import torchrun_env
    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.setenv(v, "")
    assert torchrun_env() == (0, 1, 0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert torchrun_env() == (1, 2, 0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="--tf32 is refused only without CUDA")
def test_round9_bench_tf32_without_cuda_is_refused(capsys):
    assert main(["bench", "train", "--presets", "cpu-tiny", "--tf32", "--threads", "1"]) == 2
    assert "--tf32 allows TF32 matmuls on CUDA GPUs only" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------- racing outputs
def test_round9_publish_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    from lewm.faults import publish
    out, tmp = tmp_path / "d.h5", tmp_path / "d.h5.1.tmp"
    tmp.write_text("mine")
    out.write_text("theirs")  # the other command finished first
    with pytest.raises(FileExistsError, match=r"d\.h5: was created by another command .*/d-kept-\d+\.h5"):
        publish(str(tmp), str(out), replace=False, flag="--out")  # a command
    kept = [p for p in os.listdir(tmp_path) if "-kept-" in p]
    assert out.read_text() == "theirs" and len(kept) == 1 and (tmp_path / kept[0]).read_text() == "mine"
    assert not tmp.exists()
    tmp.write_text("new")
    publish(str(tmp), str(tmp_path / "e.h5"), replace=False)  # a name still free: written
    assert (tmp_path / "e.h5").read_text() == "new" and not tmp.exists()
    tmp.write_text("forced")
    publish(str(tmp), str(out), replace=True)  # --force: replaced
    assert out.read_text() == "forced"


def test_round9_export_without_force_keeps_a_checkpoint_written_meanwhile(ckpt, tmp_path, capsys, monkeypatch):
    from lewm import checkpoint
    out = str(tmp_path / "ex.pt")
    real_load = checkpoint.load

    def load_then_race(*a, **k):  # the other export finishes after this one's start check
        res = real_load(*a, **k)
        shutil.copy(ckpt, out)
        return res
    monkeypatch.setattr(checkpoint, "load", load_then_race)
    assert main(["export", "--checkpoint", ckpt, "--out", out]) == 2
    assert "was created by another command" in _one_error_line(capsys.readouterr().err)
    assert open(out, "rb").read() == open(ckpt, "rb").read()  # theirs, untouched
    kept = [p for p in os.listdir(tmp_path) if p.startswith("ex-kept-")]
    assert len(kept) == 1 and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_round9_collect_without_force_keeps_a_file_written_meanwhile(tmp_path, monkeypatch):
    import lewm.collect as col
    out = tmp_path / "d.h5"

    def race(path, need):  # after the start check: the other collect's file appears
        out.write_text("theirs")
    monkeypatch.setattr(col, "_check_space", race)
    with pytest.raises(FileExistsError, match="was created by another command"):
        col.collect("two_room", 1, str(out), image_size=16, workers=1, episode_len=2, progress=False)
    assert out.read_text() == "theirs"
    assert [p for p in os.listdir(tmp_path) if p.startswith("d-kept-")]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# ---------------------------------------------------------------------------------------- report
@pytest.mark.parametrize("kw,words", [
    (dict(episodes=0), "episodes must be >= 1"), (dict(episodes=1.5), "episodes must be a whole number"),
    (dict(episodes="2"), "episodes must be a whole number"), (dict(seed=-1), "seed must be in"),
    (dict(max_frames=0), "max_frames must be >= 40"), (dict(decoder_steps=-5), "decoder_steps must be >= 0"),
    (dict(landscape_goals=-1), "landscape_goals must be in"), (dict(horizon=0), "horizon must be in"),
    (dict(horizon=-3), "horizon must be in"), (dict(map_method="tsne"), "map_method must be one of"),
    (dict(plotly_js="nope/plotly.js"), "plotly_js nope/plotly.js: no file at"),
])
def test_round9_make_report_checks_its_arguments_before_any_work(kw, words, ckpt, syn_h5, tmp_path, monkeypatch):
    from lewm import checkpoint
    from lewm.report import make_report
    monkeypatch.setattr(checkpoint, "load", lambda *a, **k: pytest.fail("the checkpoint was loaded"))
    with pytest.raises(ValueError, match=words):
        make_report(ckpt, syn_h5, str(tmp_path / "rep"), quick=True, progress=False, **kw)
    assert not (tmp_path / "rep").exists()


def test_round9_a_failed_report_leaves_no_empty_folder(ckpt, syn_h5, tmp_path, monkeypatch):
    import lewm.report.build as b

    def fail(checkpoint, data, out, **kw):
        os.makedirs(out, exist_ok=True)
        raise ValueError("late failure")
    monkeypatch.setattr(b, "_make_report", fail)
    with pytest.raises(ValueError, match="late failure"):
        b.make_report(ckpt, syn_h5, str(tmp_path / "rep"), progress=False)
    assert not (tmp_path / "rep").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made stays
    with pytest.raises(ValueError):
        b.make_report(ckpt, syn_h5, str(tmp_path / "mine"), progress=False)
    assert (tmp_path / "mine").is_dir()


def test_round9_pick_episodes_refuses_a_count_that_is_not_a_whole_positive_number(ckpt, syn_h5):
    from lewm import checkpoint
    from lewm.report import pick_episodes
    _, cfg, _ = checkpoint.load(ckpt)
    for n, words in ((-2, "n must be >= 1"), (0, "n must be >= 1"), (1.5, "n must be a whole number")):
        with pytest.raises(ValueError, match=words):
            pick_episodes(syn_h5, cfg, n)


def _rep(**extra):
    rep = {"checkpoint": {"path": "m.pt", "step": 1, "preset": "cpu-tiny"}, "data": {"path": "d.h5"},
           "collapse": {"effective_rank": 1.5, "latent_dim": 2, "top1_fraction": 0.5, "mean_cosine": 0.0,
                        "mean_std": 1.0}, "sigreg": {"value": 0.5}}
    rep.update(extra)
    return rep


def test_round9_summary_and_page_name_missing_sections_and_print_nulls_as_na():
    from lewm.report import summary_text
    from lewm.report.html import render_html
    with pytest.raises(ValueError, match="'collapse', 'sigreg'"):
        summary_text({})
    with pytest.raises(ValueError, match="no 'sigreg'"):
        summary_text({k: v for k, v in _rep().items() if k != "sigreg"})
    with pytest.raises(ValueError, match="render_html: rep has no 'checkpoint', 'data'"):
        render_html({}, [])
    with pytest.raises(TypeError, match="report dict"):
        summary_text(None)
    text = summary_text(_rep(
        surprise={"tests": {"colour": {"median_ratio": None, "fraction_higher": None, "episodes": 0,
                                       "p_wilcoxon": None, "p_ttest": None}}},
        landscape={"dims": ["x", "y"], "spearman_mean": None, "greedy_accuracy_mean": None, "goals": 0}))
    assert "higher in n/a%" in text and "greedy step right n/a%" in text


def test_round9_clean_converts_sets_and_tensors_and_names_what_json_cannot_hold():
    from lewm.report.summary import clean
    assert clean({"a": {2, 1}, "b": torch.tensor([1.0, float("nan")]), "c": (np.int64(3), np.bool_(True))}) == \
        {"a": [1, 2], "b": [1.0, None], "c": [3, True]}
    with pytest.raises(TypeError, match=r"report\['x'\]\['y'\]: a complex"):
        clean({"x": {"y": 1j}})
    with pytest.raises(TypeError, match=r"report\['o'\]\[0\]: a object"):
        clean({"o": [object()]})


# ------------------------------------------------------------------------------- small API functions
def test_round9_with_overrides_names_an_unknown_section():
    from lewm.config import get_preset
    with pytest.raises(ValueError, match="unknown config section 'bogus'; valid: model, sigreg, train"):
        get_preset("cpu-tiny").with_overrides(bogus={"a": 1})


def test_round9_to_pixels_tensor_wants_uint8_frames():
    from lewm.planning import to_pixels_tensor
    with pytest.raises(ValueError, match=r"uint8 array \(T, S, S, 3\), got a uint8 array of shape \(32, 32, 3\)"):
        to_pixels_tensor(np.zeros((32, 32, 3), np.uint8), "cpu")
    with pytest.raises(ValueError, match="float32"):
        to_pixels_tensor(np.zeros((1, 32, 32, 3), np.float32), "cpu")
    assert to_pixels_tensor(np.zeros((2, 8, 8, 3), np.uint8), "cpu").shape == (1, 2, 3, 8, 8)


def test_round9_diagnostics_refuse_nonsense_inputs():
    from lewm.config import get_preset
    from lewm.diagnostics import linear_readout, normal_pdf, sweep_starts
    from lewm.diagnostics.perturbations import DotRenderer
    from lewm.planning.stepwise import latent_distances
    cfg = get_preset("cpu-tiny")
    with pytest.raises(ValueError, match="length must be a whole number >= 0, got -5"):
        sweep_starts(-5, cfg)
    assert len(sweep_starts(0, cfg)) == 0  # a too-short episode: no start, as documented
    with pytest.raises(ValueError, match="linear_readout: the latents hold NaN"):
        linear_readout(np.full((5, 3), np.nan), np.zeros((5, 2)))
    with pytest.raises(TypeError, match="normal_pdf: x must be numbers"):
        normal_pdf("a")
    assert normal_pdf([0.0])[0] == pytest.approx(0.3989, abs=1e-4)
    with pytest.raises(ValueError, match="z_goal holds NaN"):
        latent_distances(np.zeros((3, 4)), np.full(4, np.nan))
    assert latent_distances(np.ones((2, 4)), np.zeros(4)).tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match="image_size must be a whole number >= 2, got 0"):
        DotRenderer(0)
    with pytest.raises(ValueError, match="2 finite numbers"):
        DotRenderer(32).render_state([np.nan, np.nan])
    assert DotRenderer(32).render_state([0.5, 0.5]).shape == (32, 32, 3)
