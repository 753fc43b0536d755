"""Reference sets shipped beside each checkpoint, and stored 2-D maps of their latents.

No Streamlit and no math here: file names, content fingerprints and an .npz store, so that
``scripts/make_reference_sets.py`` (offline) and the lab (``cache.py``) agree on them.

- ``checkpoints/<name>/reference.h5``: a few hundred frames with true states (project HDF5 layout).
- ``checkpoints/<name>/reference_umap.npz`` (shipped) or ``<runs>/cache/umap-<key>.npz`` (computed
  in the lab): the UMAP coordinates of the encoded frames, valid only for the exact checkpoint and
  data file contents and the same encoded frames (``frame_index``).
"""
from __future__ import annotations

import hashlib
import os
import zipfile

import numpy as np

REFERENCE_NAME = "reference.h5"
UMAP_NAME = "reference_umap.npz"
# what the lab encodes for its maps (cache.encoded_dataset(..., max_frames)); the script uses the same
MAP_MAX_FRAMES = 2000


def reference_of(ckpt: str) -> str | None:
    """The reference set beside a checkpoint, if there is one."""
    p = os.path.join(os.path.dirname(os.path.abspath(ckpt)), REFERENCE_NAME)
    return p if os.path.exists(p) else None


def fingerprint(path: str) -> str:
    """sha1 of a file's bytes (checkpoints and reference sets are a few MB: milliseconds)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def map_key(ckpt_sha: str, data_sha: str, n_frames: int, method: str = "umap") -> str:
    return hashlib.sha1(f"{ckpt_sha}:{data_sha}:{int(n_frames)}:{method}".encode()).hexdigest()[:20]


def save_map(path: str, coords: np.ndarray, frame_index: np.ndarray, ckpt_sha: str, data_sha: str,
             method: str = "umap") -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, coords=np.asarray(coords, np.float32), frame_index=np.asarray(frame_index, np.int64),
                        ckpt_sha=ckpt_sha, data_sha=data_sha, method=method)
    os.replace(tmp, path)
    return path


def load_map(path: str, frame_index: np.ndarray, ckpt_sha: str, data_sha: str,
             method: str = "umap") -> np.ndarray | None:
    """The stored (N, 2) coordinates if ``path`` holds a map of exactly these frames of this data
    under this checkpoint; None otherwise (missing, stale or unreadable)."""
    try:
        with np.load(path) as z:
            if (str(z["ckpt_sha"]) != ckpt_sha or str(z["data_sha"]) != data_sha or str(z["method"]) != method
                    or not np.array_equal(z["frame_index"], np.asarray(frame_index))):
                return None
            return np.asarray(z["coords"], np.float32)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing, stale or damaged
        return None
