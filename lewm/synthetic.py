"""Synthetic episodes in the HDF5 layout: a Gaussian dot drifting under 2-D velocity actions.

Used by tests, benchmarks and smoke runs that must not depend on an environment."""
from __future__ import annotations

import os

import numpy as np


def dot_frames(xy: np.ndarray, size: int, sigma: float = 0.08) -> np.ndarray:
    """xy (L, 2) in [0, 1] -> uint8 frames (L, size, size, 3): a red dot on white."""
    g = (np.arange(size) + 0.5) / size
    d2 = (g[None, None, :] - xy[:, 0, None, None]) ** 2 + (g[None, :, None] - xy[:, 1, None, None]) ** 2  # (L, S, S)
    a = np.exp(-d2 / (2 * sigma**2))  # (L, S, S)
    img = np.ones((len(xy), size, size, 3), np.float32)
    img[..., 1] -= a
    img[..., 2] -= a
    return (img * 255).clip(0, 255).astype(np.uint8)


def write_synthetic_h5(path: str, episodes: int = 8, length: int = 40, image_size: int = 32,
                       seed: int = 0, speed: float = 0.04) -> str:
    """Write ``episodes`` random-walk episodes; state = dot xy, to a new file ``path``. Returns ``path``."""
    import h5py
    from .validate import Range, check_value
    for name, v, rng_ in (("episodes", episodes, Range(lo=1)), ("length", length, Range(lo=2)),
                          ("image_size", image_size, Range(lo=8, hi=1024)), ("seed", seed, Range(lo=0))):
        check_value(f"write_synthetic_h5: {name}", v, rng_, int)
    check_value("write_synthetic_h5: speed", speed, Range(lo=0.0, hi=1.0, lo_open=True), float)
    if os.path.exists(path):  # an existing dataset or checkpoint was overwritten without a word
        raise ValueError(f"write_synthetic_h5: {path} exists; it writes only a new file (pick another name)")
    rng = np.random.default_rng(seed)
    px, act, st, lens = [], [], [], []
    for _ in range(episodes):
        a = rng.uniform(-1, 1, size=(length, 2)).astype(np.float32)  # (L, 2)
        xy = np.empty((length, 2), np.float32)
        xy[0] = rng.uniform(0.15, 0.85, 2)
        for t in range(1, length):
            xy[t] = np.clip(xy[t - 1] + speed * a[t - 1], 0.1, 0.9)
        a[-1] = np.nan  # convention: no action after the last frame
        px.append(dot_frames(xy, image_size))
        act.append(a)
        st.append(xy)
        lens.append(length)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with h5py.File(path, "w") as f:
        f["pixels"] = np.concatenate(px)
        f["action"] = np.concatenate(act)
        f["state"] = np.concatenate(st)
        f["ep_len"] = np.asarray(lens, np.int32)
        f["ep_offset"] = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        f.attrs["env"] = "synthetic_dot"
        f.attrs["state_names"] = "x,y"
        f.attrs["image_size"] = image_size
    return path
