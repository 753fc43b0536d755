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
