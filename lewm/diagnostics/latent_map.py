"""Latent maps: a fitted 2-D picture of the latents (PCA or UMAP).

:func:`fit_latent_map` returns a :class:`LatentMap` whose ``transform`` places new latents (e.g.
imagined ones) on the same map.
"""
from __future__ import annotations

import numpy as np

from ._common import ArrayLike, _as_2d, _finite


class LatentMap:
    """A fitted 2-D map of latents; ``transform`` places new latents (e.g. imagined ones) on it."""

    def __init__(self, method: str, reducer, coords: np.ndarray):
        self.method = method
        self.reducer = reducer
        self.coords = coords
        """(N, 2) map coordinates of the fitted latents."""

    def transform(self, z: ArrayLike) -> np.ndarray:
        """z (M, D) -> (M, 2) coordinates in this map."""
        x = _as_2d(z, "LatentMap.transform")  # (M, D)
        d = getattr(self.reducer, "n_features_in_", None)  # PCA's; UMAP keeps its training data
        d = d if d is not None else getattr(getattr(self.reducer, "_raw_data", None), "shape", (None, None))[-1]
        if d is not None and x.shape[1] != d:  # was scikit-learn's "X has 8 features, but PCA is expecting 16"
            raise ValueError(f"LatentMap.transform(z=...): the latents have {x.shape[1]} dims, the map was fitted "
                             f"on {d}; place latents of the same model on it")
        _finite(x, "LatentMap.transform(z=...): the latents")  # was scikit-learn's "Input X contains NaN."
        if len(x) == 0:  # scikit-learn's "Found array with 0 sample(s)": no latents, no coordinates
            return np.zeros((0, 2), np.float32)
        return np.asarray(self.reducer.transform(x), dtype=np.float32)  # (M, 2)

    def __repr__(self) -> str:
        return f"LatentMap(method={self.method!r}, points={len(self.coords)})"


def fit_latent_map(z: ArrayLike, method: str = "pca", seed: int = 0, *, n_neighbors: int = 15,
                   min_dist: float = 0.1) -> LatentMap:
    """Fit a 2-D map of latents z (N, D) by PCA or UMAP (umap-learn, imported only when asked)."""
    from .._api_checks import number, whole
    fn = "fit_latent_map"
    seed = whole(fn, "seed", seed, 0, 2**32 - 1)  # -1 was scikit-learn's InvalidParameterError (its limit 2**32 - 1)
    if not isinstance(method, str) or method.lower() not in ("pca", "umap"):  # None was "no attribute 'lower'"
        raise ValueError(f"{fn}(method=...) must be 'pca' or 'umap', got {method!r:.60}")
    n_neighbors = whole(fn, "n_neighbors", n_neighbors, 2)  # 0 was umap-learn's "n_neighbors must be greater than 1"
    min_dist = number(fn, "min_dist", min_dist, 0.0, 1.0)  # umap-learn's own bound (min_dist <= spread = 1)
    x = _as_2d(z, fn)  # (N, D)
    if len(x) < 3:
        raise ValueError(f"fit_latent_map needs at least 3 latents to place on a map, got {len(x)}")
    if x.shape[1] < 2:  # PCA's "n_components=2 must be between 0 and min(n_samples, n_features)=1"
        raise ValueError(f"fit_latent_map needs latents of at least 2 dimensions for a 2-D map, got {x.shape[1]}")
    _finite(x, "fit_latent_map: the latents")
    method = method.lower()
    if method == "pca":
        from sklearn.decomposition import PCA
        red = PCA(n_components=2, random_state=seed)
        coords = red.fit_transform(x)  # (N, 2)
    elif method == "umap":
        if len(x) < 4:  # 3 rows were scipy's "Cannot use scipy.linalg.eigh for sparse A with k >= N"
            raise ValueError(f"fit_latent_map: UMAP needs at least 4 latents (its spectral layout), got {len(x)}; "
                             f"use method='pca'")
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
