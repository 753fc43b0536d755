"""Round 18 (fixer F4): runs, progress, paths, synthetic, official, report and jobs: one named error per bad
argument, and the silent cases (a resumed run's steps, a negative rate) answered correctly."""
import json
import os
import re

import numpy as np
import pytest

from lewm import official, paths, progress, runs
from lewm.jobs import Job, JobManager
from lewm.report.data_source import is_report_heldout
from lewm.report.summary import summary_text
from lewm.synthetic import dot_frames, write_synthetic_h5

_C = {"effective_rank": 1, "latent_dim": 2, "top1_fraction": 1, "mean_cosine": 1, "mean_std": 1}


def _log(folder, data: bytes):
    folder.mkdir(exist_ok=True)
    (folder / "metrics.jsonl").write_bytes(data)
    return str(folder)


# -- X2: a resumed run's log: steps come back strictly increasing, the later record winning -----------------------
def test_x2_read_metrics_steps_strictly_increasing_later_record_wins(tmp_path):
    run = _log(tmp_path / "run2", b'{"step":5,"loss":1.0}\n{"step":3,"loss":2.0}\n{"step":3,"loss":2.5}\n')
    got = runs.read_metrics(run)
    assert got["step"].tolist() == [3.0] and got["loss"].tolist() == [2.5]  # step 5 was of the abandoned branch
    # a run killed at step 4 (checkpoint at 2) and resumed: 3 and 4 logged again, then 5 and 6
    lines = [{"step": s, "loss": float(s)} for s in (1, 2, 3, 4)] + [{"step": s, "loss": s + 0.5} for s in (3, 4, 5, 6)]
    run = _log(tmp_path / "resumed", "".join(json.dumps(r) + "\n" for r in lines).encode())
    got = runs.read_metrics(run)
    assert got["step"].tolist() == [1, 2, 3, 4, 5, 6] and got["loss"].tolist() == [1, 2, 3.5, 4.5, 5.5, 6.5]
    assert (np.diff(got["step"]) > 0).all()
    # lines without a step stay (a log of losses only is still read), an ordinary log is unchanged
    run = _log(tmp_path / "nostep", b'{"loss": 0.5}\n{"loss": 0.4}\n')
    assert runs.read_metrics(run)["loss"].tolist() == [0.5, 0.4]


# -- X5: bytes that are not UTF-8 -----------------------------------------------------------------------------------
def test_x5_read_metrics_not_utf8_is_one_error_naming_the_file_and_line(tmp_path):
    run = _log(tmp_path / "run5", b'\xff\xfe\n{"step":1}\n')
    with pytest.raises(ValueError, match=r"^read_metrics\(out_dir=\.\.\.\) .*run5/metrics\.jsonl: line 1 is not "
                                         r"UTF-8 text \(byte 0xff at offset 0 of the line\)"):
        runs.read_metrics(run)
    with pytest.raises(UnicodeDecodeError):  # still what callers of the earlier reader caught
        runs.read_metrics(run)
    run = _log(tmp_path / "torn", b'{"step": 1}\n{"step": 2, "x": "\xc3')  # a character cut by a write in flight
    assert runs.read_metrics(run)["step"].tolist() == [1.0]


# -- X9, X13, X19, X22 ------------------------------------------------------------------------------------------------
def test_x9_max_points_is_named_by_read_metrics_and_snapshot(tmp_path):
    run = _log(tmp_path / "r", b'{"step": 1}\n{"step": 2}\n')
    with pytest.raises(ValueError, match=re.escape("read_metrics(max_points=...) must be a whole number >= 2, got 1")):
        runs.read_metrics(run, max_points=1)
    with pytest.raises(ValueError, match=re.escape("read_metrics(max_points=...) must be a whole number >= 2, got 2.5")):
        runs.read_metrics(run, max_points=2.5)
    assert runs.read_metrics(run, max_points=np.int64(2))["step"].tolist() == [1.0, 2.0]
    job = Job("train", "l", str(tmp_path / "o"), 5, {})
    with pytest.raises(ValueError, match=re.escape("Job.snapshot(max_points=...) must be a whole number >= 2, got 1")):
        job.snapshot(max_points=1)
    with pytest.raises(ValueError, match=re.escape("Job.snapshot(max_points=...) must be a whole number >= 2, got 2.5")):
        job.snapshot(max_points=2.5)
    assert job.snapshot(max_points=np.int64(10)).total == 5


def test_x13_slugify_takes_a_numpy_int():
    assert runs.slugify("abc", max_len=np.int64(2)) == "ab"
    with pytest.raises(TypeError, match=r"^slugify\(max_len=\.\.\.\) must be a whole number >= 1, got np\.True_"):
        runs.slugify("abc", max_len=np.True_)


def test_x19_x22_unique_dir_root_a_file_and_run_file_none(tmp_path):
    f = tmp_path / "syn.h5"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"^unique_dir\(root=\.\.\.\) .*syn\.h5: is a file, expected a folder"):
        runs.unique_dir(str(f), "x")
    with pytest.raises(ValueError, match=r"^unique_dir\(root=\.\.\.\) .*syn\.h5/sub: lies under a file"):
        runs.unique_dir(str(f / "sub"), "x")
    with pytest.raises(TypeError, match=r"^unique_dir\(root=\.\.\.\) must be a path \(a string\), got None"):
        runs.unique_dir(None, "x")
    with pytest.raises(TypeError, match=r"^unique_dir\(name=\.\.\.\) must be a string"):
        runs.unique_dir(str(tmp_path), None)
    assert os.path.isdir(runs.unique_dir(tmp_path / "new", "a b"))  # a pathlib root is fine
    with pytest.raises(TypeError, match=r"^run_file\(path=\.\.\.\) must be a path \(a string\), got None"):
        runs.run_file(None)
    assert runs.run_file(str(tmp_path / "x.json")) is None


# -- PG12, PG17 -------------------------------------------------------------------------------------------------------
def test_pg12_pg17_recent_rate_refuses_decreasing_steps_and_text():
    with pytest.raises(ValueError, match=r"^recent_rate: steps must not decrease .*got 2 at index 1 after 3"):
        progress.recent_rate([3, 2, 1], [0, 1, 2])
    with pytest.raises(TypeError, match=r"^recent_rate: steps must be numbers, got an array of <U1 \('a', 'b'\)"):
        progress.recent_rate(["a", "b"], [0, 1])
    with pytest.raises(TypeError, match=r"^recent_rate: times must be numbers"):
        progress.recent_rate([1, 2], [None, 1.0])
    assert progress.recent_rate(np.array([1, 2, 3], np.int64), np.array([0, 1, 2], np.float32)) == 1.0
    assert progress.recent_rate([5, 3, 4, 6], [0, 1, 2, 3], window=2) == 2.0  # only the window counts
    assert progress.recent_rate([2, 2], [0.0, 1.0]) == 0.0  # a pause is no decrease


# -- PA15 -------------------------------------------------------------------------------------------------------------
def test_pa15_path_checks_refuse_a_number(tmp_path):
    with pytest.raises(TypeError, match=r"^--out must be a path \(a string\), got 123$"):
        paths.check_out_file(123)
    with pytest.raises(TypeError, match=r"^--data must be a path \(a string\), got 123$"):
        paths.check_in_file(123, "--data")
    with pytest.raises(TypeError, match=r"^--out must be a path \(a string\), got 1\.5$"):
        paths.check_out_dir(1.5)
    with pytest.raises(ValueError, match="--out: no file given"):
        paths.check_out_file(None)
    assert paths.check_out_file(tmp_path / "new.json") == str(tmp_path / "new.json")


# -- SY7, SY12 --------------------------------------------------------------------------------------------------------
def test_sy7_sy12_sizes_refused_before_allocating(tmp_path):
    with pytest.raises(ValueError, match=r"^dot_frames: 10_000_000 frames of 64x64 pixels would take 114\.4 GiB"):
        dot_frames(np.zeros((10**7, 2)), 64)
    out = tmp_path / "s3.h5"
    with pytest.raises(ValueError, match=r"^write_synthetic_h5: episodes \* length \* image_size\*\*2 \* 3 = "
                                         r"1_000_000_000 \* 1_000_000 \* 32\*\*2 \* 3 bytes = .* GiB"):
        write_synthetic_h5(str(out), episodes=10**9, length=10**6)
    with pytest.raises(ValueError, match=r"^write_synthetic_h5: .* GiB of frames"):  # no numpy overflow
        write_synthetic_h5(str(out), episodes=np.int64(2**40), length=np.int64(2**40), image_size=np.int64(1024))
    assert not out.exists()
    xy = np.random.default_rng(0).uniform(0, 1, (700, 2))  # drawn in chunks: the same frames as one by one
    a = dot_frames(xy, 64)
    assert a.shape == (700, 64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a[[0, 255, 256, 699]], np.concatenate([dot_frames(xy[[i]], 64) for i in (0, 255, 256, 699)]))


# -- O6 ---------------------------------------------------------------------------------------------------------------
def test_o6_load_official_names_itself_for_frameskip(tmp_path):
    ck = tmp_path / "ck.pt"
    ck.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"^load_official: frameskip \(environment steps per action block\) must be "
                                         r">= 1, got 0"):
        official.load_official(str(ck), frameskip=0)
    with pytest.raises(ValueError, match=r"^model_config_from_official: frameskip .* must be >= 1, got -1"):
        official.model_config_from_official(None, {}, frameskip=-1)


# -- RP5, RP6, RP15, RP20, RP30 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,match", [
    ({"probes": {"linear": [{}]}}, r"rep\['probes'\]\['linear'\]\[0\] lacks 'quantity', 'pearson_r', 'r2'"),
    ({"probes": {"linear": 5}}, r"rep\['probes'\]\['linear'\] must be a list, got 5"),
    ({"probe_spread": {"splits": 5}}, r"rep\['probe_spread'\] lacks 'pearson'"),
    ({"probe_spread": {"splits": 5, "pearson": {"x": {"mean": 1}}}},
     r"rep\['probe_spread'\]\['pearson'\]\['x'\] lacks 'min', 'max'"),
    ({"collapse": {**_C, "effective_rank": "x"}}, r"rep\['collapse'\]\['effective_rank'\] must be a number \(or null\), "
                                                 r"got 'x'"),
    ({"sigreg": {"value": [1]}}, r"rep\['sigreg'\]\['value'\] must be a number"),
    ({"dynamics": {"error_mean": [1.0], "copy_error_mean": []}}, r"rep\['dynamics'\]\['copy_error_mean'\] must be a "
                                                                r"non-empty list"),
    ({"surprise": {"tests": {"t": {"median_ratio": 1}}}}, r"rep\['surprise'\]\['tests'\]\['t'\] lacks 'fraction_higher'"),
    ({"grid_warp": {"dims": ["x"], "linear_r": {"x": "a"}}}, r"rep\['grid_warp'\]\['linear_r'\]\['x'\] must be a number"),
])
def test_rp5_rp6_summary_text_names_the_bad_place(extra, match):
    rep = {"collapse": dict(_C), "sigreg": {"value": 1}, **extra}
    with pytest.raises(ValueError, match="^summary_text: " + match):
        summary_text(rep)


def test_rp5_summary_text_still_prints_numpy_values():
    rep = {"collapse": {**_C, "effective_rank": np.float32(1.5), "latent_dim": np.int64(2)}, "sigreg": {"value": None},
           "dynamics": {"error_mean": np.array([0.1, 0.2]), "copy_error_mean": np.array([0.3])}}
    assert summary_text(rep).splitlines() == [
        "effective rank 1.50 / 2  top-1 1.000  mean cos 1.000  mean std 1  SIGReg n/a",
        "open loop: latent MSE step 1 0.1, step 2 0.2 (copy-last baseline 0.3)"]


def test_rp15_render_html_checks_the_sections():
    import plotly.graph_objects as go

    from lewm.report.html import render_html
    rep = {"checkpoint": {"path": "m.pt", "step": 1, "preset": "p"}, "data": {"path": "d.h5"},
           "collapse": dict(_C), "sigreg": {"value": 1}}
    with pytest.raises(TypeError, match=r"^render_html\(sections=\.\.\.\): section 0's figure must be a plotly Figure, "
                                        r"got NoneType"):
        render_html(rep, [("t", "", None)])
    with pytest.raises(TypeError, match=r"^render_html\(sections=\.\.\.\): section 0 must be a \(heading, sentence, "
                                        r"plotly Figure\) triple"):
        render_html(rep, [("t", go.Figure())])
    with pytest.raises(TypeError, match=r"^render_html\(sections=\.\.\.\) must be a list"):
        render_html(rep, None)
    assert "<h2>t</h2>" in render_html(rep, [("t", "", go.Figure())], plotly_js="p.js")


def test_rp20_is_report_heldout_none(tmp_path):
    with pytest.raises(TypeError, match=r"^is_report_heldout\(path=\.\.\.\) must be a path \(a string\), got None"):
        is_report_heldout(None)
    assert is_report_heldout(tmp_path / "nope.h5") is False


@pytest.mark.parametrize("kw,match", [
    (dict(episodes=0), r"^make_report: episodes must be >= 1, got 0"),
    (dict(map_method="tsne"), r"^make_report: map_method must be one of 'pca', 'umap', got 'tsne'"),
    (dict(max_frames=10), r"^make_report: max_frames must be >= 40, got 10"),
])
def test_rp30_make_report_names_itself(kw, match, syn_h5, tmp_path):
    from lewm.report import make_report
    with pytest.raises(ValueError, match=match):
        make_report(str(tmp_path / "ck.pt"), syn_h5, str(tmp_path / "rep"), progress=False, **kw)
    assert not (tmp_path / "rep").exists()


def test_rp30_pick_episodes_names_itself(syn_h5):
    from lewm.config import get_preset
    from lewm.report import pick_episodes
    with pytest.raises(ValueError, match=r"^pick_episodes: n must be >= 1, got 0"):
        pick_episodes(syn_h5, get_preset("cpu-tiny"), 0)


# -- J6, J15 ----------------------------------------------------------------------------------------------------------
def test_j6_j15_job_manager_and_job_name_themselves(tmp_path):
    jm = JobManager(str(tmp_path / "jm"))
    with pytest.raises(ValueError, match=r"^groups\(kind=\.\.\.\) must be one of 'train', 'collect'"):
        jm.groups("bogus")
    with pytest.raises(ValueError, match=r"^active\(kind=\.\.\.\) must be one of 'train', 'collect'"):
        jm.active(kind="x")
    assert jm.groups() == [] and jm.active() == [] and jm.groups(None) == []
    with pytest.raises(TypeError, match=r"^Job\(total=\.\.\.\) must be a whole number, got None"):
        Job("train", "l", "o", None, {})
    with pytest.raises(ValueError, match=r"^Job\(kind=\.\.\.\) must be one of 'train', 'collect', got None"):
        Job(None, "l", "o", 5, {})
    with pytest.raises(TypeError, match=r"^Job\(params=\.\.\.\) must be a dict"):
        Job("collect", "l", "o", 5, None)
    job = Job("collect", "", "o", np.int64(5), {})  # an empty label (a folder given with a trailing /) is kept
    assert job.total == 5 and type(job.total) is int
