"""Windowed dataset over an HDF5 episode file (DESIGN §5 layout).

File layout (the field's tools use the same): flat datasets with every episode concatenated on
axis 0 — ``pixels`` (N, S, S, 3) uint8, ``action`` (N, A) float, optional ``state`` (N, Q) —
plus ``ep_len`` (E,) and ``ep_offset`` (E,). Row i of ``action`` is applied after frame i; the
last row of an episode is NaN by convention (zeroed here, without a word; a last row with ±inf or only
some NaN is zeroed with a warning, NaN inside an episode refused).

A window = ``history + 1`` frames taken every ``frameskip`` raw steps, and ``history`` action
blocks (the ``frameskip`` raw actions between two kept frames, concatenated, z-scored).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ._data_checks import action_columns, action_stats_arrays, attr_mismatch, batch_fits, byte_limit, duplicate_name, episode_spans, fraction
from ._data_checks import episode_list as _episode_list
from ._data_checks import h5_path, shared_path, short_read, split_of, whole_at_least as _whole, window_indices
from ._data_checks import index as _index
from ._foreign_data import missing_keys_message, pixels_problem, storage_problem, unreadable_h5
from .env_names import env_key
from .paths import why_missing

REQUIRED_KEYS = ("pixels", "action", "ep_len", "ep_offset")


class DataError(ValueError):
    """A dataset file is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class ActionStats:
    mean: np.ndarray
    """(A,) per-dimension mean of the valid raw actions."""
    std: np.ndarray
    """(A,) per-dimension std (floored at 1e-6)."""

    def __post_init__(self):
        # was: std 0 z-scored every action to -inf/NaN, a wrong width a broadcast error at the first batch
        mean, std = action_stats_arrays(self.mean, self.std)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def normalize(self, a: np.ndarray) -> np.ndarray:
        action_columns("normalize", a, self.mean.size)
        return (a - self.mean) / self.std

    def denormalize(self, a):
        action_columns("denormalize", a, self.mean.size)
        if isinstance(a, torch.Tensor):
            return a * torch.as_tensor(self.std, dtype=a.dtype, device=a.device) + \
                torch.as_tensor(self.mean, dtype=a.dtype, device=a.device)
        return a * self.std + self.mean


def open_h5(path: str):
    """Open an HDF5 file for reading; a missing or unreadable file raises DataError naming it."""
    import h5py
    path = h5_path(path)
    if os.path.isdir(path):  # h5py's message for a folder is errno 21 spread over several lines
        raise DataError(f"{path}: is a folder, expected an HDF5 episode file (.h5) inside it")
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe blocks h5py for ever; a device is no dataset
        raise DataError(f"{path}: is a device or pipe, not a regular file; expected an HDF5 episode file (.h5)")
    if not os.path.exists(path) and os.path.lexists(path):  # a link loop was h5py's errno-40 line
        raise DataError(f"{path}: {why_missing(path)}")
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: {why_missing(path).replace('no such file', 'no such dataset file', 1)}") from None
    except OSError as e:  # a writer's lock or mark; an empty, cut-short or foreign file: said what it is
        raise DataError(unreadable_h5(path, e)) from None


def h5_dataset(path: str, f, key: str):
    """``f[key]`` as an HDF5 dataset, or a DataError naming the key: a group there (another tool's
    nesting) was an AttributeError, a dangling or external link h5py's 'component not found'."""
    import h5py
    try:
        obj = f[key]
    except (KeyError, OSError) as e:
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DataError(f"{path}: key {key!r} cannot be opened (a broken or external link?): {msg}") from None
    if not isinstance(obj, h5py.Dataset):
        raise DataError(f"{path}: key {key!r} is an HDF5 {type(obj).__name__.lower()}, expected a dataset "
                        f"(an array) at the top of the file")
    return obj


def _episode_index(path: str, ds, key: str) -> np.ndarray:
    """``ep_len`` / ``ep_offset`` as int64: a 1-D array of whole numbers, or a DataError naming the key."""
    if ds.ndim != 1 or ds.dtype.kind not in "iu":
        raise DataError(f"{path}: key {key!r} must be a 1-D array of whole numbers (one per episode), "
                        f"got {ds.dtype} {ds.shape}")
    raw = ds[:]
    if raw.size and raw.dtype.kind == "u" and int(raw.max()) > np.iinfo(np.int64).max:  # would wrap negative
        raise DataError(f"{path}: key {key!r} holds {int(raw.max())}, more rows than any file has")
    return np.asarray(raw, dtype=np.int64)


def _check_disjoint(path: str, ep_off: np.ndarray, ep_len: np.ndarray) -> None:
    """Episodes may come in any order but must not share rows (else a window mixes two episodes)."""
    order = np.argsort(ep_off, kind="stable")
    ends, starts = (ep_off + ep_len)[order][:-1], ep_off[order][1:]
    clash = np.flatnonzero(ends > starts)
    if clash.size:
        a, b = int(order[clash[0]]), int(order[clash[0] + 1])
        raise DataError(f"{path}: episodes {a} and {b} overlap (keys 'ep_offset'/'ep_len': rows "
                        f"{int(ep_off[a])}..{int(ep_off[a] + ep_len[a]) - 1} and {int(ep_off[b])}..); "
                        f"every row must belong to one episode at most")


FORMAT_VERSION = 1
"""The episode-file layout ``collect`` writes (attribute ``lewm_format_version``); a newer one is refused."""


def _format_version(path: str, f) -> int | None:
    """The ``lewm_format_version`` attribute of a file this lab's ``collect`` wrote (None: another
    tool's file). A newer version than this code writes is refused (it was never read)."""
    raw = f.attrs.get("lewm_format_version")
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.shape in ((), (1,)):
        raw = raw.reshape(-1)[0]
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, np.integer)) or raw < 1:
        raise DataError(f"{path}: attribute 'lewm_format_version' must be a whole number >= 1, got {raw!r:.60}")
    if raw > FORMAT_VERSION:
        raise DataError(f"{path}: written in episode-file format {int(raw)} (attribute 'lewm_format_version') but "
                        f"this lewm reads format {FORMAT_VERSION} at most; update lewm, or re-collect the file")
    return int(raw)


def validate_file(path: str, image_size: int | None = None) -> dict:
    """Check the layout; return basic facts. Raises DataError naming the file and key.

    Files written by ``python -m lewm collect`` (attribute ``lewm_format_version``) are also checked
    for a format newer than this code (``eval`` checks their states against the world:
    ``lewm.evaluate.check_world_states``)."""
    if image_size is not None:  # 0 suggested "collect at --image-size 0"
        _whole("validate_file", "image_size", image_size, 8)
    with open_h5(path) as f:
        missing = [k for k in REQUIRED_KEYS if k not in f]
        if missing:  # the file's near match named ('Pixels', 'actions'), the episode index explained
            raise DataError(missing_keys_message(path, list(f), missing, REQUIRED_KEYS))
        px, act = h5_dataset(path, f, "pixels"), h5_dataset(path, f, "action")
        if bad := storage_problem(path, f, (*REQUIRED_KEYS, "state", "goal_state")):  # a filter not installed, a lost VDS source
            raise DataError(bad)
        if bad := pixels_problem(path, px.dtype, px.shape):  # float, channels-first, grey ...: how to convert
            raise DataError(bad)
        if px.shape[1] != px.shape[2]:
            raise DataError(f"{path}: key 'pixels' must hold square images, got {px.shape[1]}x{px.shape[2]}")
        if act.ndim != 2 or act.dtype.kind not in "fiu":  # integers are exact as float32: accepted (round 25)
            raise DataError(f"{path}: key 'action' must be numbers (N, A), got {act.dtype} {act.shape}")
        if act.shape[1] < 1:  # trained until model.action_dim refused 0, after the statistics
            raise DataError(f"{path}: key 'action' has no column {act.shape}; expected (N, A) with A >= 1 "
                            f"action dimensions")
        if act.shape[0] != px.shape[0]:
            raise DataError(f"{path}: key 'action' has {act.shape[0]} rows but 'pixels' has {px.shape[0]}")
        ep_len = _episode_index(path, h5_dataset(path, f, "ep_len"), "ep_len")
        ep_off = _episode_index(path, h5_dataset(path, f, "ep_offset"), "ep_offset")
        if ep_len.shape != ep_off.shape:
            raise DataError(f"{path}: 'ep_len' {ep_len.shape} and 'ep_offset' {ep_off.shape} differ")
        if len(ep_len) == 0:
            raise DataError(f"{path}: 'ep_len' is empty: the file holds no episode")
        if ep_len.min() < 1:
            e = int(np.argmin(ep_len))
            raise DataError(f"{path}: 'ep_len' of episode {e} is {int(ep_len[e])}; every episode needs >= 1 frame")
        if (ep_off + ep_len).max() > px.shape[0] or ep_off.min() < 0:
            raise DataError(f"{path}: 'ep_offset'/'ep_len' point past the {px.shape[0]} rows of 'pixels'")
        _check_disjoint(path, ep_off, ep_len)
        state = h5_dataset(path, f, "state") if "state" in f else None
        q_state = [("state_dim", int(state.shape[1]), "the width of key 'state'")] \
            if state is not None and state.ndim == 2 else []
        bad = attr_mismatch(path, f.attrs, [("image_size", int(px.shape[1]), "the image side of key 'pixels'"),
                                                 ("action_dim", int(act.shape[1]), "the width of key 'action'"), *q_state])
        if bad:
            raise DataError(bad)
        if image_size is not None and px.shape[1] != image_size:
            raise DataError(f"{path}: images are {px.shape[1]}x{px.shape[1]} but the model expects "
                            f"{image_size}x{image_size} (key 'pixels'); collect at --image-size {image_size}")
        if state is not None and state.dtype.kind not in "iuf":  # complex lost its imaginary part silently
            raise DataError(f"{path}: key 'state' must hold real numbers (int or float), got {state.dtype}")
        version = _format_version(path, f)
        names = _str_attr(path, "state_names", f.attrs.get("state_names"), "x,y")
        n_names = len([n for n in names.split(",") if n])
        if dup := duplicate_name(path, names):
            raise DataError(dup)
        if state is not None and state.ndim == 2 and n_names and n_names != state.shape[1]:
            # the report's probes failed after encoding ("3 state_names for 2 state columns")
            raise DataError(f"{path}: attribute 'state_names' names {n_names} components ({names!r}) but key "
                            f"'state' has {state.shape[1]} columns; fix the attribute (comma-separated)")
        goal = h5_dataset(path, f, "goal_state") if "goal_state" in f else None
        if goal is not None:  # was never checked: load_episode returned 5 numbers for a 2-D env
            q = state.shape[1] if state is not None and state.ndim == 2 else None
            if goal.ndim != 2 or goal.shape[0] != len(ep_len) or (q is not None and goal.shape[1] != q) \
                    or goal.dtype.kind not in "iuf":
                want = f"({len(ep_len)}, {q if q is not None else 'Q'})"
                raise DataError(f"{path}: key 'goal_state' must be real numbers {want}: one goal state per episode "
                                f"as wide as 'state', got {goal.dtype} {goal.shape}")
        env = _str_attr(path, "env", f.attrs.get("env"), "two_room")
        return {
            "num_frames": int(px.shape[0]), "image_size": int(px.shape[1]), "action_dim": int(act.shape[1]),
            "num_episodes": int(len(ep_len)), "ep_len": ep_len, "ep_offset": ep_off,
            "env": env_key(env) if env.strip() else "", "has_state": state is not None,
            "state_names": tuple(n for n in names.split(",") if n),
            "pixel_bytes": int(np.prod(px.shape)), "format_version": version,
        }


def _str_attr(path: str, name: str, raw, example: str) -> str:
    """A text attribute ('' when absent). Another tool's fixed-length string (bytes) is decoded;
    anything else is an error, not the name "b'two_room'" or "5"."""
    if raw is None:
        return ""
    if isinstance(raw, np.ndarray) and raw.shape in ((), (1,)):
        raw = raw.reshape(-1)[0] if raw.shape else raw[()]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = None
    if not isinstance(raw, str):
        raise DataError(f"{path}: attribute {name!r} must be a string, got {raw!r:.60}; "
                        f"set it, e.g. f.attrs[{name!r}] = {example!r}")
    return raw


def _episode_rows(n: int, ep_off: np.ndarray, ep_len: np.ndarray) -> np.ndarray:
    """(n,) bool: the rows that belong to an episode (a difference array: no loop over episodes)."""
    d = np.zeros(n + 1, dtype=np.int64)
    np.add.at(d, ep_off, 1)
    np.add.at(d, ep_off + ep_len, -1)
    return np.cumsum(d)[:n] > 0


def compute_action_stats(path: str, ep_len: np.ndarray, ep_off: np.ndarray, chunk: int = 1 << 20) -> tuple[ActionStats, int]:
    """Mean/std of valid actions, chunked. NaN rows at episode ends are skipped; NaN rows inside
    an episode raise DataError naming the row. Returns (stats, number of boundary NaN rows)."""
    stats, n_end, _ = _action_stats(path, ep_len, ep_off, chunk)
    return stats, n_end


def _action_stats(path: str, ep_len, ep_off, chunk: int) -> tuple[ActionStats, int, int]:
    """``compute_action_stats`` and, third, how many of the skipped episode-end rows are not the layout's own
    convention (an all-NaN last row, what ``collect`` writes): a last row with ±inf or only some NaN."""
    _whole("compute_action_stats", "chunk", chunk, 1)  # 0 was range()'s error, -5 read no row (std 1e-6)
    with open_h5(path) as f:
        act = h5_dataset(path, f, "action")
        n, A = act.shape
        ep_len, ep_off, problem = episode_spans(path, ep_len, ep_off, n)
        if problem:
            raise DataError(problem)
        last_rows = np.zeros(n, dtype=bool)
        last_rows[ep_off + ep_len - 1] = True
        in_ep = _episode_rows(n, ep_off, ep_len)  # rows of no episode are never read: not checked, not counted
        s, ss, cnt, boundary_nans, odd = np.zeros(A), np.zeros(A), 0, 0, 0
        for lo in range(0, n, chunk):
            a = np.asarray(act[lo:lo + chunk], dtype=np.float64)  # (c, A)
            used = in_ep[lo:lo + len(a)]
            bad = ~np.isfinite(a).all(axis=1) & used
            inner = bad & ~last_rows[lo:lo + len(a)]
            if inner.any():
                row = lo + int(np.flatnonzero(inner)[0])
                raise DataError(f"{path}: key 'action' has NaN/inf at row {row}, inside an episode "
                                f"(only the last row of an episode may be NaN)")
            boundary_nans += int(bad.sum())
            odd += int((bad & ~np.isnan(a).all(axis=1)).sum())  # not the convention's all-NaN row
            good = a[~bad & used]
            s += good.sum(0)
            ss += (good**2).sum(0)
            cnt += len(good)
    mean = s / max(cnt, 1)
    std = np.sqrt(np.maximum(ss / max(cnt, 1) - mean**2, 0.0))
    return ActionStats(mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)), boundary_nans, odd


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
            self._f = open_h5(self.path)
        return self._f

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


def load_episode(path: str, episode: int) -> dict[str, np.ndarray]:
    """One whole episode: pixels (L, S, S, 3) uint8, action (L, A) (NaN zeroed), and when the file
    has them its state (L, Q) and the episode's goal_state (Q,) (what the env drew as the target)."""
    if isinstance(episode, (bool, np.bool_)) or not isinstance(episode, (int, np.integer)):
        # 1.5 and '1' were h5py / comparison errors, True episode 1
        raise TypeError(f"load_episode: episode must be a whole number (an episode index), got {episode!r:.40}")
    with open_h5(path) as f:
        if bad := storage_problem(path, f, ("pixels", "action", "state", "goal_state")):  # was h5py's plugin-path line
            raise DataError(bad)
        E = len(f["ep_len"])
        if not 0 <= episode < E:
            raise DataError(f"{path}: episode {episode} out of range (file has {E}; key 'ep_len')")
        off, n = int(f["ep_offset"][episode]), int(f["ep_len"][episode])
        out = {"pixels": f["pixels"][off:off + n], "action": np.nan_to_num(f["action"][off:off + n].astype(np.float32))}
        if "state" in f:
            out["state"] = f["state"][off:off + n].astype(np.float32)
        if "goal_state" in f:
            goal = f["goal_state"]
            if goal.ndim != 2 or len(goal) != E or ("state" in f and goal.shape[1] != out["state"].shape[-1]):
                raise DataError(f"{path}: key 'goal_state' must be ({E}, Q): one goal per episode as wide as "
                                f"'state', got {goal.shape}")
            out["goal_state"] = goal[int(episode)].astype(np.float32)
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
    from ._train_loop_faults import check_worker_fds
    check_worker_fds(num_workers)  # was: a hang under a small ulimit -n
    sampler = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=1 << 31, generator=generator)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                                         pin_memory=torch.cuda.is_available(), drop_last=True,
                                         persistent_workers=num_workers > 0)
    yield from loader


def action_stats_of(cfg) -> ActionStats:
    """The action normalisation a checkpoint was trained with (from its ``LeWMConfig``)."""
    if not hasattr(getattr(cfg, "model", None), "action_dim"):  # None was AttributeError: no attribute 'model'
        raise TypeError(f"action_stats_of(cfg=...) must be a LeWMConfig (lewm.config.get_preset(...) or a "
                        f"checkpoint's), got {type(cfg).__name__}")
    A = cfg.model.action_dim
    mean = np.asarray(cfg.action_mean or [0.0] * A, dtype=np.float32)
    std = np.asarray(cfg.action_std or [1.0] * A, dtype=np.float32)
    return ActionStats(mean, std)
