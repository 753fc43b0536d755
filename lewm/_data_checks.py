"""Checks of :mod:`lewm.data` that do not fit in it: HDF5 attributes that must agree with the data,
and the arguments of ``WindowDataset`` / ``batch_iterator``. Each returns nothing or raises; the
ones on a file return the message (``lewm.data`` raises it as its ``DataError``), so this module
imports nothing of the lab (``lewm.data`` <- ``lewm.validate`` would be a cycle)."""
from __future__ import annotations

import numbers
import operator
import os

import numpy as np


def _attr_value(raw):
    """A scalar attribute as itself (a 1-element array unwrapped)."""
    if isinstance(raw, np.ndarray) and raw.shape in ((), (1,)):
        return raw.reshape(-1)[0]
    return raw


def attr_mismatch(path: str, attrs, facts) -> str | None:
    """The first attribute of ``attrs`` that contradicts the data, as a one-line message, or None.

    ``facts``: ``(attribute, the data's value, where the data says so)`` for whole-number attributes
    (``image_size``, ``action_dim``, ``state_dim``); absent attributes are fine (another tool's file).
    Was: ``image_size`` 64 on 32-px pixels, ``'32'`` (a string) or ``action_dim`` 5 on 2-dim actions
    were ignored without a word."""
    for name, actual, where in facts:
        raw = attrs.get(name)
        if raw is None:
            continue
        v = _attr_value(raw)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
            return (f"{path}: attribute {name!r} must be a whole number ({where}: {actual}), got {v!r:.60}; "
                    f"fix it, e.g. f.attrs[{name!r}] = {actual}")
        if int(v) != actual:
            return (f"{path}: attribute {name!r} is {int(v)} but {where} is {actual}; the attribute contradicts "
                    f"the data: fix it (f.attrs[{name!r}] = {actual}) or re-collect the file")
    return None


def duplicate_name(path: str, names: str) -> str | None:
    """A message when the comma-separated ``state_names`` repeat a name (probe and chart labels collided)."""
    seen: set[str] = set()
    for n in (n.strip() for n in names.split(",") if n):
        if n in seen:
            return (f"{path}: attribute 'state_names' names {n!r} twice ({names!r:.80}); every state component "
                    f"needs its own name (comma-separated)")
        seen.add(n)
    return None


def fraction(who: str, name: str, v) -> float:
    """A number in [0, 1) ('0.1', a string, was a comparison TypeError)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number in [0, 1), got {v!r:.60}")
    if not 0.0 <= float(v) < 1.0:
        raise ValueError(f"{who}: {name} must be in [0, 1), got {v!r}")
    return float(v)


def byte_limit(who: str, name: str, v) -> None:
    """A number of bytes >= 0 (-5 was taken as "stream everything")."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number of bytes >= 0, got {v!r:.60}")
    if not v >= 0:  # NaN too
        raise ValueError(f"{who}: {name} must be a number of bytes >= 0, got {v!r}")


def same_file(a: str, b: str) -> bool:
    """Two paths of one file (the same path spelt differently, or a link)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)


def shared_path(path, share) -> None:
    """``WindowDataset(share=...)``: a dataset of the same file (another file's windows were returned
    under this path's name, even for a file that does not exist)."""
    if not same_file(os.fspath(path), os.fspath(share.path)):
        raise ValueError(f"WindowDataset: share is a dataset of {share.path}, not of {path}; share only a split "
                         f"of the same file (or pass share=None to read {path})")


def batch_fits(batch_size: int, windows: int, path) -> None:
    """A batch draws windows with replacement: one larger than all the windows is the same few repeated,
    gigabytes for nothing (``batch_iterator(ds, 10**6, g)`` on 90 windows looked like a hang). The same
    bar as ``lewm.validate.check_batch_fits`` (the CLI's), worded for the API."""
    if batch_size > windows:
        raise ValueError(f"batch_iterator: batch_size {batch_size} is larger than the {windows} windows of {path}; "
                         f"pass at most {windows} or use more data")


def index(i) -> int:
    """``WindowDataset[i]``: one window index (an int, a numpy or 0-d torch integer; not True, not 1.5)."""
    try:
        if isinstance(i, (bool, np.bool_)):
            raise TypeError
        return operator.index(i)
    except TypeError:
        raise TypeError(f"WindowDataset[i]: i must be a whole number (a window index), got {i!r:.40}") from None


def h5_path(value) -> str | bytes:
    """``open_h5(path=...)``: a file name (str, bytes or os.PathLike); None was os.stat's "path should be
    string, bytes, os.PathLike or integer"."""
    value = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(value, (str, bytes)) or not value:
        raise TypeError(f"open_h5(path=...) must be a file name (a string or os.PathLike) of an HDF5 episode file, "
                        f"got {value!r:.60}")
    return value


def episode_spans(path, ep_len, ep_off, rows: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``compute_action_stats``' ``ep_len`` / ``ep_offset`` as int64 arrays and the first problem (None: fine):
    an episode past the ``rows`` of the file was an IndexError deep in the statistics."""
    try:
        ln, off = np.asarray(ep_len), np.asarray(ep_off)
    except (TypeError, ValueError):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), f"{path}: ep_len / ep_offset must be arrays of whole numbers"
    if ln.ndim != 1 or off.shape != ln.shape or (ln.size and (ln.dtype.kind not in "iu" or off.dtype.kind not in "iu")):
        return ln, off, (f"{path}: ep_len and ep_offset must be two 1-D arrays of whole numbers of one length, got "
                         f"{ln.dtype} {ln.shape} and {off.dtype} {off.shape}")
    ln, off = ln.astype(np.int64), off.astype(np.int64)
    bad = np.flatnonzero((ln < 1) | (off < 0) | (off + ln > rows))
    if bad.size:
        e = int(bad[0])
        if ln[e] < 1 or off[e] < 0:
            return ln, off, (f"{path}: episode {e} has offset {int(off[e])}, length {int(ln[e])}; expected offset "
                             f">= 0 and length >= 1 (keys 'ep_offset' / 'ep_len')")
        return ln, off, (f"{path}: episode {e} (offset {int(off[e])}, length {int(ln[e])}) runs past the {rows} rows "
                         f"of key 'action'")
    return ln, off, None


def window_indices(idx, windows: int) -> np.ndarray:
    """``WindowDataset.get_batch(idx)``: a 1-D array of whole window indices in 0..windows-1 (0.5 was numpy's
    "arrays used as indices must be of integer (or boolean) type")."""
    a = np.asarray(idx)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise TypeError(f"WindowDataset.get_batch(idx=...) must be a 1-D array of whole window indices, "
                        f"got {a.dtype} {a.shape}")
    if a.size and (int(a.min()) < -windows or int(a.max()) >= windows):
        bad = int(a.min()) if int(a.min()) < -windows else int(a.max())
        raise IndexError(f"WindowDataset.get_batch: window {bad} out of range (the split has {windows} windows)")
    return a


def action_columns(who: str, a, dim: int) -> None:
    """``ActionStats.normalize`` / ``denormalize``: actions with one column per statistic (was numpy's
    "operands could not be broadcast together")."""
    shape = tuple(getattr(a, "shape", np.shape(a)))
    if not shape or shape[-1] != dim:
        raise ValueError(f"ActionStats.{who}: actions have {shape[-1] if shape else 0} columns (shape {shape}), "
                         f"the stats {dim} (one mean/std per action dimension)")


def whole_at_least(who: str, name: str, v, lo: int) -> int:
    """``v`` as an int >= ``lo``, or one ValueError naming it (True was taken as 1, 1.5 and '1' were
    h5py's "Selection can't process 1.5" or a comparison TypeError)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{who}: {name} must be a whole number >= {lo}, got {v!r}")
    return int(v)


def episode_list(path: str, episodes, E: int) -> np.ndarray:
    """Explicit episode indices: 1-D whole numbers in 0..E-1, each once, at least one (an index past
    the end was an IndexError, -1 silently the last episode, [0, 0] counted its windows twice)."""
    e = np.asarray(episodes)
    if e.ndim != 1 or (e.size and e.dtype.kind not in "iu"):
        raise ValueError(f"WindowDataset: episodes must be a 1-D list of episode indices (whole numbers), "
                         f"got {e.dtype} {e.shape}")
    if e.size == 0:
        raise ValueError(f"WindowDataset: episodes is empty; pass indices in 0..{E - 1} (or None for the split)")
    bad = e[(e < 0) | (e >= E)]
    if bad.size:
        raise ValueError(f"WindowDataset: episode {int(bad[0])} is not in {path} (episodes 0..{E - 1}; key 'ep_len')")
    if len(np.unique(e)) != len(e):
        vals, counts = np.unique(e, return_counts=True)
        raise ValueError(f"WindowDataset: episode {int(vals[counts > 1][0])} is listed more than once in episodes "
                         f"(its windows would count twice)")
    return e.astype(np.int64)


ACTION_STD_RANGE = (1e-7, 1e6)
"""The action spreads a config / ``ActionStats`` accept: 1e-30 / 1e30 planned actions of 0 or of the box's corners
(0 % without a word), a mean of 1e30 NaN costs blamed on the model. Any real action scale fits (a constant action's
std is 1e-6 in float32)."""


def action_scale_problem(mean, std) -> str | None:
    """The message for an action mean / std (sequences of finite numbers, std > 0) outside the range the z-scoring
    can use, or None. The one bar of ``lewm.validate.check_action_stats`` (the config) and ``ActionStats``."""
    lo, hi = ACTION_STD_RANGE
    std, mean = [float(v) for v in std], [float(v) for v in mean]
    if std and not all(lo <= v <= hi for v in std):
        return (f"action_std must be in [{lo:g}, {hi:g}] in every dimension (the spread of the training "
                f"data's actions; outside it planned actions z-score to nothing or to infinity), got {std}")
    if mean and max(abs(v) for v in mean) > hi:
        return (f"action_mean must be within +-{hi:g} in every dimension (the mean of the training "
                f"data's actions; beyond it the planner's float32 actions overflow), got {mean}")
    return None


def action_stats_arrays(mean, std) -> tuple[np.ndarray, np.ndarray]:
    """``ActionStats(mean, std)``: two 1-D arrays of one finite value per action dimension, std > 0 and within the
    config's bounds (``action_scale_problem``; was: std 1e-30 accepted, actions x 1e30) -> the two arrays."""
    mean, std = np.asarray(mean), np.asarray(std)
    if mean.ndim != 1 or mean.shape != std.shape or mean.size < 1:
        raise ValueError(f"ActionStats: mean and std must be two 1-D arrays of one value per action "
                         f"dimension, got shapes {mean.shape} and {std.shape}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"ActionStats: mean must be finite and std finite and > 0, got mean "
                         f"{mean.tolist()} std {std.tolist()}")
    if bad := action_scale_problem(mean.tolist(), std.tolist()):
        raise ValueError(f"ActionStats: {bad}")
    return mean, std


def split_of(split, episodes) -> str:
    """``WindowDataset(split=..., episodes=...)``: the split to use ('train' when neither is given). ``episodes``
    chooses the windows itself, so a split of 'train' or 'val' beside it is refused (was: ignored without a
    word: the windows of episodes 0 and 1 were returned as split='val')."""
    if episodes is not None and split not in (None, "all"):
        raise ValueError(f"WindowDataset: pass split or episodes, not both (episodes chooses the windows; split="
                         f"{split!r} would be ignored); leave split out (or 'all') when giving episodes")
    split = "train" if split is None else split
    if split not in ("train", "val", "all"):
        raise ValueError(f"WindowDataset: split must be 'train', 'val' or 'all', got {split!r}")
    return split


def short_read(path, start: int, reads: dict) -> str | None:
    """A streamed window's reads ``{key: (array or None, rows needed)}`` from row ``start``: the message naming the
    first key that returned fewer rows than the window needs, or None (a file shortened or replaced under an open
    dataset gave windows of 0 frames without a word)."""
    for key, (arr, want) in reads.items():
        if arr is not None and len(arr) != want:
            return (f"{path}: key {key!r} gave {len(arr)} row(s) for the window at row {start}, expected {want}; "
                    f"the file was shortened or replaced while the dataset was open: open it again "
                    f"(a new WindowDataset) or restore the file")
    return None
