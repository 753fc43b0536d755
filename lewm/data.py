"""Windowed dataset over an HDF5 episode file (DESIGN §5 layout; the file itself: :mod:`lewm.episode_file`, the
action normalisation: :mod:`lewm.action_stats`, both re-exported here).

File layout (the field's tools use the same): flat datasets with every episode concatenated on
axis 0 — ``pixels`` (N, S, S, 3) uint8, ``action`` (N, A) float, optional ``state`` (N, Q) —
plus ``ep_len`` (E,) and ``ep_offset`` (E,). Row i of ``action`` is applied after frame i; the
last row of an episode is NaN by convention (zeroed here, without a word; a last row with ±inf or only
some NaN is zeroed with a warning, NaN inside an episode refused).

A window = ``history + 1`` frames taken every ``frameskip`` raw steps, and ``history`` action
blocks (the ``frameskip`` raw actions between two kept frames, concatenated, z-scored).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ._data_checks import batch_fits, byte_limit, fraction
from ._data_checks import episode_list as _episode_list
from ._data_checks import shared_path, short_read, split_of, whole_at_least as _whole, window_indices
from ._data_checks import index as _index
from ._held_file import check_handle, check_path, identity
from .action_stats import ActionStats, _action_stats, action_stats_of, compute_action_stats  # noqa: F401
from .episode_file import (FORMAT_VERSION, REQUIRED_KEYS, DataError, _check_disjoint, _episode_index,  # noqa: F401
                           _format_version, _str_attr, h5_dataset, load_episode, open_h5, validate_file)


class WindowDataset(torch.utils.data.Dataset):
    """Windows of ``history + 1`` frames and ``history`` frameskip-blocked action blocks.

    Items: ``pixels`` uint8 (T, 3, S, S), ``actions`` float32 (T-1, frameskip*A) z-scored,
    ``state`` float32 (T, Q) when the file has one, ``index`` the window's first row.
    Small files (< ``max_ram_bytes`` of pixels) are read into RAM once; larger ones are streamed
    with chunked HDF5 reads (each worker opens its own handle).
    """

    def __init__(self, path: str, history: int, frameskip: int, split: str | None = None,
                 val_fraction: float = 0.05, seed: int = 0, image_size: int | None = None,
                 action_stats: ActionStats | None = None, max_ram_bytes: int = 3 << 30,
                 episodes: np.ndarray | None = None, share: "WindowDataset | None" = None):
        """``share``: another split of the same file whose validation, action statistics and
        in-RAM arrays are reused (nothing is read again). ``split``: 'train' (the default), 'val' or 'all';
        ``episodes`` (explicit episode indices) chooses the windows instead (then leave ``split`` out)."""
        for name, v in (("history", history), ("frameskip", frameskip)):  # True was taken as 1
            _whole("WindowDataset", name, v, 1)
        _whole("WindowDataset", "seed", seed, 0)  # was numpy's "expected non-negative integer"
        split = split_of(split, episodes)
        val_fraction = fraction("WindowDataset", "val_fraction", val_fraction)
        byte_limit("WindowDataset", "max_ram_bytes", max_ram_bytes)
        if share is not None:  # was an AttributeError on share=5, another file's windows under this path
            if not isinstance(share, WindowDataset):
                raise TypeError(f"WindowDataset: share must be a WindowDataset of the same file, or None, "
                                f"got {type(share).__name__}")
            shared_path(path, share)
            if image_size is not None:
                _whole("WindowDataset", "image_size", image_size, 8)
                if share.info["image_size"] != image_size:
                    raise DataError(f"{path}: images are {share.info['image_size']}x{share.info['image_size']} "
                                    f"but image_size is {image_size} (key 'pixels')")
        self.path, self.history, self.frameskip = path, history, frameskip
        info = share.info if share is not None else validate_file(path, image_size)
        if action_stats is not None:  # a wrong width was a broadcast error at the first batch
            if not isinstance(action_stats, ActionStats):
                raise TypeError(f"WindowDataset: action_stats must be an ActionStats, got {type(action_stats).__name__}")
            if action_stats.mean.shape != (info["action_dim"],):
                raise ValueError(f"WindowDataset: action_stats has {action_stats.mean.size} dimensions but {path} "
                                 f"has {info['action_dim']}-dim actions (key 'action')")
        self.info = info
        self.env = info["env"]
        self.image_size, self.action_dim = info["image_size"], info["action_dim"]
        self.state_names = info["state_names"]
        ep_len, ep_off = info["ep_len"], info["ep_offset"]
        self.span = history * frameskip  # raw steps from the first to the last frame of a window
        if share is not None:
            self.action_stats = action_stats or share.action_stats
        else:
            stats, _, n_odd = _action_stats(path, ep_len, ep_off, 1 << 20)  # also rejects NaN inside episodes
            if n_odd and action_stats is None:  # an all-NaN last row is the layout's convention: no word
                warnings.warn(f"{path}: zeroed {n_odd} action rows at episode ends holding inf or some NaN (key "
                              f"'action'; the layout leaves an episode's last row all NaN)")
            self.action_stats = action_stats or stats

        # Split by episode, deterministically.
        E = len(ep_len)
        if episodes is None:
            perm = np.random.default_rng(seed).permutation(E)
            n_val = int(round(val_fraction * E)) if E > 1 else 0
            n_val = min(max(n_val, 1 if val_fraction > 0 and E > 1 else 0), E - 1)
            episodes = {"train": perm[n_val:], "val": perm[:n_val], "all": np.arange(E)}[split]
        else:
            episodes = _episode_list(path, episodes, E)
        self.episodes = np.sort(np.asarray(episodes, dtype=np.int64))
        usable = ep_len[self.episodes] > self.span
        if not usable.all() and (usable.any() or split == "val"):  # none: the error below says it alone
            warnings.warn(f"{path}: skipped {int((~usable).sum())} episode(s) shorter than one window "
                          f"({self.span + 1} frames = history {history} x frameskip {frameskip} + 1; key 'ep_len')")
        self.episodes = self.episodes[usable]
        if len(self.episodes) == 0 and split != "val":
            raise DataError(f"{path}: no episode is long enough for one window of {self.span + 1} frames "
                            f"(key 'ep_len', longest {int(ep_len.max())}); lower history/frameskip")
        starts = [ep_off[e] + np.arange(ep_len[e] - self.span) for e in self.episodes]
        self.starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)  # (W,)
        self._f = None
        self._ram: dict[str, np.ndarray] | None = share._ram if share is not None else None
        if share is None and info["pixel_bytes"] <= max_ram_bytes:
            self._load_ram()
        # a streamed file: which file it is, checked at every read (round 28, W3: lewm/_held_file.py)
        self._ident = None if self._ram is not None else share._ident if share is not None else identity(path)

    # -- storage -------------------------------------------------------------------------------
    def _load_ram(self):
        with open_h5(self.path) as f:
            self._ram = {"pixels": f["pixels"][:], "action": np.nan_to_num(f["action"][:].astype(np.float32))}
            if "state" in f:
                self._ram["state"] = f["state"][:].astype(np.float32)

    @property
    def in_memory(self) -> bool:
        return self._ram is not None

    def _file(self):
        if self._f is None:
            check_path(self.path, self._ident)
            self._f = open_h5(self.path)
            check_handle(self.path, self._f, self._ident, reopened=True)
        else:
            check_handle(self.path, self._f, self._ident, reopened=False)
        return self._f

    def hold(self, other: "WindowDataset | None" = None) -> "WindowDataset":
        """A streamed dataset: open its file now, or take ``other``'s handle (a split of the same file), for a
        training that reads it to its end (a file deleted or renamed away meanwhile is still the one it reads)."""
        if self._ram is None:
            self._f = other._file() if other is not None else self._file()
        return self

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_f"] = None
        return d

    # -- items -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.starts)

    def _read(self, key: str, rows: np.ndarray) -> np.ndarray:
        if self._ram is not None:
            return self._ram[key][rows]
        lo, hi = int(rows.min()), int(rows.max()) + 1
        block = self._file()[key][lo:hi]
        return block[rows - lo]

    def get_batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """Vectorised gather of windows ``idx`` (B,) -> batch dict (fast path for in-RAM data)."""
        idx = window_indices(idx, len(self.starts))
        s = self.starts[idx]  # (B,)
        k, H = self.frameskip, self.history
        frame_rows = s[:, None] + k * np.arange(H + 1)  # (B, T)
        act_rows = s[:, None] + np.arange(H * k)  # (B, H*k)
        if self._ram is not None:
            px = self._ram["pixels"][frame_rows]  # (B, T, S, S, 3)
            a = self._ram["action"][act_rows]  # (B, H*k, A)
            st = self._ram["state"][frame_rows] if "state" in self._ram else None
        elif len(idx):
            items = [self[i] for i in idx]
            return {key: torch.stack([it[key] for it in items]) for key in items[0]}
        else:  # streaming, no window: the in-RAM path's empty batch (was an IndexError on items[0])
            S, f = self.image_size, self._file()
            px, a = np.zeros((0, H + 1, S, S, 3), np.uint8), np.zeros((0, H * k, self.action_dim), np.float32)
            st = np.zeros((0, H + 1, f["state"].shape[1]), np.float32) if "state" in f else None
        a = self.action_stats.normalize(a).astype(np.float32).reshape(len(s), H, k * self.action_dim)
        out = {"pixels": torch.from_numpy(np.ascontiguousarray(px.transpose(0, 1, 4, 2, 3))),
               "actions": torch.from_numpy(a), "index": torch.from_numpy(s)}
        if st is not None:
            out["state"] = torch.from_numpy(st)
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = _index(i)  # 1.5 was numpy's "only integers, slices ... are valid indices"
        s = int(self.starts[i])
        k, H = self.frameskip, self.history
        if self._ram is not None:
            b = self.get_batch(np.array([i]))
            return {key: v[0] for key, v in b.items()}
        f = self._file()
        px = f["pixels"][s:s + H * k + 1][::k]  # (T, S, S, 3): a contiguous read is ~10x faster than a strided one
        a = np.nan_to_num(f["action"][s:s + H * k].astype(np.float32))  # (H*k, A)
        st = f["state"][s:s + H * k + 1][::k].astype(np.float32) if "state" in f else None  # (T, Q)
        if bad := short_read(self.path, s, {"pixels": (px, H + 1), "action": (a, H * k), "state": (st, H + 1)}):
            raise DataError(bad)
        a = self.action_stats.normalize(a).astype(np.float32).reshape(H, k * self.action_dim)
        out = {"pixels": torch.from_numpy(np.ascontiguousarray(px.transpose(0, 3, 1, 2))),
               "actions": torch.from_numpy(a), "index": torch.tensor(s)}
        if st is not None:
            out["state"] = torch.from_numpy(st)
        return out


def batch_iterator(ds: WindowDataset, batch_size: int, generator: torch.Generator, num_workers: int = 0):
    """Endless stream of random batches; vectorised in RAM, a DataLoader when streaming. (A generator:
    its arguments are checked at the first batch, as the emptiness of ``ds`` always was.)"""
    if not isinstance(ds, WindowDataset):  # a list was an AttributeError on 'in_memory'
        raise TypeError(f"batch_iterator: ds must be a WindowDataset, got {type(ds).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"batch_iterator: generator must be a torch.Generator (or None), got {type(generator).__name__}")
    _whole("batch_iterator", "batch_size", batch_size, 1)  # 0 gave empty batches, -3 a torch RuntimeError
    _whole("batch_iterator", "num_workers", num_workers, 0)
    if len(ds) == 0:
        raise DataError(f"{ds.path}: the split holds no window")
    batch_fits(batch_size, len(ds), ds.path)  # was: 10**6 windows gathered of 90 (looked like a hang)
    if ds.in_memory:
        while True:
            idx = torch.randint(len(ds), (batch_size,), generator=generator).numpy()
            yield ds.get_batch(idx)
    from ._train_loop_faults import streaming_batches
    sampler = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=1 << 31, generator=generator)
    yield from streaming_batches(ds, batch_size, sampler, num_workers)  # ulimit -n, killed or stuck workers
