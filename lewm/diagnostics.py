"""Diagnostics: make the latent space visible.

Pure functions (arrays or tensors in, small dataclasses of numpy arrays out; no plotting) shared
by the app and by ``python -m lewm report``:

1. :func:`sigreg_view`       random 1-D projections of the latents vs N(0, 1) (what SIGReg sees);
2. :func:`collapse_meters`   covariance spectrum, effective rank, top-k variance, mean cosine;
3. :func:`fit_latent_map`    2-D PCA / UMAP map with ``.transform`` for new (e.g. predicted) points;
   :func:`encode_dataset`    latents + true state (+ pixels) of an HDF5 file, for maps and probes;
4. :func:`probe`             held-out R² and Pearson r of linear / MLP probes, split by episode;
   :func:`probe_spread`      the same over several held-out splits (how much is the split);
5. :func:`open_loop_dynamics` encoded vs imagined latents along an episode;
   :func:`temporal_straightness`;
6. :func:`surprise_trace`, :func:`teleport`, :func:`colour_change`, :func:`surprise_test`
   (violation of expectation with a paired one-sided test over episodes);
7. :func:`train_decoder` / :func:`decode` (a pixel decoder trained on detached latents only) and
   :class:`NearestFrames` (nearest dataset frame by latent L2);
8. :func:`goal_cost_landscape` / :func:`landscape_score` the planner's goal cost ‖z(s) − z_goal‖²
   over a grid of true states, against the true distance to go (is the latent a usable map?);
9. :func:`state_grid_warp`   a grid of true states drawn in latent space, with affine readouts per
   region (:func:`linear_readout`, :func:`readout_angle`): is the map straight, fanned or folded?

Shape letters: N points, D latent dim, K projections / action-block dim (stated per function),
T time, L raw episode length, S image side, Q state dim, P imagined steps, H predictor history.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .metrics import covariance_spectrum, effective_rank
from .sigreg import sigreg_stats

ArrayLike = Any  # np.ndarray | torch.Tensor


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _np(x: ArrayLike, dtype=np.float32) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _torch(x: ArrayLike, dtype=torch.float32, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode (BatchNorm running stats, no dropout) and no grad; restores the mode after."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was)


def _as_2d(z: ArrayLike) -> np.ndarray:
    """(..., D) -> (n, D) float32."""
    a = _np(z)
    if a.ndim < 2:
        raise ValueError(f"latents must have shape (N, D) or (T, B, D), got {a.shape}")
    return a.reshape(-1, a.shape[-1])


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    return np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


# ---------------------------------------------------------------------------------------------
# 1. SIGReg view
# ---------------------------------------------------------------------------------------------
@dataclass
class SIGRegView:
    """Histogram-ready view of the random projections SIGReg tests against N(0, 1)."""

    value: float
    """SIGReg value (mean Epps–Pulley statistic over the K projections and the T steps)."""
    statistic: np.ndarray
    """(K,) Epps–Pulley statistic of each projection (mean over time steps)."""
    projections: np.ndarray
    """(T*B, K) the projected 1-D samples (time steps stacked)."""
    directions: np.ndarray
    """(D, K) unit directions."""
    bin_edges: np.ndarray
    """(nbins+1,) common histogram bin edges."""
    histograms: np.ndarray
    """(K, nbins) density-normalised histogram of each projection (area 1 inside the range)."""
    grid: np.ndarray
    """(G,) x values for the reference curve."""
    reference_pdf: np.ndarray
    """(G,) N(0, 1) density on ``grid``."""
    dim_mean: np.ndarray
    """(D,) per-dimension mean of the latents."""
    dim_std: np.ndarray
    """(D,) per-dimension standard deviation of the latents."""


def sigreg_view(z: ArrayLike, num_dirs: int = 8, *, seed: int = 0,
                generator: torch.Generator | None = None, knots: int = 17, t_max: float = 3.0,
                bins: int = 40, x_range: float = 4.0, grid_points: int = 201) -> SIGRegView:
    """Project latents z (B, D) or (T, B, D) on ``num_dirs`` random unit directions.

    The statistics come from :func:`lewm.sigreg.sigreg_stats` (same directions, same quadrature
    as the training loss). ``generator`` (CPU) wins over ``seed``.
    """
    zt = _torch(z)  # (B, D) or (T, B, D)
    if zt.dim() not in (2, 3):
        raise ValueError(f"sigreg_view expects (B, D) or (T, B, D) latents, got {tuple(zt.shape)}")
    gen = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    st = sigreg_stats(zt, num_proj=num_dirs, knots=knots, t_max=t_max, generator=gen)
    proj = st.projections.reshape(-1, num_dirs).numpy()  # (T*B, K)
    edges = np.linspace(-x_range, x_range, bins + 1)  # (nbins+1,)
    hist = np.stack([np.histogram(proj[:, k], bins=edges, density=False)[0] for k in range(num_dirs)])  # (K, nbins)
    width = edges[1] - edges[0]
    hist = hist / np.maximum(hist.sum(1, keepdims=True), 1) / width  # (K, nbins) density
    grid = np.linspace(-x_range, x_range, grid_points)  # (G,)
    flat = _as_2d(z)  # (T*B, D)
    return SIGRegView(value=float(st.value), statistic=st.statistic.mean(0).numpy(), projections=proj,
                      directions=st.directions.numpy(), bin_edges=edges, histograms=hist, grid=grid,
                      reference_pdf=normal_pdf(grid), dim_mean=flat.mean(0), dim_std=flat.std(0))


# ---------------------------------------------------------------------------------------------
# 2. Collapse meters
# ---------------------------------------------------------------------------------------------
@dataclass
class CollapseMeters:
    """How many directions the embedding really uses, and how spread it is.

    The effective rank is scale-free: latents that collapsed towards one point but keep a tiny,
    spread-out jitter can still score a high rank. Read it together with ``mean_std`` (absolute
    spread) and ``mean_cosine`` (→ 1 when every latent points the same way).
    """

    spectrum: np.ndarray
    """(D,) eigenvalues of the latent covariance (= its singular values), descending."""
    effective_rank: float
    """exp(entropy of the normalised spectrum): ≈ D for isotropic latents, 1 for rank-1."""
    top1_fraction: float
    """Fraction of the total variance in the first principal component."""
    topk_fraction: float
    """Fraction of the total variance in the first ``k`` principal components."""
    k: int
    """The k of ``topk_fraction``."""
    components_90: int
    """Smallest number of principal components holding 90% of the variance."""
    mean_cosine: float
    """Mean cosine similarity over all pairs of distinct (uncentred) latents; → 1 under collapse."""
    total_variance: float
    """Trace of the covariance."""
    mean_std: float
    """Mean per-dimension standard deviation."""


def collapse_meters(z: ArrayLike, k: int = 5) -> CollapseMeters:
    """Collapse diagnostics of latents z (N, D) (or (..., D), flattened)."""
    x = _as_2d(z).astype(np.float64)  # (n, D)
    n, D = x.shape
    if n < 2:
        raise ValueError(f"collapse_meters needs at least 2 latents, got {n}")
    ev = covariance_spectrum(torch.from_numpy(x)).numpy()  # (D,) descending
    total = float(ev.sum())
    frac = ev / total if total > 0 else np.r_[1.0, np.zeros(D - 1)]  # (D,)
    cum = np.cumsum(frac)  # (D,)
    k = int(min(max(k, 1), D))
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # (n, D) unit rows
    s = u.sum(0)  # (D,)
    # sum_{i != j} <u_i, u_j> = |sum_i u_i|² - sum_i |u_i|²
    self_dots = float((u**2).sum())
    mean_cos = (float(s @ s) - self_dots) / (n * (n - 1))
    return CollapseMeters(spectrum=ev, effective_rank=effective_rank(torch.from_numpy(x)),
                          top1_fraction=float(frac[0]), topk_fraction=float(cum[k - 1]), k=k,
                          components_90=int(np.searchsorted(cum, 0.9 - 1e-12) + 1), mean_cosine=mean_cos,
                          total_variance=total, mean_std=float(x.std(0).mean()))


# ---------------------------------------------------------------------------------------------
# 3. Latent maps and dataset encoding
# ---------------------------------------------------------------------------------------------
class LatentMap:
    """A fitted 2-D map of latents; ``transform`` places new latents (e.g. imagined ones) on it."""

    def __init__(self, method: str, reducer, coords: np.ndarray):
        self.method = method
        self.reducer = reducer
        self.coords = coords
        """(N, 2) map coordinates of the fitted latents."""

    def transform(self, z: ArrayLike) -> np.ndarray:
        """z (M, D) -> (M, 2) coordinates in this map."""
        x = _as_2d(z)  # (M, D)
        return np.asarray(self.reducer.transform(x), dtype=np.float32)  # (M, 2)

    def __repr__(self) -> str:
        return f"LatentMap(method={self.method!r}, points={len(self.coords)})"


def fit_latent_map(z: ArrayLike, method: str = "pca", seed: int = 0, *, n_neighbors: int = 15,
                   min_dist: float = 0.1) -> LatentMap:
    """Fit a 2-D map of latents z (N, D) by PCA or UMAP (umap-learn, imported only when asked)."""
    x = _as_2d(z)  # (N, D)
    method = method.lower()
    if method == "pca":
        from sklearn.decomposition import PCA
        red = PCA(n_components=2, random_state=seed)
        coords = red.fit_transform(x)  # (N, 2)
    elif method == "umap":
        import umap  # slow import (numba): only here
        import warnings
        red = umap.UMAP(n_components=2, n_neighbors=int(min(n_neighbors, len(x) - 1)), min_dist=min_dist,
                        random_state=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # a seed forces one thread
            coords = red.fit_transform(x)  # (N, 2)
    else:
        raise ValueError(f"unknown latent map method {method!r}; choose 'pca' or 'umap'")
    return LatentMap(method, red, np.asarray(coords, dtype=np.float32))


@dataclass
class EncodedDataset:
    """Latents of dataset frames with what is needed to colour, probe and show them."""

    latents: np.ndarray
    """(N, D) float32."""
    state: np.ndarray | None
    """(N, Q) true state (None when the file has no ``state`` key)."""
    state_names: tuple[str, ...]
    """Names of the Q state components."""
    frame_index: np.ndarray
    """(N,) global row of each frame in the file."""
    episode: np.ndarray
    """(N,) episode id of each frame (use as probe ``groups``)."""
    step: np.ndarray
    """(N,) time index of each frame inside its episode."""
    pixels: np.ndarray | None = None
    """(N, S, S, 3) uint8 frames (hover thumbnails, decoder training), when asked for."""
    embeddings: np.ndarray | None = None
    """(N, E) the encoder's CLS embedding before the projector, when asked for
    (``with_embeddings=True``): the wide representation the paper's 192-d latent corresponds to."""


def _encode_batches(model: nn.Module, pixels: ArrayLike, batch: int, fn) -> list[list[torch.Tensor]]:
    """Run ``fn(model, x)`` on uint8 frames (N, S, S, 3) in eval mode, ``batch`` frames at a time,
    with ``x`` (b, 3, S, S) on the model's device; ``fn`` returns a tuple of (b, ·) tensors. Returns
    one list of CPU float32 chunks per output."""
    dev = _device_of(model)
    px = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(pixels))
    chunks: list[list[torch.Tensor]] = []
    with _eval_mode(model):
        for lo in range(0, len(px), batch):
            outs = fn(model, px[lo:lo + batch].to(dev).permute(0, 3, 1, 2))  # each (b, ·)
            chunks = chunks or [[] for _ in outs]
            for c, o in zip(chunks, outs):
                c.append(o.float().cpu())
    return chunks


def encode_frames(model: nn.Module, pixels: ArrayLike, batch: int = 256, features: str = "latent") -> torch.Tensor:
    """uint8 frames (N, S, S, 3) -> latents (N, D) (CPU float32), in eval mode, batched.

    ``features='embedding'`` returns the encoder's CLS embedding before the projector (N, E)
    instead of the planning latent z."""
    if features not in ("latent", "embedding"):
        raise ValueError(f"features must be 'latent' or 'embedding', got {features!r}")
    if features == "embedding":
        return encode_frames_both(model, pixels, batch)[1]
    chunks = _encode_batches(model, pixels, batch, lambda m, x: (m.encode(x[None])[0],))  # (b, D)
    return torch.cat(chunks[0]) if chunks else torch.zeros(0, model.cfg.latent_dim)  # (N, D)


def encode_frames_both(model: nn.Module, pixels: ArrayLike, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 frames (N, S, S, 3) -> (z (N, D), CLS embedding before the projector (N, E)), one
    encoder pass, CPU float32, eval mode."""
    def both(m, x):
        h = m.encoder(m.normalize_pixels(x))  # (b, E)
        return m.projector(h), h  # (b, D), (b, E)
    chunks = _encode_batches(model, pixels, batch, both)
    if not chunks:
        return torch.zeros(0, model.cfg.latent_dim), torch.zeros(0, model.cfg.enc_dim)
    return torch.cat(chunks[0]), torch.cat(chunks[1])  # (N, D), (N, E)


def encode_dataset(model: nn.Module, h5_path: str, max_frames: int = 5000, batch: int = 256, *,
                   episodes: Sequence[int] | None = None, stride: int = 1, keep_pixels: bool = False,
                   seed: int = 0, progress: bool = False, with_embeddings: bool = False) -> EncodedDataset:
    """Encode whole episodes of an HDF5 file until ``max_frames`` frames (every ``stride``-th).

    Episodes are taken in a seeded random order (or the given ``episodes`` in order) so a capped
    encoding still covers the data set; whole episodes keep a split by episode meaningful.
    """
    from .data import open_h5, validate_file
    info = validate_file(h5_path)
    ep_len, ep_off = info["ep_len"], info["ep_offset"]
    order = np.random.default_rng(seed).permutation(len(ep_len)) if episodes is None else np.asarray(episodes)
    rows, eps, steps, n = [], [], [], 0
    for e in order:
        r = ep_off[e] + np.arange(0, ep_len[e], stride)  # (l,)
        r = r[:max(max_frames - n, 0)]
        if len(r) == 0:
            break
        rows.append(r)
        eps.append(np.full(len(r), e))
        steps.append(np.arange(0, ep_len[e], stride)[:len(r)])
        n += len(r)
    rows_a, eps_a, steps_a = np.concatenate(rows), np.concatenate(eps), np.concatenate(steps)
    srt = np.argsort(rows_a, kind="stable")  # h5py fancy indexing wants increasing rows
    rows_a, eps_a, steps_a = rows_a[srt], eps_a[srt], steps_a[srt]
    it = range(0, len(rows_a), batch)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="encode", unit="batch")
    lat, emb, pix, state = [], [], [], None
    with open_h5(h5_path) as f:
        for lo in it:
            px = f["pixels"][rows_a[lo:lo + batch]]  # (b, S, S, 3)
            if with_embeddings:
                z, h = encode_frames_both(model, px, batch)  # (b, D), (b, E)
                emb.append(h.numpy())
            else:
                z = encode_frames(model, px, batch)  # (b, D)
            lat.append(z.numpy())
            if keep_pixels:
                pix.append(px)
        if "state" in f:
            state = f["state"][rows_a].astype(np.float32)  # (N, Q)
    names = info["state_names"] or tuple(f"s{i}" for i in range(state.shape[1] if state is not None else 0))
    return EncodedDataset(latents=np.concatenate(lat), state=state, state_names=tuple(names),
                          frame_index=rows_a, episode=eps_a, step=steps_a,
                          pixels=np.concatenate(pix) if keep_pixels else None,
                          embeddings=np.concatenate(emb) if with_embeddings else None)


# ---------------------------------------------------------------------------------------------
# 4. Probes
# ---------------------------------------------------------------------------------------------
@dataclass
class ProbeResult:
    """Held-out quality of a probe predicting each state quantity from the latent."""

    kind: str
    """'linear' (ridge) or 'mlp'."""
    names: tuple[str, ...]
    """The Q quantities."""
    r2: np.ndarray
    """(Q,) held-out coefficient of determination."""
    pearson: np.ndarray
    """(Q,) held-out Pearson correlation between prediction and truth."""
    n_train: int
    n_test: int
    predictions: np.ndarray = field(repr=False, default=None)
    """(n_test, Q) held-out predictions (for scatter plots)."""
    targets: np.ndarray = field(repr=False, default=None)
    """(n_test, Q) held-out true values."""
    estimator: Any = field(repr=False, default=None)
    """The fitted scikit-learn regressor (``.predict(z (M, D)) -> (M, Q)``), e.g. to read
    imagined latents in state units."""

    def predict(self, z: ArrayLike) -> np.ndarray:
        """Probe read-out of latents (M, D) -> (M, Q)."""
        x = _as_2d(z).astype(np.float64)
        return np.asarray(self.estimator.predict(x)).reshape(len(x), -1)

    def table(self) -> list[dict[str, float | str]]:
        """One row per quantity: {'quantity', 'r2', 'pearson_r'}."""
        return [{"quantity": n, "r2": float(a), "pearson_r": float(b)} for n, a, b in zip(self.names, self.r2, self.pearson)]


def pearson_r(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Column-wise Pearson r of (n, Q) arrays; 0 where either column is constant."""
    a = pred - pred.mean(0)
    b = true - true.mean(0)
    den = np.sqrt((a**2).sum(0) * (b**2).sum(0))  # (Q,)
    return np.where(den > 1e-12, (a * b).sum(0) / np.maximum(den, 1e-300), 0.0)


def r2_score_cols(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Column-wise R² = 1 - SS_res / SS_tot (0 for a constant column predicted exactly)."""
    ss_res = ((true - pred) ** 2).sum(0)
    ss_tot = ((true - true.mean(0)) ** 2).sum(0)
    return np.where(ss_tot > 1e-12, 1 - ss_res / np.maximum(ss_tot, 1e-300), 0.0)


def split_indices(n: int, test_fraction: float = 0.2, seed: int = 0,
                  groups: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train/test row indices; with ``groups`` (e.g. episode ids) whole groups go to one side."""
    rng = np.random.default_rng(seed)
    if groups is not None:
        g = np.asarray(groups)
        uniq = rng.permutation(np.unique(g))
        if len(uniq) >= 2:
            n_test = min(max(int(round(test_fraction * len(uniq))), 1), len(uniq) - 1)
            test = np.isin(g, uniq[:n_test])
            return np.flatnonzero(~test), np.flatnonzero(test)
    perm = rng.permutation(n)
    n_test = min(max(int(round(test_fraction * n)), 1), n - 1)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def probe(z: ArrayLike, state: ArrayLike, state_names: Sequence[str] | None = None, kind: str = "linear",
          seed: int = 0, test_fraction: float = 0.2, groups: ArrayLike | None = None,
          mlp_hidden: tuple[int, ...] = (128, 128), max_iter: int = 200) -> ProbeResult:
    """Fit a probe latent (N, D) -> state (N, Q) on a train split; score it on the held-out split.

    ``linear``: standardised inputs, ridge with the penalty chosen by leave-one-out CV;
    ``mlp``: scikit-learn MLPRegressor (ReLU, Adam, early stopping) on standardised inputs and
    targets. ``groups`` (e.g. episode ids) makes the split by group, so no episode is on both sides.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _as_2d(z).astype(np.float64)  # (N, D)
    y = _np(state, np.float64)
    y = y[:, None] if y.ndim == 1 else y  # (N, Q)
    if len(x) != len(y):
        raise ValueError(f"probe: {len(x)} latents but {len(y)} states")
    names = tuple(state_names) if state_names is not None else tuple(f"s{i}" for i in range(y.shape[1]))
    tr, te = split_indices(len(x), test_fraction, seed, groups)
    if kind == "linear":
        reg = RidgeCV(alphas=np.logspace(-6, 3, 10))
    elif kind == "mlp":
        reg = MLPRegressor(hidden_layer_sizes=tuple(mlp_hidden), max_iter=max_iter, early_stopping=True,
                           n_iter_no_change=10, learning_rate_init=1e-3, random_state=seed)
    else:
        raise ValueError(f"unknown probe kind {kind!r}; choose 'linear' or 'mlp'")
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), reg), transformer=StandardScaler())
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of short MLP fits
        model.fit(x[tr], y[tr])
    pred = np.asarray(model.predict(x[te])).reshape(len(te), -1)  # (n_test, Q)
    return ProbeResult(kind=kind, names=names, r2=r2_score_cols(pred, y[te]), pearson=pearson_r(pred, y[te]),
                       n_train=len(tr), n_test=len(te), predictions=pred.astype(np.float32),
                       targets=y[te].astype(np.float32), estimator=model)


@dataclass
class ProbeSpread:
    """One probe kind refitted on ``splits`` different held-out splits (split seeds 0..K-1): how much
    of a probe figure is the choice of test episodes."""

    names: tuple[str, ...]
    pearson: np.ndarray
    """(K, Q) held-out Pearson r per split and quantity."""
    r2: np.ndarray
    """(K, Q) held-out R² per split and quantity."""

    def summary(self) -> dict[str, dict[str, float]]:
        """{quantity: {"mean", "min", "max"}} of Pearson r over the splits."""
        return {n: {"mean": float(self.pearson[:, q].mean()), "min": float(self.pearson[:, q].min()),
                    "max": float(self.pearson[:, q].max())} for q, n in enumerate(self.names)}


def probe_spread(z: ArrayLike, state: ArrayLike, state_names: Sequence[str] | None = None, kind: str = "linear",
                 splits: int = 5, groups: ArrayLike | None = None, **kw) -> ProbeSpread:
    """:func:`probe` on split seeds 0..``splits``-1 (same data, other held-out episodes)."""
    if splits < 1:
        raise ValueError(f"probe_spread needs splits >= 1, got {splits}")
    res = [probe(z, state, state_names, kind, seed=k, groups=groups, **kw) for k in range(splits)]
    return ProbeSpread(names=res[0].names, pearson=np.stack([r.pearson for r in res]),
                       r2=np.stack([r.r2 for r in res]))


# ---------------------------------------------------------------------------------------------
# 5. Dynamics
# ---------------------------------------------------------------------------------------------
def action_blocks(actions: ArrayLike, frames: np.ndarray, frameskip: int, stats) -> torch.Tensor:
    """The z-scored, frameskip-blocked action blocks leaving each frame in ``frames`` (n,).

    actions (L, A) raw (row i is applied after frame i) -> (n, frameskip * A) float32, exactly as
    :class:`lewm.data.WindowDataset` builds them (NaN rows zeroed before normalising).
    """
    a = np.nan_to_num(_np(actions))  # (L, A)
    rows = np.asarray(frames)[:, None] + np.arange(frameskip)  # (n, fs)
    if len(rows) and rows.max() >= len(a):
        raise ValueError(f"action block needs row {int(rows.max())} but the episode has {len(a)} actions")
    blk = stats.normalize(a[rows]).astype(np.float32)  # (n, fs, A)
    return torch.from_numpy(blk.reshape(len(rows), -1))  # (n, K)


@dataclass
class OpenLoopResult:
    """Encoded ("actual") vs imagined latents of the frames after the context."""

    context_frames: np.ndarray
    """(H,) raw frame indices encoded as context."""
    frames: np.ndarray
    """(P,) raw frame indices of the imagined frames."""
    actual: np.ndarray
    """(P, D) encoder latents of those frames."""
    predicted: np.ndarray
    """(P, D) open-loop predictor latents (no re-encoding along the way)."""
    error: np.ndarray
    """(P,) mean squared error per dimension at each horizon step."""
    copy_error: np.ndarray
    """(P,) the same error for the 'nothing moves' baseline (last context latent held)."""
    cosine: np.ndarray
    """(P,) cosine similarity between predicted and actual latent."""


def open_loop_dynamics(model, pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0,
                       horizon: int | None = None) -> OpenLoopResult:
    """Encode ``history`` context frames from ``start`` (every ``frameskip`` steps), imagine the
    next ``horizon`` frames with :meth:`LeWM.rollout` and compare with their encodings.

    pixels (L, S, S, 3) uint8, actions (L, A) raw; ``horizon`` None = as far as the episode goes.
    """
    from .train import action_stats_of
    H, fs = cfg.model.history, cfg.model.frameskip
    L = len(pixels)
    avail = (L - 1 - start) // fs - (H - 1)
    horizon = avail if horizon is None else int(horizon)
    if horizon < 1 or horizon > avail:
        raise ValueError(f"open-loop horizon {horizon} impossible: the episode has {L} frames, start {start}, "
                         f"history {H}, frameskip {fs} (at most {max(avail, 0)} steps)")
    frames = start + fs * np.arange(H + horizon)  # (H+P,)
    z = encode_frames(model, _np(pixels, np.uint8)[frames])  # (H+P, D)
    blocks = action_blocks(actions, frames[:-1], fs, action_stats_of(cfg))  # (H+P-1, K)
    dev = _device_of(model)
    with _eval_mode(model):
        z_hist = z[None, :H].to(dev)  # (1, H, D)
        a_hist = blocks[None, :H - 1].to(dev) if H > 1 else None  # (1, H-1, K)
        pred = model.rollout(z_hist, blocks[None, H - 1:].to(dev), a_hist)[0].float().cpu()  # (P, D)
    actual = z[H:]  # (P, D)
    err = ((pred - actual) ** 2).mean(-1)  # (P,)
    copy = ((z[H - 1:H] - actual) ** 2).mean(-1)  # (P,)
    cos = F.cosine_similarity(pred, actual, dim=-1)  # (P,)
    return OpenLoopResult(context_frames=frames[:H], frames=frames[H:], actual=actual.numpy(),
                          predicted=pred.numpy(), error=err.numpy(), copy_error=copy.numpy(), cosine=cos.numpy())


def temporal_straightness(z: ArrayLike, eps: float = 1e-8) -> float:
    """Mean cosine between consecutive latent velocities v_t = z_{t+1} - z_t of z (T, D).

    1 = the trajectory is a straight line at every step; ≈ 0 for a random walk. Steps where the
    latent does not move (|v| < eps) are skipped. NaN when fewer than 3 frames.
    """
    x = _np(z, np.float64)  # (T, D)
    v = np.diff(x, axis=0)  # (T-1, D)
    if len(v) < 2:
        return float("nan")
    n = np.linalg.norm(v, axis=1)  # (T-1,)
    ok = (n[:-1] > eps) & (n[1:] > eps)
    if not ok.any():
        return float("nan")
    cos = (v[:-1] * v[1:]).sum(1) / np.maximum(n[:-1] * n[1:], eps**2)  # (T-2,)
    return float(cos[ok].mean())


# ---------------------------------------------------------------------------------------------
# 6. Surprise (violation of expectation)
# ---------------------------------------------------------------------------------------------
@dataclass
class SurpriseTrace:
    """One-step prediction error along an episode, at frameskip stride."""

    frames: np.ndarray
    """(n,) raw frame indices of the kept frames."""
    error: np.ndarray
    """(n,) mean squared error per dim of the prediction of each kept frame from the frames
    before it (NaN for the first, which has no prediction)."""
    latents: np.ndarray = field(repr=False, default=None)
    """(n, D) encoder latents of the kept frames."""

    def at(self, frame: int) -> float:
        """Surprise at raw frame index ``frame`` (must be a kept frame)."""
        i = np.flatnonzero(self.frames == frame)
        if len(i) == 0:
            raise ValueError(f"frame {frame} is not on the trace's stride (frames {self.frames[:3]}...)")
        return float(self.error[i[0]])


def surprise_trace(model, pixels: ArrayLike, actions: ArrayLike, cfg, start: int = 0) -> SurpriseTrace:
    """Teacher-forced one-step surprise ‖ẑ_{k+1} − z_{k+1}‖² / D for every kept frame k+1.

    Frames are kept every ``frameskip`` raw steps from ``start``; the prediction of frame k+1 sees
    the ``history`` kept frames up to k and their action blocks (fewer at the episode start),
    exactly as in training.
    """
    from .train import action_stats_of
    H, fs = cfg.model.history, cfg.model.frameskip
    L = len(pixels)
    n = (L - 1 - start) // fs + 1
    frames = start + fs * np.arange(n)  # (n,)
    z = encode_frames(model, _np(pixels, np.uint8)[frames])  # (n, D)
    err = np.full(n, np.nan, np.float32)
    if n < 2:
        return SurpriseTrace(frames, err, z.numpy())
    blocks = action_blocks(actions, frames[:-1], fs, action_stats_of(cfg))  # (n-1, K)
    dev = _device_of(model)
    w = min(H, n - 1)
    with _eval_mode(model):
        first = model.predict(z[None, :w].to(dev), blocks[None, :w].to(dev))[0].cpu()  # (w, D): frames 1..w
        preds = [first]
        if n - 1 > w:
            idx = np.arange(1, n - w)[:, None] + np.arange(w)  # (n-1-w, w) windows ending at k
            zw, aw = z[idx].to(dev), blocks[idx].to(dev)  # (n-1-w, w, D), (n-1-w, w, K)
            preds.append(model.predict(zw, aw)[:, -1].cpu())  # (n-1-w, D): frames w+1..n-1
    pred = torch.cat(preds).float()  # (n-1, D)
    err[1:] = ((pred - z[1:]) ** 2).mean(-1).numpy()
    return SurpriseTrace(frames, err, z.numpy())


def default_teleport_dims(state_names: Sequence[str]) -> list[int]:
    """The position components a teleport moves: the object's (block_x/y) if there is one,
    else the agent's (agent_x/y), else the first two components."""
    names = list(state_names)
    for pair in (("block_x", "block_y"), ("agent_x", "agent_y"), ("x", "y")):
        if all(p in names for p in pair):
            return [names.index(p) for p in pair]
    return list(range(min(2, len(names))))


class DotRenderer:
    """``render_state`` for :mod:`lewm.synthetic` files (state = dot xy in [0, 1])."""

    state_names = ("x", "y")

    def __init__(self, image_size: int):
        self.image_size = image_size

    def render_state(self, state) -> np.ndarray:
        from .synthetic import dot_frames
        return dot_frames(np.asarray(state, np.float32).reshape(1, -1)[:, :2], self.image_size)[0]


def renderer_for(env_name: str, image_size: int):
    """An object with ``render_state``/``state_names`` for a data file's env, or None.

    Registered environments come from :func:`lewm.envs.make`; ``synthetic_dot`` files get a
    :class:`DotRenderer`.
    """
    if env_name == "synthetic_dot":
        return DotRenderer(image_size)
    if not env_name:
        return None
    try:
        from .envs import make
        return make(env_name, image_size=image_size)
    except (ImportError, ValueError):
        return None


def _renderer(env) -> Callable[[np.ndarray], np.ndarray]:
    if callable(env) and not hasattr(env, "render_state"):
        return env
    return env.render_state


class _goal_drawn:
    """Context: ``env.goal_state`` set to ``goal`` (when both exist), restored on exit, so frames
    re-rendered from states show the episode's own target (Reacher draws its goal)."""

    def __init__(self, env, goal):
        self.env, self.goal = env, goal

    def __enter__(self):
        self.old = getattr(self.env, "goal_state", None)
        if self.goal is not None and self.old is not None:
            self.env.goal_state = _np(self.goal).reshape(np.shape(self.old)).copy()
        return self

    def __exit__(self, *exc):
        if self.goal is not None and self.old is not None:
            self.env.goal_state = self.old
        return False


def render_mismatch(pixels: ArrayLike, states: ArrayLike, env, frames: Sequence[int],
                    goal_state: ArrayLike | None = None) -> float:
    """Fraction of pixels (0–1) that differ by more than 8/255 in some channel between recorded
    ``pixels[frames]`` and the same states re-rendered by ``env``: 0 when the renderer reproduces the
    recording (a teleport then changes only what it moves); > 0 when something else differs (e.g. a
    target drawn elsewhere: a small dot is ~0.5% of a 64² frame)."""
    render = _renderer(env)
    px, st = _np(pixels, np.uint8), _np(states, np.float64)
    with _goal_drawn(env, goal_state):
        d = [(np.abs(render(st[i]).astype(np.int16) - px[i].astype(np.int16)).max(-1) > 8).mean() for i in frames]
    return float(np.mean(d)) if d else 0.0


def teleport(pixels: ArrayLike, states: ArrayLike, t: int, env, delta: ArrayLike | None = None,
             dims: Sequence[int] | None = None, bounds: tuple[ArrayLike, ArrayLike] | None = None,
             goal_state: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Teleport at raw frame ``t``: from frame t on, the position components ``dims`` of the state
    are shifted by ``delta`` (clipped to ``bounds``) and the frames are re-rendered.

    pixels (L, S, S, 3), states (L, Q); ``env`` has ``render_state(state) -> (S, S, 3)`` (or is
    such a callable) and, when ``dims`` is None, ``state_names`` (see :func:`default_teleport_dims`).
    ``delta`` None = jump to the mirror image of the position at t inside ``bounds``
    (low + high − s_t). ``bounds`` = (low (Q,), high (Q,)) clips the moved states; when None, an
    explicit ``delta`` is not clipped and the default mirror uses the range of ``states``.
    ``goal_state`` (Q,): the episode's goal, for envs that draw their target (set on ``env`` while
    rendering, then restored). Returns (new pixels (L, S, S, 3) uint8, new states (L, Q)). Frames
    before t are untouched.
    """
    px = _np(pixels, np.uint8).copy()  # (L, S, S, 3)
    st = _np(states, np.float64).copy()  # (L, Q)
    if not 0 < t < len(px):
        raise ValueError(f"teleport time {t} must be inside the episode (1..{len(px) - 1})")
    if dims is None:
        dims = default_teleport_dims(getattr(env, "state_names", [f"s{i}" for i in range(st.shape[1])]))
    dims = list(dims)
    clip = bounds is not None or delta is None
    lo, hi = (st.min(0), st.max(0)) if bounds is None else (_np(bounds[0], np.float64), _np(bounds[1], np.float64))
    if delta is None:
        delta = lo[dims] + hi[dims] - 2 * st[t, dims]  # mirror image of s_t
    delta = _np(delta, np.float64).reshape(len(dims))
    moved = st[t:, dims] + delta  # (L-t, |dims|)
    st[t:, dims] = np.clip(moved, lo[dims], hi[dims]) if clip else moved
    render = _renderer(env)
    with _goal_drawn(env, goal_state):
        for i in range(t, len(px)):
            px[i] = render(st[i])
    return px, st.astype(np.float32)


def colour_change(pixels: ArrayLike, t: int, mode: str = "hue") -> np.ndarray:
    """Change the colours of frames t.. of pixels (L, S, S, 3) uint8.

    ``hue``: rotate the RGB channels (R→G→B→R), so grey/white/black stay and coloured things
    change colour; ``invert``: 255 − pixel (negative image); ``gray``: luminance only.
    """
    px = _np(pixels, np.uint8).copy()  # (L, S, S, 3)
    if mode == "hue":
        px[t:] = px[t:][..., [2, 0, 1]]  # new G = old R, new B = old G, new R = old B
    elif mode == "invert":
        px[t:] = 255 - px[t:]
    elif mode == "gray":
        g = (px[t:].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(np.uint8)
        px[t:] = g[..., None]
    else:
        raise ValueError(f"unknown colour change {mode!r}; choose 'hue', 'invert' or 'gray'")
    return px


@dataclass
class PerturbationTest:
    """Surprise at the perturbation frame, perturbed vs clean, over episodes, with a paired test."""

    name: str
    frame: np.ndarray
    """(E,) raw frame index of the perturbation in each episode."""
    perturbed: np.ndarray
    """(E,) surprise at that frame in the perturbed episode."""
    clean: np.ndarray
    """(E,) surprise at the same frame in the clean episode."""
    baseline: np.ndarray
    """(E,) median surprise of the clean episode (its typical level)."""
    spike: np.ndarray
    """(E,) perturbed − clean."""
    ratio: np.ndarray
    """(E,) perturbed / clean."""
    p_wilcoxon: float
    """One-sided Wilcoxon signed-rank p-value (H1: perturbed > clean). NaN if it cannot run."""
    p_ttest: float
    """One-sided paired t-test p-value (H1: perturbed > clean)."""
    traces: list = field(repr=False, default_factory=list)
    """Per episode (clean SurpriseTrace, perturbed SurpriseTrace)."""
    render_mismatch: float = 0.0
    """Teleports: the largest fraction of pixels that differ between a recorded frame and its
    re-rendering (see :func:`render_mismatch`); 0 means the teleport changes only what it moves."""

    def summary(self) -> dict[str, float | int | str]:
        return {"name": self.name, "episodes": int(len(self.spike)), "mean_spike": float(np.mean(self.spike)),
                "median_ratio": float(np.median(self.ratio)), "mean_perturbed": float(np.mean(self.perturbed)),
                "mean_clean": float(np.mean(self.clean)), "mean_baseline": float(np.mean(self.baseline)),
                "fraction_higher": float(np.mean(self.spike > 0)),
                "p_wilcoxon": self.p_wilcoxon, "p_ttest": self.p_ttest,
                "render_mismatch": self.render_mismatch}


def paired_one_sided(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Wilcoxon signed-rank p, paired t-test p) for H1: a > b. NaN where a test cannot run."""
    from scipy import stats
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    p_w = p_t = float("nan")
    if len(a) >= 2 and np.any(a != b):
        try:
            p_w = float(stats.wilcoxon(a, b, alternative="greater").pvalue)
        except ValueError:
            pass
        d = a - b
        if d.std() > 0:
            p_t = float(stats.ttest_rel(a, b, alternative="greater").pvalue)
        else:
            p_t = 0.0 if d.mean() > 0 else 1.0
    return p_w, p_t


def surprise_test(model, cfg, episodes: Sequence[dict], env=None, *, t: int | Sequence[int] | None = None,
                  perturbations: Sequence[str] = ("teleport", "colour"), colour_mode: str = "hue",
                  bounds: tuple[ArrayLike, ArrayLike] | None = None, dims: Sequence[int] | None = None,
                  progress: bool = False) -> dict[str, PerturbationTest]:
    """Violation-of-expectation test over several episodes.

    ``episodes``: dicts with ``pixels`` (L, S, S, 3), ``action`` (L, A) and, for teleports,
    ``state`` (L, Q) and, where the env draws its target, ``goal_state`` (Q,) (as
    :func:`lewm.data.load_episode` returns). A teleport re-renders frames; if the renderer does not
    reproduce the recorded frames (> 0.1% of the pixels of the unmoved frame before t differ) a
    warning says so, and ``render_mismatch`` records it. Each perturbation starts at a
    kept frame ``t`` (default: the kept frame nearest the middle, at least ``history`` kept frames
    in); the surprise at t in the perturbed episode is paired with the surprise at t in the clean
    one. Teleports need ``env`` (``render_state``) and states; ``bounds`` default to the range of
    all the given states. Returns {name: PerturbationTest}.
    """
    H, fs = cfg.model.history, cfg.model.frameskip
    names = [p for p in perturbations if p != "teleport" or env is not None]
    if "teleport" in names and bounds is None:
        all_st = np.concatenate([_np(e["state"]) for e in episodes])  # (ΣL, Q)
        bounds = (all_st.min(0), all_st.max(0))
    rows: dict[str, dict[str, list]] = {p: {"frame": [], "pert": [], "clean": [], "base": [], "traces": [],
                                            "mismatch": []} for p in names}
    it = enumerate(episodes)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(episodes), desc="surprise", unit="episode")
    for i, ep in it:
        px, act = _np(ep["pixels"], np.uint8), _np(ep["action"])
        n = (len(px) - 1) // fs + 1
        if t is None:
            k = max(n // 2, min(H, n - 1))
            ti = int(k * fs)
        else:
            ti = int(t if np.isscalar(t) else t[i])
        if ti % fs or not 0 < ti < len(px):
            raise ValueError(f"perturbation frame {ti} must be a multiple of frameskip {fs} inside the episode")
        clean = surprise_trace(model, px, act, cfg)
        for p in names:
            if p == "teleport":
                goal = ep.get("goal_state")
                mis = render_mismatch(px, ep["state"], env, [ti - 1], goal_state=goal)
                rows[p]["mismatch"].append(mis)
                if mis > 1e-3:
                    warnings.warn(f"teleport: re-rendering the recorded state at frame {ti - 1} of episode {i} "
                                  f"changes {mis:.2%} of the pixels of the recorded frame: the surprise also "
                                  f"measures that difference (is the episode's goal_state given?)")
                px2, _ = teleport(px, ep["state"], ti, env, dims=dims, bounds=bounds, goal_state=goal)
            elif p == "colour":
                px2 = colour_change(px, ti, colour_mode)
            else:
                raise ValueError(f"unknown perturbation {p!r}; choose 'teleport' or 'colour'")
            pert = surprise_trace(model, px2, act, cfg)
            r = rows[p]
            r["frame"].append(ti)
            r["pert"].append(pert.at(ti))
            r["clean"].append(clean.at(ti))
            r["base"].append(float(np.nanmedian(clean.error)))
            r["traces"].append((clean, pert))
    out = {}
    for p, r in rows.items():
        pert, cl = np.asarray(r["pert"]), np.asarray(r["clean"])
        p_w, p_t = paired_one_sided(pert, cl)
        out[p] = PerturbationTest(name=p, frame=np.asarray(r["frame"]), perturbed=pert, clean=cl,
                                  baseline=np.asarray(r["base"]), spike=pert - cl,
                                  ratio=pert / np.maximum(cl, 1e-12), p_wilcoxon=p_w, p_ttest=p_t,
                                  traces=r["traces"],
                                  render_mismatch=float(np.max(r["mismatch"])) if r["mismatch"] else 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# 7. Seeing imagination: a pixel decoder on detached latents, nearest-frame retrieval
# ---------------------------------------------------------------------------------------------
def _upsampling_plan(image_size: int, min_base: int = 4) -> tuple[int, int]:
    """(number of 2x upsamplings, base side) with base * 2**n == image_size and base >= min_base
    when possible (224 -> 5 ups from 7; 64 -> 4 from 4); otherwise the nearest plan + a resize."""
    n = 0
    while image_size % (2 ** (n + 1)) == 0 and image_size // (2 ** (n + 1)) >= min_base:
        n += 1
    return n, image_size // (2**n)


class LatentDecoder(nn.Module):
    """Small conv decoder latent (N, D) -> image (N, 3, S, S) in [0, 1].

    Linear to a (C, b, b) grid, then n × [2× nearest upsample, 3×3 conv, GELU] (channels halve
    down to 8), then a 3×3 conv to RGB added to the logit of the training set's mean frame
    (so training starts from the mean image and learns what the latent changes), and a sigmoid.
    Latents are standardised with the training set's mean/std (stored as buffers).
    """

    def __init__(self, latent_dim: int, image_size: int, width: int = 64):
        super().__init__()
        self.latent_dim, self.image_size = latent_dim, image_size
        self.n_up, self.base = _upsampling_plan(image_size)
        self.width = width
        self.register_buffer("z_mean", torch.zeros(latent_dim))
        self.register_buffer("z_std", torch.ones(latent_dim))
        self.register_buffer("mean_logit", torch.zeros(3, image_size, image_size))
        self.fc = nn.Linear(latent_dim, width * self.base * self.base)
        layers, c = [], width
        for _ in range(self.n_up):
            c_out = max(c // 2, 8)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c_out, 3, padding=1), nn.GELU()]
            c = c_out
        self.up = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = (z - self.z_mean) / self.z_std  # (N, D)
        h = F.gelu(self.fc(x)).view(-1, self.width, self.base, self.base)  # (N, C, b, b)
        h = self.up(h)  # (N, c, b*2^n, b*2^n)
        if h.shape[-1] != self.image_size:
            h = F.interpolate(h, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.mean_logit + self.to_rgb(h))  # (N, 3, S, S)


def train_decoder(latents: ArrayLike, pixels: ArrayLike, steps: int = 800, *, batch_size: int = 32,
                  lr: float = 2e-3, width: int = 64, seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool = False) -> LatentDecoder:
    """Train a :class:`LatentDecoder` on (latent (N, D), frame (N, S, S, 3) uint8) pairs.

    The latents are copied and detached first: no gradient ever reaches a world model. Plain MSE
    on [0, 1] pixels, Adam with a cosine schedule. The decoder's loss history is in ``.history``.
    """
    z = _torch(latents, device=device)  # (N, D) detached copy
    px = pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(pixels))
    px = px.to(device)  # (N, S, S, 3) uint8
    if len(z) != len(px):
        raise ValueError(f"train_decoder: {len(z)} latents but {len(px)} frames")
    torch.manual_seed(seed)
    dec = LatentDecoder(z.shape[1], px.shape[1], width).to(device)
    dec.z_mean.copy_(z.mean(0))
    dec.z_std.copy_(z.std(0).clamp_min(1e-6))
    mean_img = px.float().mean(0).permute(2, 0, 1) / 255.0  # (3, S, S)
    dec.mean_logit.copy_(torch.logit(mean_img.clamp(0.01, 0.99)))
    opt = torch.optim.Adam(dec.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=lr * 0.05)
    gen = torch.Generator().manual_seed(seed)
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="decoder", unit="step")
    dec.history = []
    dec.train()
    for _ in it:
        idx = torch.randint(len(z), (min(batch_size, len(z)),), generator=gen).to(device)  # (b,)
        target = px[idx].permute(0, 3, 1, 2).float() / 255.0  # (b, 3, S, S)
        loss = F.mse_loss(dec(z[idx]), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        dec.history.append(loss.item())
    return dec.eval()


def decode(decoder: LatentDecoder, z: ArrayLike, batch: int = 256) -> np.ndarray:
    """Latents (N, D) (or (D,)) -> uint8 frames (N, S, S, 3)."""
    dev = _device_of(decoder)
    zt = _torch(z, device=dev)
    zt = zt[None] if zt.dim() == 1 else zt.reshape(-1, zt.shape[-1])  # (N, D)
    out = []
    with _eval_mode(decoder):
        for lo in range(0, len(zt), batch):
            img = decoder(zt[lo:lo + batch])  # (b, 3, S, S)
            out.append((img.permute(0, 2, 3, 1) * 255 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, decoder.image_size, decoder.image_size, 3), np.uint8)


@dataclass
class NearestResult:
    indices: np.ndarray
    """(M, k) rows of the nearest stored latents, closest first."""
    distances: np.ndarray
    """(M, k) L2 distances."""
    frames: np.ndarray | None
    """(M, k, S, S, 3) the matching frames (None when no frames were stored)."""


class NearestFrames:
    """Nearest dataset frame(s) of a latent by L2 distance: a decoder-free way to 'see' a latent."""

    def __init__(self, latents: ArrayLike, frames: ArrayLike | None = None):
        self.latents = _torch(latents)  # (N, D)
        self.frames = None if frames is None else np.asarray(frames)  # (N, S, S, 3)
        if self.frames is not None and len(self.frames) != len(self.latents):
            raise ValueError(f"NearestFrames: {len(self.latents)} latents but {len(self.frames)} frames")

    def query(self, z: ArrayLike, k: int = 1) -> NearestResult:
        """z (M, D) or (D,) -> the k nearest stored frames of each."""
        q = _torch(z)
        q = q[None] if q.dim() == 1 else q  # (M, D)
        k = int(min(k, len(self.latents)))
        d = torch.cdist(q.double(), self.latents.double())  # (M, N)
        dist, idx = d.topk(k, dim=1, largest=False)  # (M, k)
        idx_np = idx.numpy()
        return NearestResult(indices=idx_np, distances=dist.float().numpy(),
                             frames=None if self.frames is None else self.frames[idx_np])


# ---------------------------------------------------------------------------------------------
# 8. The planning cost over true states
# ---------------------------------------------------------------------------------------------
@dataclass
class GoalLandscape:
    """The latent goal cost ‖z(render(s)) − z_goal‖² on an n×n grid of two state components."""

    xs: np.ndarray
    """(n,) values of state component ``dims[0]`` (grid columns)."""
    ys: np.ndarray
    """(n,) values of state component ``dims[1]`` (grid rows)."""
    cost: np.ndarray
    """(n, n) latent cost, NaN where the state is invalid (e.g. inside a wall)."""
    true_dist: np.ndarray
    """(n, n) true distance to the goal (shortest path where the env knows it), NaN if invalid."""
    goal: np.ndarray
    """(Q,) goal state."""
    dims: tuple[int, int]
    spearman: float
    """Rank correlation of cost and true distance over valid cells (1 = a perfect map)."""
    greedy_accuracy: float
    """Fraction of valid non-goal cells whose lowest-cost neighbour (8-neighbourhood) is closer to
    the goal in truth: how often one greedy step on the latent cost is right (chance ≈ 0.5)."""


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr
    if len(a) < 3:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _state_grid(env, n: int, dims, lo, hi, base_state) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
    """An n×n grid over state components ``dims`` (default ``env.landscape_dims``) between ``lo``
    and ``hi`` (default ``env.state_bounds``, else 0..224), other components from ``base_state``:
    (dims, xs (n,), ys (n,), states (n*n, Q) row-major with rows = ys)."""
    dims = tuple(env.landscape_dims if dims is None else dims)
    base = np.asarray(base_state, np.float64).reshape(-1)  # (Q,)
    bounds = env.state_bounds
    lo = np.asarray(lo if lo is not None else [bounds[0][d] if bounds else 0.0 for d in dims], np.float64)
    hi = np.asarray(hi if hi is not None else [bounds[1][d] if bounds else 224.0 for d in dims], np.float64)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)  # (n,), (n,)
    X, Y = np.meshgrid(xs, ys)  # (n, n) rows = ys
    states = np.repeat(base[None], n * n, 0)  # (n*n, Q)
    states[:, dims[0]], states[:, dims[1]] = X.ravel(), Y.ravel()
    return dims, xs, ys, states


def goal_cost_landscape(model, env, goal_state: ArrayLike, n: int = 32, dims: tuple[int, int] | None = None,
                        lo: Sequence[float] | None = None, hi: Sequence[float] | None = None,
                        base_state: ArrayLike | None = None, batch: int = 256,
                        cache: dict | None = None) -> GoalLandscape:
    """Render the state grid (other components from ``base_state``, default the goal), encode it
    and compare the planner's cost with the env's true distance to go (``env.path_distance``).

    ``dims`` default to ``env.landscape_dims``; ``lo``/``hi`` bound the two components (default:
    ``env.state_bounds``, else [0, 224]). Pass the same ``cache`` dict for several goals: grids
    whose states are identical (e.g. every Two-Room goal) are rendered and encoded once."""
    goal = np.asarray(goal_state, np.float64).reshape(-1)  # (Q,)
    dims, xs, ys, states = _state_grid(env, n, dims, lo, hi, goal if base_state is None else base_state)
    key = (states.tobytes(), batch)
    if cache is not None and key in cache:
        valid, z = cache[key]
    else:
        valid = env.valid_states(states)  # (n*n,)
        z = encode_frames(model, np.stack([env.render_state(s) for s in states]), batch)  # (n*n, D)
        if cache is not None:
            cache[key] = (valid, z)
    zg = encode_frames(model, env.render_state(goal)[None], 1)  # (1, D)
    cost = ((z - zg) ** 2).sum(-1).numpy().astype(np.float64)  # (n*n,)
    true = np.asarray(env.path_distance(states, goal), np.float64)  # (n*n,)
    cost[~valid], true[~valid] = np.nan, np.nan
    C, Tg = cost.reshape(n, n), true.reshape(n, n)
    ok = valid & np.isfinite(cost)
    rho = _spearman(cost[ok], true[ok])
    # greedy step: for each valid cell, the valid neighbour with the lowest latent cost
    pad_c = np.pad(C, 1, constant_values=np.nan)
    pad_t = np.pad(Tg, 1, constant_values=np.nan)
    offs = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
    nb_c = np.stack([pad_c[1 + di:1 + di + n, 1 + dj:1 + dj + n] for di, dj in offs])  # (8, n, n)
    nb_t = np.stack([pad_t[1 + di:1 + di + n, 1 + dj:1 + dj + n] for di, dj in offs])  # (8, n, n)
    step = (xs[1] - xs[0]) if n > 1 else 1.0
    has = np.isfinite(nb_c).any(0) & np.isfinite(Tg) & (Tg > 1.5 * abs(step))  # (n, n)
    greedy = float("nan")
    if has.any():
        best = np.nanargmin(np.where(np.isfinite(nb_c), nb_c, np.inf), axis=0)  # (n, n)
        t_best = np.take_along_axis(nb_t, best[None], 0)[0]  # (n, n)
        greedy = float((t_best[has] < Tg[has]).mean())
    return GoalLandscape(xs=xs, ys=ys, cost=C, true_dist=Tg, goal=goal, dims=dims, spearman=rho,
                         greedy_accuracy=greedy)


def goal_cost_landscapes(model, env, goals: Sequence[ArrayLike], n: int = 24, **kw) -> list[GoalLandscape]:
    """:func:`goal_cost_landscape` for several goals, sharing the grid encoding where it repeats."""
    cache: dict = {}
    return [goal_cost_landscape(model, env, g, n=n, cache=cache, **kw) for g in goals]


def landscape_summary(ls: Sequence[GoalLandscape]) -> dict[str, Any]:
    """Mean Spearman ρ and greedy-step accuracy over landscapes (plus the per-goal values)."""
    rho, greedy = [l.spearman for l in ls], [l.greedy_accuracy for l in ls]
    return {"spearman": float(np.nanmean(rho)), "greedy_accuracy": float(np.nanmean(greedy)), "goals": len(ls),
            "spearman_per_goal": rho, "greedy_accuracy_per_goal": greedy}


def landscape_score(model, env, goals: Sequence[ArrayLike], n: int = 24, **kw) -> dict[str, Any]:
    """One number pair for "does ‖z − z_goal‖² behave like a distance to go?": the
    :func:`landscape_summary` of :func:`goal_cost_landscapes`."""
    return landscape_summary(goal_cost_landscapes(model, env, goals, n=n, **kw))


# ---------------------------------------------------------------------------------------------
# 9. How a grid of true states is warped in latent space
# ---------------------------------------------------------------------------------------------
@dataclass
class LinearReadout:
    """Least-squares affine readout of each target column from the latents (fitted in sample: it
    describes the shape of a map, it is not a held-out probe; :func:`probe` is that)."""

    r: np.ndarray
    """(C,) Pearson r between each target and its readout (1 = the target is affine in z)."""
    weights: np.ndarray
    """(C, D) readout direction of each target in latent space (the affine map's rows)."""


def linear_readout(z: ArrayLike, targets: ArrayLike) -> LinearReadout:
    """Fit ``targets`` (N, C) ≈ z (N, D) @ Wᵀ + b by least squares; r and W per target column."""
    Z = _as_2d(z).astype(np.float64)  # (N, D)
    Y = np.asarray(targets, np.float64).reshape(len(Z), -1)  # (N, C)
    A = np.concatenate([Z, np.ones((len(Z), 1))], 1)  # (N, D+1)
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)  # (D+1, C)
    return LinearReadout(r=pearson_r(A @ coef, Y), weights=coef[:-1].T.copy())


def readout_angle(w1: np.ndarray, w2: np.ndarray) -> float:
    """Angle in degrees (0..180) between two readout directions (D,): 0 = one linear readout
    serves both regions, large = the map is bent between them."""
    a, b = np.asarray(w1, np.float64), np.asarray(w2, np.float64)
    c = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


@dataclass
class GridWarp:
    """A regular n×n grid of two state components, rendered, encoded, and seen in latent space:
    straight parallel grid lines = a latent that is linear in the state; fans, folds and rings show
    up at a glance (draw ``coords`` row by row and column by column)."""

    xs: np.ndarray
    """(n,) values of state component ``dims[0]`` (grid columns)."""
    ys: np.ndarray
    """(n,) values of state component ``dims[1]`` (grid rows)."""
    dims: tuple[int, int]
    names: tuple[str, str]
    """Names of the two state components."""
    latents: np.ndarray
    """(n, n, D) latent of each grid state (row i = ys[i], column j = xs[j]); NaN where invalid."""
    valid: np.ndarray
    """(n, n) bool: the simulator can be in that state (e.g. not inside a wall)."""
    coords: np.ndarray
    """(n, n, 2) the 2-D view: z itself when D = 2, else its top-2 principal components; NaN where invalid."""
    view: str
    """What ``coords`` shows: ``"z"`` or ``"top-2 PCs of z"``."""
    readout: LinearReadout
    """Affine readout of the two components from z over all valid cells."""
    region_names: tuple[str, ...]
    """The env's regions (e.g. the two rooms); ``("all",)`` when it defines none."""
    region_readouts: list[LinearReadout]
    """The same readout fitted on each region's cells alone."""
    region_angle: np.ndarray
    """(2,) degrees between the first two regions' readout directions, per component (NaN with
    one region): how far one linear readout is from serving both."""


def state_grid_warp(model, env, n: int = 25, dims: tuple[int, int] | None = None,
                    lo: Sequence[float] | None = None, hi: Sequence[float] | None = None,
                    base_state: ArrayLike | None = None, batch: int = 256) -> GridWarp:
    """Render an n×n grid of two state components (others from ``base_state``, default the
    env's state after ``reset(seed=0)``), encode it and measure how straight the grid stays.

    ``dims`` default to ``env.landscape_dims``; ``lo``/``hi`` to ``env.state_bounds`` (else 0..224)."""
    if n < 3:
        raise ValueError(f"state_grid_warp needs n >= 3 grid points per side, got {n}")
    if base_state is None:
        env.reset(seed=0)
        base_state = env.get_state()
    dims, xs, ys, states = _state_grid(env, n, dims, lo, hi, base_state)
    valid = np.asarray(env.valid_states(states), bool)  # (n*n,)
    if valid.sum() < 4:
        raise ValueError(f"only {int(valid.sum())} of the {n}x{n} grid states are valid for {env!r}: "
                         f"check lo/hi/base_state")
    z = encode_frames(model, np.stack([env.render_state(s) for s in states[valid]]), batch).numpy()  # (V, D)
    z = z.astype(np.float64)
    lat = np.full((n * n, z.shape[1]), np.nan)  # (n*n, D)
    lat[valid] = z
    coords = np.full((n * n, 2), np.nan)
    coords[valid] = z if z.shape[1] == 2 else fit_latent_map(z, "pca").coords  # (V, 2)
    target = states[valid][:, list(dims)]  # (V, 2)
    reg = env.regions(states[valid])
    labels, rnames = (np.zeros(len(target), np.int64), ("all",)) if reg is None else reg
    per = [linear_readout(z[labels == k], target[labels == k]) if (labels == k).sum() > z.shape[1] + 1
           else LinearReadout(r=np.full(2, np.nan), weights=np.full((2, z.shape[1]), np.nan))
           for k in range(len(rnames))]
    angle = (np.array([readout_angle(per[0].weights[c], per[1].weights[c]) for c in range(2)])
             if len(per) >= 2 else np.full(2, np.nan))
    names = tuple(env.state_names[d] for d in dims)
    return GridWarp(xs=xs, ys=ys, dims=dims, names=names, latents=lat.reshape(n, n, -1),
                    valid=valid.reshape(n, n), coords=coords.reshape(n, n, 2),
                    view="z" if z.shape[1] == 2 else "top-2 PCs of z",
                    readout=linear_readout(z, target), region_names=tuple(rnames), region_readouts=per,
                    region_angle=angle)
