"""Diagnostics against independent references (constructed spectra, known dynamics, brute force)."""
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
import torch
from torch import nn

from lewm import diagnostics as dg
from lewm.config import LeWMConfig, ModelConfig, get_preset
from lewm.model import LeWM


# ---------------------------------------------------------------------------------------------
# A world whose answers are known: the latent is the position written in pixel (0, 0)
# ---------------------------------------------------------------------------------------------
class PositionWorld(nn.Module):
    """Stub world model: encode reads (x, y) from pixel (0, 0) channels R, G; the predictor
    moves z by ``gain`` × (sum of the raw actions in the block). Raw actions are integers, so a
    gain of 1 is an exact model of :func:`position_episode`."""

    def rollout(self, z_hist, action_blocks, act_hist=None):  # the real (plain) autoregressive loop, driven by our predict
        return LeWM.rollout(self, z_hist, action_blocks, act_hist, lean=False)

    rollout_window = LeWM.rollout_window  # the context expansion the loop starts from

    def __init__(self, history=2, frameskip=3, gain=1.0):
        super().__init__()
        self.cfg = ModelConfig(image_size=8, patch_size=8, enc_dim=4, enc_heads=1, latent_dim=2, history=history,
                               frameskip=frameskip, action_dim=2)
        self.gain = gain
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, pixels):  # (B, T, 3, S, S) uint8
        return pixels[:, :, :2, 0, 0].float()  # (B, T, 2)

    def predict(self, z, actions):  # (B, T, D), (B, T, fs*A)
        disp = actions.view(*actions.shape[:2], self.cfg.frameskip, 2).sum(2)  # (B, T, 2)
        return z + self.gain * disp


def world_cfg(model):
    # action_mean 0 / std 1: the z-scoring is the identity, so the stub sees raw actions
    return LeWMConfig(model=model.cfg, action_mean=(0.0, 0.0), action_std=(1.0, 1.0))


def render_position(state, size=8):
    img = np.full((size, size, 3), 128, np.uint8)
    img[0, 0, 0], img[0, 0, 1], img[0, 0, 2] = int(state[0]), int(state[1]), 0
    return img


def position_episode(rng, length=31):
    a = rng.integers(-2, 3, size=(length, 2)).astype(np.float32)  # (L, 2) integer moves
    s = np.empty((length, 2), np.float32)
    s[0] = rng.integers(90, 160, 2)
    for i in range(1, length):
        s[i] = s[i - 1] + a[i - 1]
    px = np.stack([render_position(x) for x in s])
    return {"pixels": px, "action": a, "state": s}


class StubEnv:
    state_names = ("agent_x", "agent_y")

    def render_state(self, state):
        return render_position(state)


# ---------------------------------------------------------------------------------------------
# 1. SIGReg view
# ---------------------------------------------------------------------------------------------
def test_sigreg_view_projections_statistics_and_reference():
    g = np.random.default_rng(0)
    z = g.normal(size=(512, 12)).astype(np.float32) * 1.5 + 0.3
    v = dg.sigreg_view(z, num_dirs=6, seed=1)
    np.testing.assert_allclose(np.linalg.norm(v.directions, axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(v.projections, z @ v.directions, atol=1e-4)
    # Epps–Pulley against a brute-force two-sided complex integral on a fine grid
    t = np.linspace(-3, 3, 6001)
    h = v.projections.astype(np.float64)
    ecf = np.exp(1j * h[:, :, None] * t).mean(0)  # (K, G)
    ref = len(h) * np.trapezoid(np.exp(-t**2 / 2) * np.abs(ecf - np.exp(-t**2 / 2)) ** 2, t, axis=-1)
    np.testing.assert_allclose(v.statistic, ref, rtol=0.02)
    assert v.value == pytest.approx(ref.mean(), rel=0.02)
    assert np.trapezoid(v.reference_pdf, v.grid) == pytest.approx(1.0, abs=1e-3)
    width = np.diff(v.bin_edges)
    inside = ((h > v.bin_edges[0]) & (h < v.bin_edges[-1])).mean(0)
    np.testing.assert_allclose((v.histograms * width).sum(1), 1.0, atol=1e-9)
    assert inside.min() > 0.95
    np.testing.assert_allclose(v.dim_mean, z.mean(0), atol=1e-5)
    np.testing.assert_allclose(v.dim_std, z.std(0), rtol=1e-4)
    # same seed -> same directions; (T, B, D) input stacks the steps
    assert np.array_equal(dg.sigreg_view(z, 6, seed=1).directions, v.directions)
    v3 = dg.sigreg_view(z.reshape(4, 128, 12), 6, seed=1)
    assert v3.projections.shape == (512, 6)


def test_sigreg_view_gaussian_histogram_matches_reference():
    z = np.random.default_rng(2).normal(size=(20000, 8)).astype(np.float32)
    v = dg.sigreg_view(z, num_dirs=3, seed=0, bins=20)
    centres = 0.5 * (v.bin_edges[1:] + v.bin_edges[:-1])
    np.testing.assert_allclose(v.histograms, np.broadcast_to(dg.normal_pdf(centres), v.histograms.shape), atol=0.02)
    # under H0, E[EP] = ∫ e^{-t²/2} (1 - e^{-t²}) dt over [-3, 3] ≈ 1.06, whatever N; shifted data is far above
    t = np.linspace(-3, 3, 20001)
    null = np.trapezoid(np.exp(-t**2 / 2) * (1 - np.exp(-t**2)), t)
    assert v.value == pytest.approx(null, rel=0.5)
    assert dg.sigreg_view(z + 0.5, num_dirs=3, seed=0).value > 50 * null


# ---------------------------------------------------------------------------------------------
# 2. Collapse meters
# ---------------------------------------------------------------------------------------------
def with_spectrum(lams, n=400, seed=0):
    """Points whose sample covariance has exactly the eigenvalues ``lams`` (in a random basis)."""
    g = np.random.default_rng(seed)
    D = len(lams)
    x = g.normal(size=(n, D))
    x -= x.mean(0)
    u, _, _ = np.linalg.svd(x, full_matrices=False)  # (n, D) orthonormal columns, each centred
    q, _ = np.linalg.qr(g.normal(size=(D, D)))
    return (u * math.sqrt(n - 1) * np.sqrt(lams)) @ q.T + 5.0  # offset: covariance ignores it


def test_collapse_meters_on_constructed_spectra():
    lams = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.5])
    m = dg.collapse_meters(with_spectrum(lams), k=2)
    np.testing.assert_allclose(m.spectrum, lams, rtol=1e-6)
    p = lams / lams.sum()
    assert m.effective_rank == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-6)
    assert m.top1_fraction == pytest.approx(8 / 16)
    assert m.topk_fraction == pytest.approx(12 / 16)
    assert m.components_90 == 4  # 15/16 >= 0.9 > 14/16
    assert m.total_variance == pytest.approx(16.0)


def test_effective_rank_isotropic_and_rank_one():
    g = np.random.default_rng(1)
    iso = dg.collapse_meters(g.normal(size=(20000, 16)))
    assert iso.effective_rank == pytest.approx(16, rel=0.02)
    assert iso.top1_fraction == pytest.approx(1 / 16, rel=0.15)
    assert abs(iso.mean_cosine) < 0.01
    line = g.normal(size=(500, 1)) * g.normal(size=(1, 16))
    one = dg.collapse_meters(line)
    assert one.effective_rank == pytest.approx(1.0, abs=1e-3)
    assert one.top1_fraction == pytest.approx(1.0, abs=1e-9)
    assert dg.collapse_meters(np.ones((10, 4)) * 3 + 1e-9 * g.normal(size=(10, 4))).mean_cosine == pytest.approx(1.0)


def test_mean_cosine_matches_brute_force():
    x = np.random.default_rng(3).normal(size=(60, 5)) + 0.7
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = u @ u.T
    ref = c[~np.eye(60, dtype=bool)].mean()
    assert dg.collapse_meters(x).mean_cosine == pytest.approx(ref, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# 3. Latent maps, dataset encoding
# ---------------------------------------------------------------------------------------------
def test_pca_map_is_an_isometry_of_a_planar_cloud():
    g = np.random.default_rng(0)
    q, _ = np.linalg.qr(g.normal(size=(10, 2)))  # (D, 2) orthonormal plane
    a = g.normal(size=(300, 2)) * [3.0, 1.0]
    m = dg.fit_latent_map(a @ q.T, "pca", seed=0)
    d_map = np.linalg.norm(m.coords[:, None] - m.coords[None], axis=-1)
    d_true = np.linalg.norm(a[:, None] - a[None], axis=-1)
    np.testing.assert_allclose(d_map, d_true, atol=1e-3)
    new = g.normal(size=(5, 2))
    placed = m.transform(new @ q.T)  # new points keep their distances to the fitted ones
    np.testing.assert_allclose(np.linalg.norm(placed[:, None] - m.coords[None], axis=-1),
                               np.linalg.norm(new[:, None] - a[None], axis=-1), atol=1e-3)
    with pytest.raises(ValueError, match="umap"):
        dg.fit_latent_map(a @ q.T, "tsne")


@pytest.mark.slow
def test_umap_map_places_new_points_with_their_cluster():
    g = np.random.default_rng(0)
    centres = g.normal(size=(3, 16)) * 10
    lab = np.repeat(np.arange(3), 100)
    z = centres[lab] + g.normal(size=(300, 16))
    m = dg.fit_latent_map(z, "umap", seed=0)
    assert m.coords.shape == (300, 2)
    map_centres = np.stack([m.coords[lab == c].mean(0) for c in range(3)])
    new = centres + g.normal(size=(3, 16))
    placed = m.transform(new)
    nearest = np.linalg.norm(placed[:, None] - map_centres[None], axis=-1).argmin(1)
    assert (nearest == np.arange(3)).all()


def test_encode_dataset_matches_direct_encoding(syn_h5):
    import h5py
    torch.manual_seed(0)
    model = LeWM(get_preset("cpu-tiny").model).eval()
    enc = dg.encode_dataset(model, syn_h5, max_frames=100, batch=32, keep_pixels=True, seed=0)
    assert enc.latents.shape == (100, 16) and enc.state.shape == (100, 2) and enc.state_names == ("x", "y")
    with h5py.File(syn_h5) as f:
        off = f["ep_offset"][:]
        px = f["pixels"][enc.frame_index[:7]]
        st = f["state"][:][enc.frame_index]
    assert np.array_equal(enc.frame_index, off[enc.episode] + enc.step)
    np.testing.assert_allclose(enc.state, st)
    assert np.array_equal(enc.pixels[:7], px)
    with torch.no_grad():
        ref = model.encode(torch.from_numpy(px).permute(0, 3, 1, 2)[None])[0].numpy()
    np.testing.assert_allclose(enc.latents[:7], ref, atol=1e-5)
    assert len(np.unique(enc.episode)) == 3  # whole 40-frame episodes, the last one cut
    # the pre-projector embeddings: one pass gives both, and the projector maps one to the other
    both = dg.encode_dataset(model, syn_h5, max_frames=100, batch=32, seed=0, with_embeddings=True)
    assert both.embeddings.shape == (100, model.cfg.enc_dim)
    np.testing.assert_allclose(both.latents, enc.latents, atol=1e-5)
    with torch.no_grad():
        via_projector = model.projector(torch.from_numpy(both.embeddings[:7])).numpy()
        emb_ref = model.encoder(model.normalize_pixels(torch.from_numpy(px).permute(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(via_projector, ref, atol=1e-5)
    np.testing.assert_allclose(dg.encode_frames(model, px, features="embedding").numpy(), emb_ref, atol=1e-5)
    with pytest.raises(ValueError, match="features"):
        dg.encode_frames(model, px, features="cls")


# ---------------------------------------------------------------------------------------------
# 4. Probes
# ---------------------------------------------------------------------------------------------
def test_linear_probe_recovers_linearly_embedded_state():
    g = np.random.default_rng(0)
    state = g.uniform(-1, 1, size=(600, 3))
    z = np.concatenate([state @ g.normal(size=(3, 8)), g.normal(size=(600, 4))], 1) + 0.01 * g.normal(size=(600, 12))
    groups = np.repeat(np.arange(30), 20)
    res = dg.probe(z, state, ["a", "b", "c"], kind="linear", groups=groups, seed=0)
    assert res.n_test == 120 and res.n_train == 480
    assert (res.pearson > 0.999).all() and (res.r2 > 0.998).all()
    assert [r["quantity"] for r in res.table()] == ["a", "b", "c"]
    noise = dg.probe(g.normal(size=(600, 12)), state, kind="linear", seed=0)
    assert (noise.r2 < 0.1).all() and (np.abs(noise.pearson) < 0.3).all()


def test_mlp_probe_beats_linear_on_a_nonlinear_code():
    g = np.random.default_rng(1)
    ang = g.uniform(-np.pi, np.pi, 800)
    z = np.stack([np.cos(ang), np.sin(ang)], 1) + 0.01 * g.normal(size=(800, 2))
    target = (np.cos(2 * ang))[:, None]  # = cos² - sin²: quadratic in z, a linear probe gets ~0
    lin = dg.probe(z, target, kind="linear", seed=0)
    mlp = dg.probe(z, target, kind="mlp", seed=0, mlp_hidden=(64, 64))
    assert lin.r2[0] < 0.05
    assert mlp.r2[0] > 0.9 and mlp.pearson[0] > 0.95


def test_group_split_keeps_groups_apart():
    groups = np.repeat(np.arange(10), 7)
    tr, te = dg.split_indices(70, 0.3, seed=4, groups=groups)
    assert set(groups[tr]).isdisjoint(groups[te]) and len(set(groups[te])) == 3
    assert len(tr) + len(te) == 70


def test_pearson_and_r2_helpers_match_numpy():
    g = np.random.default_rng(5)
    a, b = g.normal(size=(50, 3)), g.normal(size=(50, 3))
    np.testing.assert_allclose(dg.pearson_r(a, b), [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(3)])
    from sklearn.metrics import r2_score
    np.testing.assert_allclose(dg.r2_score_cols(a, b), r2_score(b, a, multioutput="raw_values"))


# ---------------------------------------------------------------------------------------------
# 5. Dynamics
# ---------------------------------------------------------------------------------------------
def test_open_loop_is_exact_for_an_exact_model_and_copy_baseline_grows():
    ep = position_episode(np.random.default_rng(0), length=31)
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    r = dg.open_loop_dynamics(model, ep["pixels"], ep["action"], world_cfg(model), start=1)
    assert r.frames.tolist() == list(range(7, 31, 3)) and r.context_frames.tolist() == [1, 4]
    np.testing.assert_allclose(r.actual, ep["state"][r.frames])
    np.testing.assert_allclose(r.error, 0.0, atol=1e-9)
    np.testing.assert_allclose(r.copy_error, ((ep["state"][r.frames] - ep["state"][4]) ** 2).mean(1), rtol=1e-6)
    # a model that ignores actions is the copy baseline
    still = PositionWorld(history=2, frameskip=3, gain=0.0)
    r0 = dg.open_loop_dynamics(still, ep["pixels"], ep["action"], world_cfg(still), start=1, horizon=4)
    np.testing.assert_allclose(r0.error, r0.copy_error, rtol=1e-6)
    with pytest.raises(ValueError, match="horizon"):
        dg.open_loop_dynamics(model, ep["pixels"], ep["action"], world_cfg(model), start=1, horizon=9)


def test_open_loop_matches_a_step_by_step_reference_on_a_real_model():
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(model={"frameskip": 2}, action_mean=(0.1, -0.2), action_std=(0.5, 2.0))
    model = LeWM(cfg.model).eval()
    with torch.no_grad():  # non-trivial action conditioning (AdaLN is zero-initialised)
        for p in model.predictor.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g = np.random.default_rng(0)
    px = g.integers(0, 256, size=(15, 32, 32, 3), dtype=np.uint8)
    act = g.normal(size=(15, 2)).astype(np.float32)
    r = dg.open_loop_dynamics(model, px, act, cfg, start=0, horizon=4)
    H, fs = 2, 2
    with torch.no_grad():
        z = model.encode(torch.from_numpy(px[::fs][:H]).permute(0, 3, 1, 2)[None])[0]  # (H, D)
        a = torch.from_numpy(((act - [0.1, -0.2]) / [0.5, 2.0]).astype(np.float32))
        blocks = [a[i * fs:(i + 1) * fs].reshape(-1) for i in range(H + 4)]
        zs, acts, pred = list(z), blocks[:H], []
        for p in range(4):
            out = model.predict(torch.stack(zs[-H:])[None], torch.stack(acts[-H:])[None])[0, -1]
            pred.append(out)
            zs.append(out)
            acts.append(blocks[H + p])
    np.testing.assert_allclose(r.predicted, torch.stack(pred).numpy(), atol=1e-5)


def test_temporal_straightness_known_paths():
    t = np.arange(20)[:, None]
    assert dg.temporal_straightness(t * np.array([[1.0, 2.0, -1.0]])) == pytest.approx(1.0)
    zig = np.stack([np.arange(20), (np.arange(20) % 2)], 1).astype(float)  # velocities (1, ±1)
    assert dg.temporal_straightness(zig) == pytest.approx(0.0, abs=1e-12)
    theta = 0.3
    circle = np.stack([np.cos(theta * t[:, 0]), np.sin(theta * t[:, 0])], 1)
    assert dg.temporal_straightness(circle) == pytest.approx(math.cos(theta), abs=1e-9)
    assert math.isnan(dg.temporal_straightness(np.zeros((2, 3))))


# ---------------------------------------------------------------------------------------------
# 6. Surprise
# ---------------------------------------------------------------------------------------------
def test_surprise_trace_matches_windowed_reference():
    torch.manual_seed(1)
    cfg = get_preset("cpu-tiny").with_overrides(model={"history": 3, "frameskip": 2})
    model = LeWM(cfg.model).eval()
    g = np.random.default_rng(1)
    px = g.integers(0, 256, size=(14, 32, 32, 3), dtype=np.uint8)
    act = g.normal(size=(14, 2)).astype(np.float32)
    tr = dg.surprise_trace(model, px, act, cfg)
    assert tr.frames.tolist() == [0, 2, 4, 6, 8, 10, 12] and math.isnan(tr.error[0])
    with torch.no_grad():
        z = model.encode(torch.from_numpy(px[::2]).permute(0, 3, 1, 2)[None])[0]  # (7, D)
        a = torch.from_numpy(act[:12].reshape(6, 4))
        for k in range(1, 7):
            lo = max(0, k - 3)
            pred = model.predict(z[None, lo:k], a[None, lo:k])[0, -1]
            assert tr.error[k] == pytest.approx(((pred - z[k]) ** 2).mean().item(), rel=1e-4)


def test_teleport_and_colour_change():
    ep = position_episode(np.random.default_rng(0))
    bounds = (np.array([50.0, 60.0]), np.array([200.0, 220.0]))
    px, st = dg.teleport(ep["pixels"], ep["state"], 12, StubEnv(), bounds=bounds)
    assert np.array_equal(px[:12], ep["pixels"][:12]) and np.array_equal(st[:12], ep["state"][:12])
    np.testing.assert_allclose(st[12], np.clip([250.0, 280.0] - ep["state"][12], *bounds))  # mirror image
    np.testing.assert_allclose(np.diff(st[12:], axis=0), np.diff(ep["state"][12:], axis=0))  # same motion after
    assert px[20, 0, 0, 0] == int(st[20, 0])
    px2, st2 = dg.teleport(ep["pixels"], ep["state"], 5, render_position, delta=[1000, 0], bounds=bounds)
    assert (st2[5:, 0] == 200).all() and np.array_equal(st2[5:, 1], ep["state"][5:, 1])
    assert dg.default_teleport_dims(["agent_x", "agent_y", "block_x", "block_y", "block_angle"]) == [2, 3]
    assert dg.default_teleport_dims(["q1", "q2", "dq1"]) == [0, 1]
    img = np.zeros((3, 2, 2, 3), np.uint8)
    img[..., 0] = 200  # red
    hue = dg.colour_change(img, 1, "hue")
    assert hue[0, 0, 0].tolist() == [200, 0, 0] and hue[1, 0, 0].tolist() == [0, 200, 0]
    assert dg.colour_change(img, 2, "invert")[2, 0, 0].tolist() == [55, 255, 255]


def test_teleport_with_two_room_env_moves_the_dot():
    from lewm.envs import make
    env = make("two_room", image_size=32)
    states = np.stack([np.linspace(40, 80, 10), np.full(10, 150.0)], 1).astype(np.float32)
    px = np.stack([env.render_state(s) for s in states])
    px2, st2 = dg.teleport(px, states, 4, env, delta=[120.0, -100.0])

    def red_centroid(img):
        w = img[..., 0].astype(float) - img[..., 1].astype(float)  # red where G is low
        ys, xs = np.mgrid[:32, :32]
        return np.array([(xs * w).sum(), (ys * w).sum()]) / w.sum() * 224 / 32

    np.testing.assert_allclose(red_centroid(px2[6]), st2[6], atol=4.0)
    np.testing.assert_allclose(st2[6], states[6] + [120.0, -100.0])


def test_teleport_redraws_the_episodes_own_target(tmp_path):
    """Reacher draws its goal: a zero teleport must reproduce the recorded frames exactly when the
    episode's goal_state is given (from the HDF5 file), and the mismatch meter must flag it when not."""
    from lewm.collect import collect
    from lewm.data import load_episode
    from lewm.envs import make
    path = str(tmp_path / "r.h5")
    collect("reacher", 2, path, image_size=32, seed=5, episode_len=12, workers=1, progress=False)
    ep = load_episode(path, 1)
    assert ep["goal_state"].shape == (4,)
    env = make("reacher", image_size=32)  # a fresh env: its own default goal
    px, _ = dg.teleport(ep["pixels"], ep["state"], 6, env, delta=[0.0, 0.0], goal_state=ep["goal_state"])
    assert (px == ep["pixels"]).all()
    assert dg.render_mismatch(ep["pixels"], ep["state"], env, [3], goal_state=ep["goal_state"]) == 0.0
    assert dg.render_mismatch(ep["pixels"], ep["state"], env, [3]) > 0.0  # the target drawn elsewhere
    np.testing.assert_array_equal(env.goal_state, np.zeros(4, np.float32))  # restored


def test_surprise_spikes_on_teleport_and_colour_in_a_known_world():
    model = PositionWorld(history=2, frameskip=3, gain=1.0)
    cfg = world_cfg(model)
    eps = [position_episode(np.random.default_rng(s)) for s in range(7)]
    bounds = (np.zeros(2), np.full(2, 255.0))  # wide: nothing is clipped after the jump
    res = dg.surprise_test(model, cfg, eps, env=StubEnv(), perturbations=("teleport", "colour"), bounds=bounds)
    tp = res["teleport"]
    assert tp.frame.tolist() == [15] * 7  # kept frame nearest the middle of 31 frames, stride 3
    np.testing.assert_allclose(tp.clean, 0.0, atol=1e-9)  # an exact model is never surprised
    # the spike is exactly the squared jump per dimension
    jump = np.stack([255.0 - 2 * e["state"][15] for e in eps])  # to the mirror image
    np.testing.assert_allclose(tp.perturbed, (jump**2).mean(1), rtol=1e-5)
    assert tp.p_wilcoxon == pytest.approx(1 / 2**7) and tp.p_ttest < 0.05
    for clean_tr, pert_tr in tp.traces:  # the motion goes on from the new place: no surprise after the jump
        np.testing.assert_allclose(pert_tr.error[pert_tr.frames > 15], 0.0, atol=1e-9)
    col = res["colour"]
    assert (col.spike > 0).all() and col.p_wilcoxon < 0.01
    # without an env there is no teleport test; a null perturbation is not significant
    assert list(dg.surprise_test(model, cfg, eps[:2], perturbations=("teleport", "colour"))) == ["colour"]
    p_w, p_t = dg.paired_one_sided(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert math.isnan(p_w) and math.isnan(p_t)
    p_w, _ = dg.paired_one_sided(np.array([0.0, 0.1, -0.2, 0.3, -0.1, 0.05]), np.zeros(6))
    assert p_w > 0.2


# ---------------------------------------------------------------------------------------------
# 7. Decoder and nearest frames
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def one_thread():
    """Tiny convolutions run far faster on one thread than on two busy ones."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_decoder_trains_on_detached_latents_only_and_beats_the_mean_frame(one_thread):
    from lewm.synthetic import dot_frames
    g = np.random.default_rng(0)
    xy = g.uniform(0.2, 0.8, size=(400, 2)).astype(np.float32)
    frames = dot_frames(xy, 16, sigma=0.12)  # (N, 16, 16, 3)
    # latents that carry gradient to a model: the decoder must not touch it
    torch.manual_seed(0)
    lin = nn.Linear(2, 6)
    z = lin(torch.from_numpy(xy))  # (N, 6) requires grad
    dec = dg.train_decoder(z, frames, steps=200, batch_size=32, lr=3e-3, width=32, seed=0)
    assert all(p.grad is None for p in lin.parameters())
    out = dg.decode(dec, z[:100])
    assert out.shape == (100, 16, 16, 3) and out.dtype == np.uint8
    target = frames[:100].astype(float)
    err = ((out.astype(float) - target) ** 2).mean()
    base = ((frames.astype(float).mean(0) - target) ** 2).mean()
    assert err < 0.1 * base, (err, base)
    assert dec.history[-1] < dec.history[0]


def test_decoder_handles_non_power_of_two_sizes():
    assert dg._upsampling_plan(224) == (5, 7) and dg._upsampling_plan(64) == (4, 4)
    dec = dg.LatentDecoder(4, 24)
    assert dec(torch.zeros(2, 4)).shape == (2, 3, 24, 24)
    dec = dg.LatentDecoder(4, 30)  # 30 = 2 * 15: one upsampling
    assert dec(torch.zeros(1, 4)).shape == (1, 3, 30, 30)


def test_nearest_frames_matches_brute_force():
    g = np.random.default_rng(0)
    lat = g.normal(size=(50, 6)).astype(np.float32)
    frames = np.arange(50, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    nf = dg.NearestFrames(lat, frames)
    q = g.normal(size=(4, 6)).astype(np.float32)
    res = nf.query(q, k=3)
    d = np.linalg.norm(q[:, None] - lat[None], axis=-1)
    np.testing.assert_array_equal(res.indices, np.argsort(d, axis=1)[:, :3])
    np.testing.assert_allclose(res.distances, np.sort(d, axis=1)[:, :3], rtol=1e-5)
    assert res.frames.shape == (4, 3, 2, 2, 3) and res.frames[0, 0, 0, 0, 0] == res.indices[0, 0]
    one = nf.query(lat[7])
    assert one.indices.tolist() == [[7]] and one.distances[0, 0] == pytest.approx(0.0, abs=1e-5)


def test_second_moment_rank_exposes_point_collapse():
    import torch
    from lewm.metrics import effective_rank
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(4000, 16, generator=g)
    point = torch.ones(16) * 0.5 + 1e-3 * torch.randn(4000, 16, generator=g)  # collapsed to a point + jitter
    assert effective_rank(iso) > 15 and effective_rank(iso, centered=False) > 15
    assert effective_rank(point) > 15  # the centred rank is blind to this collapse (scale-free)
    assert effective_rank(point, centered=False) < 1.1


class _DotCentroid(nn.Module):
    """A 'perfect' encoder for Two-Room: the redness-weighted centroid of the dot, in canvas units."""

    def __init__(self, scramble: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.scramble = scramble

    def encode(self, x):  # (1, B, 3, S, S) uint8
        x = x[0].float()
        red = (x[:, 0] - x[:, 1]).clamp(min=0)  # (B, S, S)
        S = x.shape[-1]
        u = (torch.arange(S) + 0.5) * (224.0 / S) - 0.5
        m = red.sum((1, 2)).clamp(min=1e-6)
        z = torch.stack([(red.sum(1) * u).sum(1) / m, (red.sum(2) * u).sum(1) / m], -1)  # (B, 2)
        if self.scramble:  # a map with no geometry: a hash of the position
            z = torch.stack([torch.sin(z[:, 0] * 12.9898 + z[:, 1] * 78.233) * 43758.5453 % 1.0,
                             torch.cos(z[:, 0] * 39.346 + z[:, 1] * 11.135) * 12345.678 % 1.0], -1)
        return z[None]  # (1, B, 2)


def test_two_room_geodesic_distance_known_paths():
    from lewm.envs.two_room import geodesic_distance
    # same room: straight line; through the door at door height: straight line too
    d = geodesic_distance([[40.0, 150.0], [60.0, 49.0]], [80.0, 120.0])
    assert np.allclose(d, [50.0, np.hypot(20, 71)])
    assert np.isclose(geodesic_distance([[60.0, 49.0]], [164.0, 49.0])[0], 104.0)
    # across the wall from far below the door: around the jambs, hand-computed via (100, 63), (124, 63)
    want = np.hypot(40, 137) + 24 + np.hypot(40, 137)
    got = geodesic_distance([[60.0, 200.0]], [164.0, 200.0])[0]
    assert abs(got - want) < 1.0 and got > 104.0


def test_goal_cost_landscape_perfect_and_scrambled_encoders():
    from lewm.diagnostics import goal_cost_landscape, landscape_score
    from lewm.envs import make
    env = make("two_room", image_size=64)
    goal = np.array([60.0, 120.0])
    good = goal_cost_landscape(_DotCentroid(), env, goal, n=20)
    assert good.cost.shape == (20, 20) and np.isnan(good.cost).sum() > 0  # the wall is masked
    # left-room cells: cost = Euclidean² = path² -> rank correlation ~1 there; overall still high
    left = np.isfinite(good.cost) & (good.xs[None, :] < 100)
    assert spearmanr(good.cost[left], good.true_dist[left]).statistic > 0.99
    assert good.spearman > 0.8 and good.greedy_accuracy > 0.85
    bad = landscape_score(_DotCentroid(scramble=True), env, [goal, np.array([170.0, 60.0])], n=20)
    assert abs(bad["spearman"]) < 0.2 and bad["greedy_accuracy"] < 0.7


def test_linear_readout_and_region_angle_on_a_fanned_map():
    """Two rooms mapped by rotations of ±θ: each room alone is exactly affine (r = 1) and the
    readout directions differ by exactly 2θ (R(θ)ᵀ-rows: the readout of s_c from z = R s is row c
    of Rᵀ, i.e. column c of R rotated by θ); the single global readout is then worse."""
    rng = np.random.default_rng(0)
    th = np.radians(20.0)
    R = lambda a: np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    left = np.c_[rng.uniform(-100, -10, 400), rng.uniform(-90, 90, 400)]  # (N, 2)
    right = np.c_[rng.uniform(10, 100, 400), rng.uniform(-90, 90, 400)]
    zl, zr = left @ R(th).T, right @ R(-th).T + np.array([3.0, -1.0])  # (N, 2)
    ro_l, ro_r = dg.linear_readout(zl, left), dg.linear_readout(zr, right)
    assert np.allclose(ro_l.r, 1.0) and np.allclose(ro_r.r, 1.0)
    assert np.allclose(ro_l.weights, R(th).T, atol=1e-9)  # W = R⁻¹ = Rᵀ
    for c in range(2):
        assert dg.readout_angle(ro_l.weights[c], ro_r.weights[c]) == pytest.approx(40.0, abs=1e-6)
    both = dg.linear_readout(np.r_[zl, zr], np.r_[left, right])
    assert both.r[1] < 0.99  # one readout cannot serve both rooms (0.984 here)
    straight = dg.linear_readout(np.r_[left, right] * 2.0 + 5.0, np.r_[left, right])
    assert np.allclose(straight.r, 1.0)
    assert dg.readout_angle(np.array([1.0, 0.0]), np.array([-1.0, 0.0])) == pytest.approx(180.0)


def test_state_grid_warp_straight_for_a_centroid_encoder_and_masks_the_wall():
    from lewm.envs import make
    env = make("two_room", image_size=64)
    g = dg.state_grid_warp(_DotCentroid(), env, n=15)
    assert g.latents.shape == (15, 15, 2) and g.coords.shape == (15, 15, 2)
    inside_wall = (g.xs[None, :] > 100) & (g.xs[None, :] < 124) & ((g.ys[:, None] < 35) | (g.ys[:, None] > 63))
    inside_wall = np.broadcast_to(inside_wall, (15, 15))
    assert inside_wall.any() and not g.valid[inside_wall].any() and g.valid[~inside_wall].all()
    assert np.isnan(g.coords[~g.valid]).all()
    assert g.region_names == ("left room", "right room")
    # the centroid is the position itself (up to pixel quantisation): straight everywhere
    assert (g.readout.r > 0.999).all() and all((ro.r > 0.999).all() for ro in g.region_readouts)
    assert (g.region_angle < 2.0).all()
    # a fanned encoder: rotate the right room's centroid by 30° about the door
    class Fan(_DotCentroid):
        def encode(self, x):
            z = super().encode(x)[0]  # (B, 2)
            c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
            d = z - torch.tensor([112.0, 49.0])
            rot = torch.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], -1) + torch.tensor([112.0, 49.0])
            return torch.where(z[:, :1] > 112, rot, z)[None]
    f = dg.state_grid_warp(Fan(), env, n=15)
    assert f.region_angle == pytest.approx([30.0, 30.0], abs=2.0)
    assert f.readout.r[1] < g.readout.r[1] - 0.005  # 0.992 vs 1.000


def test_probe_spread_matches_single_probes_and_brackets_them():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (600, 2))  # (N, Q)
    z = np.c_[s @ np.array([[1.0, 0.3], [-0.2, 0.8]]), np.tanh(3 * s[:, 0])] + 0.3 * rng.normal(size=(600, 3))
    groups = np.repeat(np.arange(60), 10)
    sp = dg.probe_spread(z, s, ["a", "b"], "linear", splits=4, groups=groups)
    assert sp.pearson.shape == (4, 2) and sp.names == ("a", "b")
    for k in range(4):  # each row is exactly probe() with that split seed
        ref = dg.probe(z, s, ["a", "b"], "linear", seed=k, groups=groups)
        assert np.allclose(sp.pearson[k], ref.pearson) and np.allclose(sp.r2[k], ref.r2)
    summ = sp.summary()
    for q, n in enumerate(("a", "b")):
        assert summ[n]["min"] <= summ[n]["mean"] <= summ[n]["max"]
        assert summ[n]["mean"] == pytest.approx(sp.pearson[:, q].mean())
    assert np.ptp(sp.pearson[:, 0]) > 0  # other test episodes, other figures
    with pytest.raises(ValueError, match="splits"):
        dg.probe_spread(z, s, splits=0)
