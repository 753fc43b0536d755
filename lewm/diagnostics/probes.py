"""Probes: how well is the true state readable from the latent, on held-out episodes?

:func:`probe` fits a linear (ridge) or MLP probe latent -> state on a train split (split by
episode when given ``groups``) and reports held-out R² and Pearson r per state quantity;
:func:`probe_spread` refits it on several held-out splits (how much of a figure is the split).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._api_checks import flag, whole
from ._common import ArrayLike, _as_2d, _finite, _whole
from ._probe_checks import check_fraction, check_groups, check_mlp, check_names, check_numbers, check_rows


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
        if self.estimator is None:
            raise ValueError("ProbeResult.predict: this result holds no fitted estimator (made by hand, not by probe)")
        x = _as_2d(z).astype(np.float64)
        d = getattr(self.estimator, "n_features_in_", None)
        if d is not None and x.shape[1] != d:  # was sklearn's "X has 4 features, but StandardScaler is expecting 8"
            raise ValueError(f"ProbeResult.predict(z=...): the latents have {x.shape[1]} dims, the probe was fitted "
                             f"on {d}")
        _finite(x, "ProbeResult.predict(z=...): the latents")  # was sklearn's "Input X contains NaN"
        if len(x) == 0:
            return np.zeros((0, len(self.names)))
        return np.asarray(self.estimator.predict(x)).reshape(len(x), -1)

    def table(self) -> list[dict[str, float | str]]:
        """One row per quantity: {'quantity', 'r2', 'pearson_r'}."""
        return [{"quantity": n, "r2": float(a), "pearson_r": float(b)} for n, a, b in zip(self.names, self.r2, self.pearson)]


def _paired_columns(pred, true, who: str) -> tuple[np.ndarray, np.ndarray]:
    """pred and true as float64 (n, Q) of one shape, n >= 2, finite; else one ValueError (a shape
    mismatch was sklearn's "inconsistent numbers of samples", scipy's broadcast error or an IndexError)."""
    a, b = check_numbers(who, "pred", pred, "(n,) or (n, Q)"), check_numbers(who, "true", true, "(n,) or (n, Q)")
    if a.shape != b.shape or a.ndim not in (1, 2) or len(a) < 2:
        raise ValueError(f"{who} needs pred and true of one shape (n,) or (n, Q) with n >= 2, got "
                         f"{a.shape} and {b.shape}")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)  # (n, Q)
    _finite(a, f"{who}: pred")
    _finite(b, f"{who}: true")
    return a, b


def _constant_truth(b: np.ndarray, who: str) -> np.ndarray:
    """(Q,) bool: the true columns with (almost) no spread, where a score measures nothing: NaN
    there, with a warning (was 0 without a word, which reads as "not decodable")."""
    const = len(b) * b.var(0) <= 1e-12
    if const.any():
        warnings.warn(f"{who}: true column(s) {np.flatnonzero(const).tolist()} are constant: nothing to "
                      f"predict there, the score is NaN")
    return const


def pearson_r(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Column-wise Pearson r (:func:`scipy.stats.pearsonr`) of (n, Q) arrays of one shape (or (n,)).

    A constant *true* column has no correlation to measure: NaN there, with a warning. A constant
    *prediction* of a varying truth (a probe that reads nothing, e.g. from collapsed latents) scores 0,
    where scipy would give NaN."""
    from scipy import stats
    a, b = _paired_columns(pred, true, "pearson_r")  # (n, Q)
    const = _constant_truth(b, "pearson_r")
    ok = (len(a) * a.var(0) > 1e-12) & ~const  # (Q,) neither column constant
    r = np.where(const, np.nan, 0.0)  # (Q,)
    if ok.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.NearConstantInputWarning)
            r[ok] = stats.pearsonr(a[:, ok], b[:, ok], axis=0).statistic
    return r if np.ndim(pred) > 1 else r.reshape(())


def r2_score_cols(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Column-wise R² = 1 - SS_res / SS_tot (:func:`sklearn.metrics.r2_score`, one per column) of
    (n, Q) arrays of one shape (or (n,)); NaN, with a warning, for a constant true column
    (SS_tot ≤ 1e-12), where sklearn gives 1, 0 or a huge negative number."""
    from sklearn.metrics import r2_score
    p, t = _paired_columns(pred, true, "r2_score_cols")  # (n, Q)
    const = _constant_truth(t, "r2_score_cols")
    r2 = np.full(t.shape[1], np.nan)  # (Q,)
    if (~const).any():
        r2[~const] = r2_score(t[:, ~const], p[:, ~const], multioutput="raw_values")
    return r2 if np.ndim(true) > 1 else r2.reshape(())


def _n_held_out(test_fraction: float, count: int) -> int:
    """How many of ``count`` groups (or rows) :func:`split_indices` holds out: at least 1, at most count - 1."""
    return min(max(int(round(test_fraction * count)), 1), count - 1)


def split_indices(n: int, test_fraction: float = 0.2, seed: int = 0,
                  groups: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train/test row indices; with ``groups`` (e.g. episode ids) whole groups go to one side.

    Kept by hand on purpose: sklearn's ``GroupShuffleSplit`` / ``train_test_split`` draw other rows
    (legacy RandomState, other rounding of the test size), which would move every stored probe figure."""
    test_fraction = check_fraction("split_indices", test_fraction)
    n = check_rows("split_indices", n)  # 10.7 / None / 10**12: numpy's AxisError, int() or MemoryError
    rng = np.random.default_rng(whole("split_indices", "seed", seed, 0))
    if groups is not None:
        g = check_groups("split_indices", groups, n)
        uniq = rng.permutation(np.unique(g))
        if len(uniq) >= 2:
            n_test = _n_held_out(test_fraction, len(uniq))
            test = np.isin(g, uniq[:n_test])
            return np.flatnonzero(~test), np.flatnonzero(test)
        warnings.warn(f"split_indices: all {len(g)} rows are in one group (episode), so the split is by row: "
                      "frames of that episode land on both sides and the held-out score is optimistic")
    perm = rng.permutation(n)
    n_test = _n_held_out(test_fraction, int(n))
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
    y = check_numbers("probe", "state", state, "(N,) or (N, Q)")
    if y.ndim not in (1, 2):  # None / (N, 1, 2) were "len() of unsized object" / sklearn's "dim 3"
        raise ValueError(f"probe(state=...) must be (N,) or (N, Q) numbers, got shape {y.shape}")
    y = y[:, None] if y.ndim == 1 else y  # (N, Q)
    if len(y) != len(x):
        raise ValueError(f"probe: {len(x)} latents but {len(y)} states; give one state row per latent")
    if len(x) < 4:  # 1-3 rows: sklearn's "0 sample(s)", or an r of 0 from one held-out row
        raise ValueError(f"probe needs at least 4 latents (>= 2 to fit, >= 2 to score), got {len(x)}")
    _finite(x, "probe: the latents")
    _finite(y, "probe: the states")
    names = (check_names("probe", state_names, y.shape[1]) if state_names is not None
             else tuple(f"s{i}" for i in range(y.shape[1])))
    test_fraction = check_fraction("probe", test_fraction)
    seed = whole("probe", "seed", seed, 0, 2**32 - 1 if kind == "mlp" else None)  # mlp: sklearn's random_state
    if groups is not None:
        groups = check_groups("probe", groups, len(x))
    tr, te = split_indices(len(x), test_fraction, seed, groups)
    if kind == "linear":
        reg = RidgeCV(alphas=np.logspace(-6, 3, 10))
    elif kind == "mlp":
        mlp_hidden, max_iter = check_mlp("probe", mlp_hidden, max_iter, x.shape[1], y.shape[1])
        reg = MLPRegressor(hidden_layer_sizes=mlp_hidden, max_iter=max_iter, early_stopping=True,
                           n_iter_no_change=10, learning_rate_init=1e-3, random_state=seed)
    else:
        raise ValueError(f"unknown probe kind {kind!r}; choose 'linear' or 'mlp'")
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), reg), transformer=StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of short MLP fits
        model.fit(x[tr], y[tr])
    pred = np.asarray(model.predict(x[te])).reshape(len(te), -1)  # (n_test, Q)
    return ProbeResult(kind=kind, names=names, r2=r2_score_cols(pred, y[te]), pearson=pearson_r(pred, y[te]),
                       n_train=len(tr), n_test=len(te), predictions=pred.astype(np.float32),
                       targets=y[te].astype(np.float32), estimator=model)


@dataclass
class ProbeSpread:
    """One probe kind refitted on several different held-out splits (split seeds ``seeds``): how much
    of a probe figure is the choice of test episodes."""

    names: tuple[str, ...]
    pearson: np.ndarray
    """(K, Q) held-out Pearson r per split and quantity."""
    r2: np.ndarray
    """(K, Q) held-out R² per split and quantity."""
    seeds: tuple[int, ...] = ()
    """The K split seeds used: each gives another held-out set (a seed repeating an earlier set is skipped)."""
    possible: int | None = None
    """How many distinct held-out sets the data allow (C(groups, held-out groups)); K < the asked splits
    when this is smaller (e.g. 2 episodes: 2 splits)."""

    @property
    def splits(self) -> int:
        """K, the number of distinct held-out splits the figures are over."""
        return int(len(self.pearson))

    def summary(self) -> dict[str, dict[str, float]]:
        """{quantity: {"mean", "min", "max"}} of Pearson r over the splits."""
        return {n: {"mean": float(self.pearson[:, q].mean()), "min": float(self.pearson[:, q].min()),
                    "max": float(self.pearson[:, q].max())} for q, n in enumerate(self.names)}


MAX_SPLITS = 1000
"""probe_spread's most held-out splits (a spread needs a handful; each one refits the probe)."""


def _possible_splits(n: int, test_fraction: float, groups) -> tuple[int, str]:
    """How many distinct held-out sets :func:`split_indices` can draw, and of what (for messages)."""
    count, what = int(n), "rows"
    if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
        count, what = len(np.unique(np.asarray(groups))), "groups (episodes)"
    k = _n_held_out(test_fraction, count)
    return math.comb(count, k), f"{count} {what}, {k} held out"


def probe_spread(z: ArrayLike, state: ArrayLike, state_names: Sequence[str] | None = None, kind: str = "linear",
                 splits: int = 5, groups: ArrayLike | None = None, *, progress: bool = True, **kw) -> ProbeSpread:
    """:func:`probe` on ``splits`` distinct held-out splits (split seeds 0, 1, ...; a seed that draws an
    earlier split's held-out set again is skipped); ``splits`` in 1..:data:`MAX_SPLITS`, with a progress bar
    above 20 splits (``progress=False`` hides it). Data with fewer distinct splits (2 episodes allow 2) give
    all of them, with a warning (was: the same 2 splits repeated, weighting the figures by the repeats)."""
    # 10**6 ran for hours without a word; each split is one probe fit (an MLP's: seconds)
    splits = _whole(splits, "probe_spread: splits", hi=MAX_SPLITS, why="each split refits the probe")
    if "seed" in kw:  # was probe()'s "got multiple values for keyword argument 'seed'"
        raise TypeError("probe_spread takes no seed: its splits use the split seeds 0, 1, 2, ... (one held-out set "
                        "each); call probe(seed=...) for one split")
    show = flag("probe_spread", "progress", progress)
    res = [probe(z, state, state_names, kind, seed=0, groups=groups, **kw)]  # checks every input first
    n, tf = res[0].n_train + res[0].n_test, kw.get("test_fraction", 0.2)
    possible, of_what = _possible_splits(n, tf, groups)
    target = min(splits, possible)
    bar = None
    if show and target > 20:  # many splits: not a silent wait
        from tqdm.auto import tqdm
        bar = tqdm(total=target, initial=1, desc="probe splits", unit="split", leave=False)
    seeds, seen, seed = [0], {split_indices(n, tf, 0, groups)[1].tobytes()}, 1
    while len(res) < target and seed < 100 + 50 * target:  # a bound on the draws: cheap, never a hang
        key = split_indices(n, tf, seed, groups)[1].tobytes()
        if key not in seen:
            seen.add(key)
            res.append(probe(z, state, state_names, kind, seed=seed, groups=groups, **kw))
            seeds.append(seed)
            if bar is not None:
                bar.update(1)
        seed += 1
    if bar is not None:
        bar.close()
    if len(res) < splits:
        why = (f"the data allow only {possible}" if possible < splits else
               f"{seed} split seeds drew no other held-out set (of {possible})")
        warnings.warn(f"probe_spread: {len(res)} distinct held-out splits, not {splits}: {why} ({of_what})")
    return ProbeSpread(names=res[0].names, pearson=np.stack([r.pearson for r in res]),
                       r2=np.stack([r.r2 for r in res]), seeds=tuple(seeds), possible=possible)
