"""Round 18, fixer F1: the diagnostics' core (collapse, health, examples, projections, encoding, decoder,
neighbours, latent_map), lewm.metrics, lewm.sigreg and the shared checkers. Each bad argument is one named
error; each valid neighbour of it (numpy ints, bools, tensors) still works."""
import numpy as np
import pytest
import torch

import lewm.diagnostics as dg
from lewm import _api_checks as chk
from lewm import metrics as M
from lewm import sigreg as S
from lewm.diagnostics._common import _np, _torch, _uint8_frames
from lewm.diagnostics.health import UNKNOWN, health_verdict

Z = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
U8 = np.zeros((8, 32, 32, 3), np.uint8)


@pytest.fixture(scope="module")
def model():
    from lewm.config import get_preset
    from lewm.model import build_model
    torch.manual_seed(0)
    return build_model(get_preset("cpu-tiny").model).eval()


@pytest.fixture(scope="module")
def dec():
    torch.set_num_threads(1)
    return dg.train_decoder(Z[:8], U8, steps=2)


def test_collapse_health_examples(one_thread):
    with pytest.raises(ValueError, match=r"^collapse_meters: latents need D >= 1 dimensions, got shape \(50, 0\)"):
        dg.collapse_meters(Z[:, :0])  # C12
    with pytest.raises(ValueError, match=r"^fit_latent_map: latents need D >= 1 dimensions"):
        dg.fit_latent_map(Z[:, :0])  # L18
    with pytest.raises(ValueError, match=r"^collapse_verdict: effective_rank must be in \[0, latent_dim = 8\], got inf"):
        dg.collapse_verdict(1.0, float("inf"), 8)  # V10
    with pytest.raises(ValueError, match=r"^collapse_verdict: mean_std is a standard deviation .*got inf"):
        dg.collapse_verdict(float("inf"), 2.0, 8)
    assert dg.collapse_verdict(float("nan"), 2.0, 8) == (False, "no data yet")  # only NaN means no data
    with pytest.raises(ValueError, match=r"^health_verdict: latent_dim \(the latents' D\) must be a whole number >= 0, got 'x'"):
        health_verdict(float("nan"), 1.0, "x")  # H3
    assert health_verdict(float("nan"), float("nan"), 0).status == UNKNOWN  # the live view before any data
    assert health_verdict(1.0, 6.0, np.int64(8)).ok
    with pytest.raises(ValueError, match=r"^demo_latents\(seed=\.\.\.\) must be a whole number >= 0, got -1"):
        dg.demo_latents("gaussian", seed=-1)  # E7
    with pytest.raises(TypeError, match=r"^demo_latents\(seed=\.\.\.\) must be a whole number >= 0, got 1.5"):
        dg.demo_latents("gaussian", seed=1.5)
    a, b = dg.demo_latents("gaussian", n=4, seed=np.int64(3)), dg.demo_latents("gaussian", n=4, seed=3)
    assert np.array_equal(a, b)


def test_projections(one_thread):
    with pytest.raises(TypeError, match=r"^sigreg_view\(seed=\.\.\.\) must be a whole number >= 0, got None"):
        dg.sigreg_view(Z, seed=None)  # P22
    with pytest.raises(TypeError, match=r"^sigreg_view\(seed=\.\.\.\) must be a whole number >= 0, got 1.7"):
        dg.sigreg_view(Z, seed=1.7)
    with pytest.raises(ValueError, match=r"^sigreg_view\(seed=\.\.\.\) must be a whole number >= 0 and <= "):
        dg.sigreg_view(Z, seed=2**70)
    assert dg.sigreg_view(Z, seed=np.uint32(2)).value == pytest.approx(dg.sigreg_view(Z, seed=2).value)
    with pytest.raises(TypeError, match=r"^normal_pdf: x must be numbers, got NoneType"):
        dg.normal_pdf(None)  # P24
    with pytest.raises(TypeError, match=r"^normal_pdf: x must be numbers"):
        dg.normal_pdf([1.0, None])
    assert dg.normal_pdf([0, 1.0])[0] == pytest.approx(0.3989422804)


def test_metrics_and_sigreg():
    with pytest.raises(TypeError, match=r"^effective_rank expects real latents, got torch.complex64"):
        M.effective_rank(torch.randn(4, 3, dtype=torch.complex64))  # M11
    with pytest.raises(ValueError, match=r"^covariance_spectrum: latents on the meta device hold no values"):
        M.covariance_spectrum(torch.randn(10, 3).to("meta"))  # M12
    with pytest.raises(ValueError, match=r"^SIGReg num_proj must be <= 1_048_576 \(as SIGRegConfig.num_proj\), got 10+$"):
        S.sigreg(torch.randn(4, 3), num_proj=10**12)  # S7
    with pytest.raises(ValueError, match=r"^sigreg_stats: 4_096 latents x num_proj=1_048_576 x knots=17 need about .* GiB"):
        S.sigreg(torch.randn(4096, 3), num_proj=2**20)  # a mid-size value: refused before allocating
    with pytest.raises(ValueError, match=r"^SIGReg knots must be <= 1_000"):
        S.sigreg(torch.randn(4, 3), knots=10**6)
    with pytest.raises(TypeError, match=r"^random_directions\(dtype=\.\.\.\) must be a floating dtype .*got torch.int64"):
        S.random_directions(3, 4, dtype=torch.int64)  # S20
    with pytest.raises(TypeError, match=r"^sigreg_stats expects floating-point latents, got torch.int64"):
        S.sigreg_stats(torch.ones(4, 3, dtype=torch.int64))
    assert S.random_directions(3, 4, dtype=torch.float64).dtype == torch.float64
    assert torch.isfinite(S.sigreg(torch.randn(2, 8, 3), num_proj=np.int64(16)))
    assert M.effective_rank(torch.randn(20, 3, dtype=torch.float64)) > 1


def test_shared_converters():
    with pytest.raises(TypeError, match=r"^f\(x=\.\.\.\) must be numbers \(an array or a tensor\), got None"):
        _torch(None, what="f(x=...)")
    with pytest.raises(TypeError, match=r"^f\(x=\.\.\.\) must be real numbers .*got list of object"):
        _torch([None, 1.0], what="f(x=...)")
    with pytest.raises(TypeError, match=r"^f\(x=\.\.\.\) must be real numbers, got a tensor of torch.complex64"):
        _torch(torch.zeros(2, dtype=torch.complex64), what="f(x=...)")
    with pytest.raises(TypeError, match=r"^f\(x=\.\.\.\) must be numbers \(an array\), got None"):
        _np(None, what="f(x=...)")  # was an array of NaN without a word
    with pytest.raises(ValueError, match=r"^f\(x=\.\.\.\) must be numbers, got str"):
        _np("a", what="f(x=...)")
    assert _torch(np.arange(3)).dtype == torch.float32 and _np(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    with pytest.raises(ValueError, match=r"^pixels: expected uint8 frames \(0\.\.255\), got torch.float32 \(g takes uint8"):
        _uint8_frames(np.zeros((2, 4, 4, 3), np.float32), "g")
    with pytest.raises(TypeError, match=r"^g\(frames=\.\.\.\) must be uint8 frames \(N, S, S, 3\), got None"):
        _uint8_frames(None, "g", "frames")
    assert _uint8_frames(U8, "g").dtype == torch.uint8
    # the shared type checkers the diagnostics call for model / env
    with pytest.raises(TypeError, match=r"^f\(model=\.\.\.\) must be a LeWM model .*got NoneType"):
        chk.world_model("f", None, "encode")
    with pytest.raises(TypeError, match=r"^f\(model=\.\.\.\) must be a LeWM model .*got Linear \(it has no encode\)"):
        chk.world_model("f", torch.nn.Linear(2, 2), "encode")
    with pytest.raises(TypeError, match=r"^f\(env=\.\.\.\) must be an environment \(lewm.envs.make\(\.\.\.\)\), got NoneType"):
        chk.environment("f", None, "render_state")
    with pytest.raises(TypeError, match=r"got str .*lewm.envs.make\('two_room'\)"):
        chk.environment("f", "two_room", "render_state")
    with pytest.raises(ValueError, match=r"^f\(seed=\.\.\.\) must be a whole number >= 0, got -1"):
        chk.seed("f", -1)
    assert chk.seed("f", np.int64(5)) == 5


def test_encoding(model, syn_h5, one_thread):
    px = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(TypeError, match=r"^encode_frames\(pixels=\.\.\.\) must be uint8 frames \(N, S, S, 3\), got None"):
        dg.encode_frames(model, None)  # N8
    with pytest.raises(TypeError, match=r"^encode_frames\(model=\.\.\.\) must be a LeWM model .*got NoneType"):
        dg.encode_frames(None, px)  # N14
    with pytest.raises(TypeError, match=r"^encode_frames_both\(model=\.\.\.\) must be a LeWM model"):
        dg.encode_frames_both(None, px)
    with pytest.raises(ValueError, match=r"^pixels: expected uint8 frames \(0\.\.255\), got torch.float64 \(encode_frames takes"):
        dg.encode_frames(model, px / 255.0)
    with pytest.raises(ValueError, match=r"^max_frames must be a whole number >= 1, got True"):
        dg.encode_dataset(model, syn_h5, max_frames=True)  # D6
    with pytest.raises(ValueError, match=r"^encode_dataset\(batch=\.\.\.\) must be >= 1, got 0"):
        dg.encode_dataset(model, syn_h5, batch=0)  # D13
    with pytest.raises(ValueError, match=r"^encode_dataset\(seed=\.\.\.\) must be a whole number >= 0, got -1"):
        dg.encode_dataset(model, syn_h5, seed=-1)  # D16
    with pytest.raises(TypeError, match=r"^encode_dataset\(model=\.\.\.\) must be a LeWM model"):
        dg.encode_dataset(None, syn_h5)
    assert dg.encode_frames(model, torch.from_numpy(px), batch=np.int64(2)).shape == (3, model.cfg.latent_dim)
    enc = dg.encode_dataset(model, syn_h5, max_frames=np.int64(5), batch=np.int32(4), seed=np.int64(1))
    assert enc.latents.shape == (5, model.cfg.latent_dim)


def test_train_decoder(one_thread):
    with pytest.raises(TypeError, match=r"^train_decoder\(latents=\.\.\.\) must be numbers \(an array or a tensor\), got None"):
        dg.train_decoder(None, U8, steps=2)  # R8
    with pytest.raises(TypeError, match=r"^train_decoder\(pixels=\.\.\.\) must be uint8 frames \(N, S, S, 3\), got None"):
        dg.train_decoder(Z[:8], None, steps=2)  # R7
    with pytest.raises(ValueError, match=r"^pixels: expected uint8 frames \(0\.\.255\), got torch.float64 \(train_decoder takes"):
        dg.train_decoder(Z[:8], np.full((8, 32, 32, 3), 300.0), steps=2)  # R16
    with pytest.raises(ValueError, match=r"^pixels: expected uint8 frames .*train_decoder"):
        dg.train_decoder(Z[:8], np.full((8, 32, 32, 3), 0.5), steps=2)  # floats in [0, 1]: refused too
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^train_decoder\(device=\.\.\.\) cuda: .*use device='cpu'"):
            dg.train_decoder(Z[:8], U8, steps=2, device="cuda")  # R11
    with pytest.raises(TypeError, match=r"^train_decoder\(seed=\.\.\.\) must be a whole number >= 0, got None"):
        dg.train_decoder(Z[:8], U8, steps=2, seed=None)  # R13
    with pytest.raises(ValueError, match=r"^train_decoder\(width=\.\.\.\) 1000000: .* needs about .* GiB to train"):
        dg.train_decoder(Z[:8], U8, steps=1, width=10**6)  # R14
    with pytest.raises(TypeError, match=r"^train_decoder\(progress=\.\.\.\) must be True or False, got 'no'"):
        dg.train_decoder(Z[:8], U8, steps=2, progress="no")  # R18
    d = dg.train_decoder(torch.from_numpy(Z[:8]), torch.from_numpy(U8), steps=np.int64(2), seed=np.int64(1),
                         progress=np.False_, device=torch.device("cpu"))
    assert len(d.history) == 2


def test_decode(dec):
    with pytest.raises(TypeError, match=r"^decode\(decoder=\.\.\.\) must be a LatentDecoder .*got NoneType"):
        dg.decode(None, Z[:3])  # R28
    with pytest.raises(TypeError, match=r"^decode\(z=\.\.\.\) must be numbers"):
        dg.decode(dec, None)  # R27
    with pytest.raises(ValueError, match=r"^decode: the latents hold NaN/inf \(2 of 2 rows\)"):
        dg.decode(dec, np.full((2, 8), np.nan))  # R25
    with pytest.raises(ValueError, match=r"^decode\(batch=\.\.\.\) must be >= 1, got -1"):
        dg.decode(dec, Z[:3], batch=-1)  # R30
    with pytest.raises(ValueError, match=r"^decode\(batch=\.\.\.\) must be >= 1, got 0"):
        dg.decode(dec, Z[:3], batch=0)
    with pytest.raises(TypeError, match=r"^decode\(batch=\.\.\.\) must be a whole number, got 1.5"):
        dg.decode(dec, Z[:3], batch=1.5)
    with pytest.raises(ValueError, match=r"^decode: latents must be \(N, D\) or \(D,\), got shape \(\)"):
        dg.decode(dec, np.float64(3.0))  # R32
    assert dg.decode(dec, Z[:3], batch=np.int64(2)).shape == (3, 32, 32, 3)
    assert dg.decode(dec, Z[0]).shape == (1, 32, 32, 3)


def test_neighbours_and_latent_map(one_thread):
    with pytest.raises(ValueError, match=r"^NearestFrames\(frames=\.\.\.\) must be \(N, S, S, 3\) frames \(or None\), got int"):
        dg.NearestFrames(Z, frames=7)  # K16
    with pytest.raises(TypeError, match=r"^NearestFrames\(latents=\.\.\.\) must be numbers"):
        dg.NearestFrames(None)  # K8
    with pytest.raises(TypeError, match=r"^NearestFrames.query\(z=\.\.\.\) must be numbers"):
        dg.NearestFrames(Z).query(None)  # K9
    nf = dg.NearestFrames(Z, frames=np.zeros((50, 4, 4, 3), np.uint8))
    assert nf.query(Z[:2], k=np.int64(2)).frames.shape == (2, 2, 4, 4, 3)
    with pytest.raises(ValueError, match=r"^fit_latent_map\(method=\.\.\.\) must be 'pca' or 'umap', got None"):
        dg.fit_latent_map(Z, None)  # L5
    with pytest.raises(ValueError, match=r"^fit_latent_map\(n_neighbors=\.\.\.\) must be >= 2, got 0"):
        dg.fit_latent_map(Z, "umap", n_neighbors=0)  # L15
    with pytest.raises(ValueError, match=r"^fit_latent_map\(min_dist=\.\.\.\) must be"):
        dg.fit_latent_map(Z, "umap", min_dist=-1.0)
    lm = dg.fit_latent_map(Z, "PCA", seed=np.int64(1))
    out = lm.transform(Z[:0])  # L9: no latents, no coordinates
    assert out.shape == (0, 2) and out.dtype == np.float32
    assert lm.transform(Z[:3]).shape == (3, 2)


def test_shared_episode_and_grid_checks():
    from lewm.diagnostics._common import _state_grid, check_episode
    from lewm.envs import make
    with pytest.raises(TypeError, match=r"^open_loop_dynamics\(cfg=\.\.\.\) must be a LeWMConfig .*got NoneType"):
        check_episode(np.zeros((3, 32, 32, 3), np.uint8), np.zeros((3, 2)), None, fn="open_loop_dynamics")
    env = make("two_room", image_size=32)
    with pytest.raises(ValueError, match=r"^lo/hi must give one value per grid dim \(2: agent_x, agent_y\), got shapes \(1,\)"):
        _state_grid(env, 3, None, [10], [50], np.zeros(env.state_dim))  # G28's root
    dims, xs, ys, states = _state_grid(env, 3, None, [10, 10], [50, 50], np.zeros(env.state_dim))
    assert states.shape == (9, env.state_dim) and xs[-1] == 50
