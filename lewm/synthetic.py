"""Synthetic episodes in the HDF5 layout: a Gaussian dot drifting under 2-D velocity actions.

Used by tests, benchmarks and smoke runs that must not depend on an environment."""
from __future__ import annotations

import os

import numpy as np

MAX_FRAME_BYTES = 4 << 30
"""The most uint8 frames :func:`dot_frames` returns, and :func:`write_synthetic_h5` holds, at once (4 GiB;
more was a MemoryError, or the process was killed for memory, after minutes of work)."""
_CHUNK_PIXELS = 1 << 20
"""Frame pixels drawn at once: the float64 work arrays (about 50 bytes a pixel) stay near 50 MB."""


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def dot_frames(xy: np.ndarray, size: int, sigma: float = 0.08) -> np.ndarray:
    """xy (L, 2) in [0, 1] -> uint8 frames (L, size, size, 3): a red dot on white. ``size`` >= 1 pixels,
    ``sigma`` (the dot's radius, in frame widths) >= 1e-6: 0 drew white frames, a size of 0 empty ones."""
    from .validate import Range, check_value
    check_value("dot_frames: size", size, Range(lo=1, hi=4096), int)
    check_value("dot_frames: sigma", sigma, Range(lo=1e-6), float)  # smaller: sigma**2 underflows, 0/0 = NaN
    xy = np.asarray(xy)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.dtype.kind not in "iuf":  # (2,) was an IndexError
        raise ValueError(f"dot_frames: xy must be (L, 2) numbers (one x, y per frame), got {xy.dtype} {xy.shape}")
    need = len(xy) * int(size) ** 2 * 3  # Python ints: numpy ones overflow
    if need > MAX_FRAME_BYTES:  # 10**7 frames of 64 px asked numpy for 305 GiB of work arrays
        raise ValueError(f"dot_frames: {len(xy):_} frames of {size}x{size} pixels would take {_gib(need)} of uint8 "
                         f"frames (more than {_gib(MAX_FRAME_BYTES)}); draw fewer frames at a time")
    if not np.isfinite(xy).all():
        raise ValueError("dot_frames: xy holds NaN/inf; give finite positions (in [0, 1] on the frame)")
    g = (np.arange(size) + 0.5) / size
    out = np.empty((len(xy), size, size, 3), np.uint8)
    step = max(1, _CHUNK_PIXELS // (size * size))  # frames per chunk: each frame is drawn on its own
    for i in range(0, len(xy), step):
        c = xy[i:i + step]
        d2 = (g[None, None, :] - c[:, 0, None, None]) ** 2 + (g[None, :, None] - c[:, 1, None, None]) ** 2  # (l, S, S)
        a = np.exp(-d2 / (2 * sigma**2))  # (l, S, S)
        img = np.ones((len(c), size, size, 3), np.float32)
        img[..., 1] -= a
        img[..., 2] -= a
        out[i:i + step] = (img * 255).clip(0, 255).astype(np.uint8)
    return out


def write_synthetic_h5(path: str, episodes: int = 8, length: int = 40, image_size: int = 32,
                       seed: int = 0, speed: float = 0.04) -> str:
    """Write ``episodes`` random-walk episodes; state = dot xy, to a new file ``path``. Returns ``path``."""
    import h5py
    from .validate import Range, check_value
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path.strip() or path.endswith(("/", os.sep)):  # '' was h5py's OSError
        raise ValueError(f"write_synthetic_h5: path must be a new HDF5 file name (e.g. data/synthetic.h5), "
                         f"got {path!r:.60}")
    for name, v, rng_ in (("episodes", episodes, Range(lo=1)), ("length", length, Range(lo=2)),
                          ("image_size", image_size, Range(lo=8, hi=1024)), ("seed", seed, Range(lo=0))):
        check_value(f"write_synthetic_h5: {name}", v, rng_, int)
    check_value("write_synthetic_h5: speed", speed, Range(lo=0.0, hi=1.0, lo_open=True), float)
    need = int(episodes) * int(length) * int(image_size) ** 2 * 3  # the frames, held until written (twice while joined)
    if need > MAX_FRAME_BYTES:  # episodes=10**9 was killed for memory after the work had begun
        raise ValueError(f"write_synthetic_h5: episodes * length * image_size**2 * 3 = {episodes:_} * {length:_} * "
                         f"{image_size}**2 * 3 bytes = {_gib(need)} of frames held in memory (about twice that "
                         f"while written), more than {_gib(MAX_FRAME_BYTES)}; write fewer or shorter episodes or "
                         f"smaller images (several files)")
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
    try:
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
    except OSError as e:  # a parent that is a file, a read-only folder: one line naming the path
        if os.path.isfile(path):  # a half-written file would be refused as existing next time
            os.remove(path)
        msg = getattr(e, "strerror", None) or str(e).splitlines()[0][:200]
        raise ValueError(f"write_synthetic_h5: cannot write {path} ({msg})") from None
    return path
