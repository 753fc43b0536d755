"""Dataset encoding: frames in, latents out (what the maps, probes and neighbours read).

:func:`encode_frames` encodes uint8 frames in eval mode, batched; :func:`encode_dataset` encodes
whole episodes of an HDF5 file with their true state, episode ids and (optionally) pixels and the
encoder's pre-projector embedding, as an :class:`EncodedDataset`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .. import _api_checks as chk
from ._common import ArrayLike, _device_of, _eval_mode, _uint8_frames, _whole

EMBEDDING_PARTS = ("normalize_pixels", "encoder", "projector")
"""What :func:`encode_frames_both` calls on the model (besides ``encode``)."""


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


def _encode_batches(model: nn.Module, pixels: ArrayLike, batch: int, fn, who: str) -> list[list[torch.Tensor]]:
    """Run ``fn(model, x)`` on uint8 frames (N, S, S, 3) in eval mode, ``batch`` frames at a time,
    with ``x`` (b, 3, S, S) on the model's device; ``fn`` returns a tuple of (b, ·) tensors. Returns
    one list of CPU float32 chunks per output."""
    if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1:  # range() arg 3 must not be zero
        raise ValueError(f"batch must be a whole number >= 1, got {batch!r}")
    dev = _device_of(model)
    px = _uint8_frames(pixels, who)  # None was torch's "can't convert numpy.object_"
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
    chk.world_model("encode_frames", model, "encode")  # None was "'NoneType' object has no attribute 'parameters'"
    if features not in ("latent", "embedding"):
        raise ValueError(f"features must be 'latent' or 'embedding', got {features!r}")
    if features == "embedding":
        return encode_frames_both(model, pixels, batch)[1]
    chunks = _encode_batches(model, pixels, batch, lambda m, x: (m.encode(x[None])[0],), "encode_frames")  # (b, D)
    return torch.cat(chunks[0]) if chunks else torch.zeros(0, model.cfg.latent_dim)  # (N, D)


def encode_frames_both(model: nn.Module, pixels: ArrayLike, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 frames (N, S, S, 3) -> (z (N, D), CLS embedding before the projector (N, E)), one
    encoder pass, CPU float32, eval mode."""
    chk.world_model("encode_frames_both", model, *EMBEDDING_PARTS)

    def both(m, x):
        h = m.encoder(m.normalize_pixels(x))  # (b, E)
        return m.projector(h), h  # (b, D), (b, E)
    chunks = _encode_batches(model, pixels, batch, both, "encode_frames_both")
    if not chunks:
        return torch.zeros(0, model.cfg.latent_dim), torch.zeros(0, model.cfg.enc_dim)
    return torch.cat(chunks[0]), torch.cat(chunks[1])  # (N, D), (N, E)


def _episode_list(episodes, n_eps: int, path: str) -> np.ndarray:
    """encode_dataset's ``episodes`` as whole episode indices of the file, each once (was: an empty list numpy's
    "need at least one array to concatenate", 5 of 3 an IndexError, [0, 0] episode 0 encoded twice)."""
    from ..data import DataError
    fn = "encode_dataset(episodes=...)"
    if isinstance(episodes, (str, bytes)):
        raise TypeError(f"{fn} must be a list of episode indices, got {episodes!r:.60}")
    e = np.asarray(episodes).reshape(-1) if np.ndim(episodes) <= 1 else np.asarray(episodes)
    if e.ndim != 1 or (e.size and e.dtype.kind not in "iu"):
        raise TypeError(f"{fn} must be a list of episode indices (whole numbers), got {episodes!r:.60}")
    if e.size == 0:
        raise ValueError(f"{fn} is empty: give at least one episode index (or None: all, in a seeded order)")
    bad = e[(e < 0) | (e >= n_eps)]
    if bad.size:
        raise DataError(f"{path}: episode {int(bad[0])} out of range (file has {n_eps}; {fn})")
    uniq, counts = np.unique(e, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{fn} lists episode {int(uniq[counts > 1][0])} more than once; each episode is "
                         f"encoded once")
    return e


def encode_dataset(model: nn.Module, h5_path: str, max_frames: int = 5000, batch: int = 256, *,
                   episodes: Sequence[int] | None = None, stride: int = 1, keep_pixels: bool = False,
                   seed: int = 0, progress: bool = False, with_embeddings: bool = False) -> EncodedDataset:
    """Encode whole episodes of an HDF5 file until ``max_frames`` frames (every ``stride``-th).

    Episodes are taken in a seeded random order (or the given ``episodes`` in order) so a capped
    encoding still covers the data set; whole episodes keep a split by episode meaningful.
    """
    from ..data import open_h5, validate_file
    fn = "encode_dataset"
    chk.world_model(fn, model, "encode", *(EMBEDDING_PARTS if with_embeddings is True else ()))
    _whole(max_frames, "max_frames")  # True was 1 frame
    batch = chk.whole(fn, "batch", batch, 1)  # 0 was range()'s "arg 3 must not be zero"
    seed = chk.seed(fn, seed)  # -1 was numpy's "expected non-negative integer"
    stride = chk.whole("encode_dataset", "stride", stride, 1)  # 0 was numpy's "Maximum allowed size exceeded"
    for name, v in (("keep_pixels", keep_pixels), ("progress", progress), ("with_embeddings", with_embeddings)):
        chk.flag("encode_dataset", name, v)  # 'yes' was taken as True
    # a file of another image size: "encoder expects 32x32 images" after the first batch, naming no file
    size = getattr(getattr(model, "cfg", None), "image_size", None)
    info = validate_file(h5_path, size if isinstance(size, int) else None)
    ep_len, ep_off = info["ep_len"], info["ep_offset"]
    order = (np.random.default_rng(seed).permutation(len(ep_len)) if episodes is None
             else _episode_list(episodes, len(ep_len), h5_path))
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
