"""Example latent clouds for explaining SIGReg: what it wants, and three ways to miss it.

:func:`demo_latents` draws (n, dim) clouds with a fixed seed: the isotropic Gaussian SIGReg pulls
towards, a collapse to a point, a dimensional collapse onto a line, and a Gaussian of the wrong
scale and mean.
"""
from __future__ import annotations

import numpy as np

from ._common import _whole


MAX_VALUES = 100_000_000
"""The largest example cloud (n * dim values: about 0.8 GiB of float64 while it is drawn)."""
MAX_DIM = 65_536


def demo_latents(kind: str, n: int = 1024, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Example latent clouds (n, dim) for explaining SIGReg.

    ``gaussian``: isotropic N(0, I) — what SIGReg wants; ``collapsed``: every sample is (almost)
    the same vector; ``line``: dimensional collapse onto one direction; ``scaled``: Gaussian but
    with std 0.3 and shifted by 1 — wrong scale and mean.
    """
    # 0: an empty cloud, -5: numpy's message; 10**9 rows: a MemoryError (119 GiB)
    _whole(n, "demo_latents: n", hi=MAX_VALUES, why="an example cloud; larger ones do not fit in memory")
    _whole(dim, "demo_latents: dim", hi=MAX_DIM, why="latent dimensions")
    if n * dim > MAX_VALUES:
        raise ValueError(f"demo_latents: n * dim must be <= {MAX_VALUES:_} values (about "
                         f"{MAX_VALUES * 8 / 2**30:.0f} GiB while drawing), got n={n} * dim={dim} = {n * dim:_}")
    from .._api_checks import seed as check_seed
    rng = np.random.default_rng(check_seed("demo_latents", seed))  # -1 was numpy's "expected non-negative integer"
    if kind == "gaussian":
        z = rng.standard_normal((n, dim))  # (n, dim)
    elif kind == "collapsed":
        z = np.tile(rng.standard_normal(dim), (n, 1)) * 0.5 + 0.02 * rng.standard_normal((n, dim))  # (n, dim)
    elif kind == "line":
        u = rng.standard_normal(dim)  # (dim,)
        u /= np.linalg.norm(u)
        z = rng.standard_normal((n, 1)) * 2.5 * u[None, :] + 0.05 * rng.standard_normal((n, dim))  # (n, dim)
    elif kind == "scaled":
        z = 1.0 + 0.3 * rng.standard_normal((n, dim))  # (n, dim)
    else:
        raise ValueError(f"unknown demo latents {kind!r}; choose gaussian, collapsed, line or scaled")
    return z.astype(np.float32)
