"""Round 13 (hostile API), diagnostics / figures / report / lab: api16-25, api44-52, api66-77, api79, lab1, lab2.

A bad argument is one ValueError / TypeError naming the function and the argument; valid input (numpy
numbers, bf16 latents, a large but allowed size) still works."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

from lewm import diagnostics as G
from lewm import figures as F
from lewm.data import DataError

torch.set_num_threads(1)
Z = np.random.default_rng(0).standard_normal((50, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(cpu-tiny model, a 3-episode synthetic 32 px file)."""
    from lewm.config import get_preset
    from lewm.model import build_model
    from lewm.synthetic import write_synthetic_h5
    path = str(tmp_path_factory.mktemp("r13") / "syn.h5")
    write_synthetic_h5(path, episodes=3, length=12, image_size=32)
    torch.manual_seed(0)
    return build_model(get_preset("cpu-tiny").model).eval(), path


# -- api16, api17, api18, api19, api71, api79: examples, sigreg_view, collapse_meters -------------------------
@pytest.mark.parametrize("call, err, match", [
    (lambda: G.demo_latents("gaussian", n=10**9), ValueError, r"demo_latents: n must be <= 100_000_000"),
    (lambda: G.demo_latents("gaussian", n=10**6, dim=1000), ValueError, r"demo_latents: n \* dim must be <="),
    (lambda: G.sigreg_view(Z, generator=np.random.default_rng(0)), TypeError,
     r"sigreg_view\(generator=\.\.\.\) must be a torch.Generator .*got numpy Generator"),
    (lambda: G.sigreg_view(Z, bins=0), ValueError, r"sigreg_view\(bins=\.\.\.\) must be in \[1, 10000\], got 0"),
    (lambda: G.sigreg_view(Z, num_dirs=10**7), ValueError,
     r"^num_dirs must be <= 65_536 \(sigreg_view shows a few random directions\)"),
    (lambda: G.sigreg_view(np.zeros((300_000, 16), np.float32), num_dirs=2000), ValueError,
     r"sigreg_view: 300_000 latents x num_dirs=2000 x knots=17 need about .* GiB"),
    (lambda: G.sigreg_view(Z, x_range=-4), ValueError, r"sigreg_view\(x_range=\.\.\.\) must be a number > 0"),
    (lambda: G.sigreg_view(Z, x_range=float("nan")), ValueError, r"sigreg_view\(x_range=\.\.\.\)"),
])
def test_examples_and_sigreg_view_arguments(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_valid_sizes_and_numpy_numbers_still_work():
    assert G.demo_latents("gaussian", n=300_000, dim=16).shape == (300_000, 16)  # a real data set's size
    v = G.sigreg_view(Z, num_dirs=np.int64(4), bins=np.int64(10), x_range=np.float32(3.0), knots=np.int64(9),
                      generator=torch.Generator().manual_seed(0))
    assert v.histograms.shape == (4, 10) and np.isfinite(v.value)
    zb = torch.as_tensor(Z).to(torch.bfloat16)  # api79: what bf16 autocast gives
    assert G.collapse_meters(zb).effective_rank == pytest.approx(G.collapse_meters(zb.float()).effective_rank)
    assert np.isfinite(G.sigreg_view(zb, num_dirs=3).value)


# -- api20, api72: teleport ----------------------------------------------------------------------------------
def test_teleport_refuses_another_envs_episode_and_another_image_size():
    from lewm import envs as E
    env = E.make("two_room", image_size=32)
    st = np.tile(np.array([[60.0, 112.0]]), (6, 1))
    px = np.stack([env.render_state(s) for s in st])  # (6, 32, 32, 3)
    with pytest.raises(ValueError, match=r"teleport: the states have 2 columns, pusht's state has 7"):
        G.teleport(px, st, 3, E.make("pusht", image_size=32))
    with pytest.raises(ValueError, match=r"teleport: the env renders 64x64x3 frames, the episode's are 32x32x3"):
        G.teleport(px, st, 3, E.make("two_room", image_size=64))
    new_px, new_st = G.teleport(px, st, 3, env, delta=[10.0, 0.0])
    assert new_px.shape == px.shape and new_st[3, 0] == pytest.approx(70.0)


# -- api21, api48: dynamics ----------------------------------------------------------------------------------
def test_action_blocks_stats_and_straightness_eps():
    with pytest.raises(TypeError, match=r"action_blocks\(stats=\.\.\.\) must be an ActionStats"):
        G.action_blocks(np.zeros((10, 2)), np.arange(5), 5, None)
    with pytest.raises(ValueError, match=r"temporal_straightness\(eps=\.\.\.\) must be a finite number > 0"):
        G.temporal_straightness(Z, eps=-1)
    assert np.isfinite(G.temporal_straightness(Z, eps=np.float32(1e-6)))


# -- api22, api46, api47, api66, api67: encode_dataset -------------------------------------------------------
@pytest.mark.parametrize("kw, err, match", [
    (dict(episodes=[5]), DataError, r"episode 5 out of range \(file has 3"),
    (dict(episodes=[0, 0]), ValueError, r"encode_dataset\(episodes=\.\.\.\) lists episode 0 more than once"),
    (dict(keep_pixels="yes"), TypeError, r"encode_dataset\(keep_pixels=\.\.\.\) must be True or False"),
    (dict(stride=0), ValueError, r"encode_dataset\(stride=\.\.\.\) must be >= 1, got 0"),
    (dict(episodes=[]), ValueError, r"encode_dataset\(episodes=\.\.\.\) is empty"),
])
def test_encode_dataset_arguments(tiny, kw, err, match):
    model, path = tiny
    with pytest.raises(err, match=match):
        G.encode_dataset(model, path, max_frames=10, **kw)


def test_encode_dataset_valid_episodes(tiny):
    model, path = tiny
    enc = G.encode_dataset(model, path, max_frames=100, episodes=np.array([2, 0]), keep_pixels=np.True_)
    assert sorted(set(enc.episode.tolist())) == [0, 2] and len(enc.latents) == 24 and enc.pixels is not None


# -- api49, api77: probes ------------------------------------------------------------------------------------
def test_split_groups_and_probe_spread_splits():
    with pytest.raises(ValueError, match=r"split_indices\(groups=\.\.\.\) must give one group .* 10 rows"):
        G.split_indices(10, groups=np.arange(5))
    with pytest.raises(ValueError, match=r"probe_spread: splits must be <= 1_000"):
        G.probe_spread(Z, np.random.randn(50, 2), splits=10**6)
    with pytest.raises(TypeError, match=r"probe_spread\(progress=\.\.\.\) must be True or False"):
        G.probe_spread(Z, np.random.randn(50, 2), splits=2, progress="no")
    tr, te = G.split_indices(10, groups=np.repeat(np.arange(5), 2))
    assert len(tr) + len(te) == 10


def test_many_splits_show_progress(capsys):
    sp = G.probe_spread(Z, np.random.default_rng(1).standard_normal((50, 2)), splits=21)
    assert sp.pearson.shape == (21, 2)
    assert "probe splits" in capsys.readouterr().err  # a long spread does not look hung


# -- api50, api51: paired_one_sided --------------------------------------------------------------------------
def test_paired_one_sided_nan_and_no_difference():
    with pytest.raises(ValueError, match=r"paired_one_sided\(a=\.\.\.\) holds NaN/inf at \[0\]"):
        G.paired_one_sided(np.array([np.nan, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    with pytest.warns(UserWarning, match="equal in all 3 pairs"):
        p_w, p_t = G.paired_one_sided(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert np.isnan(p_w) and np.isnan(p_t)


# -- api68, api69, api70: latent maps ------------------------------------------------------------------------
def test_latent_map_seed_and_transform():
    with pytest.raises(ValueError, match=r"fit_latent_map\(seed=\.\.\.\) must be in \[0, 4294967295\], got -1"):
        G.fit_latent_map(Z, seed=-1)
    m = G.fit_latent_map(Z, seed=np.int64(3))
    with pytest.raises(ValueError, match=r"LatentMap.transform\(z=\.\.\.\): the latents have 8 dims, the map was "
                                         r"fitted on 16"):
        m.transform(Z[:, :8])
    with pytest.raises(ValueError, match=r"LatentMap.transform\(z=\.\.\.\): the latents hold NaN/inf \(2 of 2"):
        m.transform(np.full((2, 16), np.nan))
    assert m.transform(Z[:4]).shape == (4, 2)


# -- api23, api24, api52, api73, api74, api75: figures -------------------------------------------------------
def test_figure_arguments():
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"upscale: size must be <= 4096"):
        F.upscale(img, size=10**6)
    with pytest.raises(ValueError, match=r"fig_image_grid: size must be <= 4096"):
        F.fig_image_grid([[img]], ["r"], ["c"], size=10**5)
    with pytest.raises(TypeError, match=r"base\(fig=\.\.\.\) must be a plotly Figure .*got NoneType"):
        F.base(None)
    with pytest.raises(TypeError, match=r"fig_sigreg_hist: view must be a SIGRegView"):
        F.fig_sigreg_hist("view")
    with pytest.raises(ValueError, match=r"fig_series: series\[0\] colour must be a colour .*'nocolour'"):
        F.fig_series([("a", np.arange(3), np.arange(3), "nocolour")], "t")
    with pytest.raises(ValueError, match=r"fig_latent_map: colour must be numbers, one per point"):
        F.fig_latent_map(np.zeros((3, 2)), np.array(["a", "b", "c"]), "c")
    view = G.sigreg_view(np.random.randn(50, 16), num_dirs=4)
    with pytest.raises(ValueError, match=r"fig_sigreg_hist: cols must be <= 20"):
        F.fig_sigreg_hist(view, cols=10**6)
    # still drawn: None ("no view yet", the Train page), many directions, valid colours, a number colour
    assert "waiting" in F.fig_sigreg_hist(None).layout.title.text
    assert len(F.fig_sigreg_hist(G.sigreg_view(np.random.randn(50, 16), num_dirs=64)).data) == 128
    F.fig_series([("a", np.arange(3), np.arange(3), "rgba(150,150,150,0.25)"), ("b", [0, 1], [1, 2], None)], "t")
    F.fig_latent_map(np.zeros((3, 2)), np.array([1, 2, 3]), "c")
    F.fig_latent_map(np.zeros((3, 2)), "red", "c")
    assert F.upscale(img, size=4096).shape == (4096, 4096, 3)


# -- api25, api76: report ------------------------------------------------------------------------------------
def test_summary_text_empty_sections_and_make_report_out(tmp_path):
    from lewm.report import make_report, summary_text
    with pytest.raises(ValueError, match=r"summary_text: rep\['collapse'\] lacks 'effective_rank'"):
        summary_text({"collapse": {}, "sigreg": {}})
    with pytest.raises(ValueError, match=r"summary_text: rep\['sigreg'\] lacks 'value'"):
        summary_text({"collapse": dict(effective_rank=1, latent_dim=2, top1_fraction=0.5, mean_cosine=0.1,
                                       mean_std=1.0), "sigreg": {}})
    afile = tmp_path / "d.h5"
    afile.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"^make_report\(out=\.\.\.\) .*d.h5: is a file, expected a folder"):
        make_report("run1/last.pt", str(afile), str(afile), episodes=2, quick=True, progress=False)


# -- lab1, lab2: the lab ---------------------------------------------------------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")


def test_lab_says_a_checkpoint_given_as_data_is_not_a_dataset(lab_app):
    from _lab_assets import page_with_setting
    at = page_with_setting(lab_app, "LEWM_LAB_DATA", SHIPPED, "data")
    notes = [w.value for w in at.warning if "LEWM_LAB_DATA" in w.value]
    assert len(notes) == 1 and SHIPPED in notes[0] and "a checkpoint, not an HDF5 dataset" in notes[0], notes


def test_lab_names_a_run_folder_outside_the_runs_folder(lab_app, tmp_path):
    make, runs, _ = lab_app
    run = tmp_path / "elsewhere" / "badrun"
    run.mkdir(parents=True)
    (run / "last.pt").write_bytes(b"not loaded")
    with warnings.catch_warnings():
        at = make("welcome", str(run))
    assert not at.exception, [e.value for e in at.exception]
    notes = [w.value for w in at.warning if w.value.startswith("?ckpt=")]
    assert len(notes) == 1 and "a run folder (with last.pt) outside the lab's runs folder" in notes[0], notes
    assert f"LEWM_LAB_RUNS={run.parent}" in notes[0] and f"--runs {run.parent}" in notes[0]
