"""State grid warp: how a regular grid of true states looks in latent space.

:func:`state_grid_warp` renders an n×n grid of two state components, encodes it and draws it in
latent space (z, or its top-2 principal components); affine readouts over the grid and per region
(:func:`linear_readout`, :func:`readout_angle`) say whether the map is straight, fanned or folded.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import ArrayLike, _as_2d, _finite, _state_grid
from ._probe_checks import check_env, check_grid, check_numbers
from .encoding import encode_frames
from .latent_map import fit_latent_map
from .probes import pearson_r


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
    Y = check_numbers("linear_readout", "targets", targets, "(N,) or (N, C)")
    if Y.ndim not in (1, 2):  # None was "len() of unsized object"
        raise ValueError(f"linear_readout(targets=...) must be (N,) or (N, C) numbers, got shape {Y.shape}")
    if len(Z) < 3 or len(Y) != len(Z):  # 1 row gave r = 0 without a word, other counts a reshape error
        raise ValueError(f"linear_readout needs >= 3 latents and one target row per latent, got {len(Z)} latents "
                         f"and {len(Y)} target rows")
    Y = Y.reshape(len(Z), -1)  # (N, C)
    _finite(Z, "linear_readout: the latents")  # was numpy's LinAlgError "SVD did not converge"
    _finite(Y, "linear_readout: the targets")
    A = np.concatenate([Z, np.ones((len(Z), 1))], 1)  # (N, D+1)
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)  # (D+1, C)
    return LinearReadout(r=pearson_r(A @ coef, Y), weights=coef[:-1].T.copy())


def readout_angle(w1: np.ndarray, w2: np.ndarray) -> float:
    """Angle in degrees (0..180) between two readout directions (D,): 0 = one linear readout
    serves both regions, large = the map is bent between them. NaN when either has no direction: a
    zero vector (with a warning; it was 90° without a word) or NaN weights (a region too small to fit)."""
    a, b = check_numbers("readout_angle", "w1", w1, "(D,)"), check_numbers("readout_angle", "w2", w2, "(D,)")
    if a.ndim != 1 or a.shape != b.shape or a.size < 1:  # was matmul's gufunc message
        raise ValueError(f"readout_angle needs two directions of one length (D,), got shapes {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        warnings.warn("readout_angle: a zero readout direction has no angle (NaN)")
        return float("nan")
    c = float(a @ b / (na * nb))
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

    ``dims`` default to ``env.landscape_dims``; ``lo``/``hi`` to ``env.state_bounds`` (else 0..224),
    with lo < hi in both components."""
    fn = "state_grid_warp"
    check_env(fn, env, ("reset", "get_state", "render_state", "valid_states", "regions", "state_dim", "state_names",
                      "landscape_dims"))  # None was "'NoneType' object has no attribute 'reset'"
    # n (3.5, None, 10**5: numpy's linspace error or MemoryError), lo/hi (one value: an IndexError in the grid),
    # base_state (3 components: the env's valid_states message) checked before the grid is made
    n, dims, lo, hi, base_state = check_grid(fn, env, n, dims, lo, hi, base_state)
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
