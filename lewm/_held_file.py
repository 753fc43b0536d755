"""A dataset streamed from its file (``WindowDataset`` past ``train.ram_limit_gb``) and the file changing under it.

Streamed windows were read by path, whenever a handle was (re)opened: in each loader worker, and at the end of a
training for its validation loss and BatchNorm statistics. A file deleted mid-run made the end fail with "no such
dataset file" after the last step (the steps since the checkpoint lost); another file put in its place (``collect
--force``, ``mv``) had its windows scored as the run's validation loss (15.1 where the run's own data gave 0.067,
saved in ``last.pt``); a file rewritten in place was h5py's "Can't synchronously read data (filter returned failure
during read)", or, uncompressed, zeros read as frames (round 28, W3).

Now a streamed dataset remembers its file (device, inode, size, modification time) when it is made, a training holds
one handle for its whole length (the file it started on is the one it reads, even deleted or renamed away), and every
read first checks that the handle's file is still that one and unchanged: otherwise one :class:`DataError` naming the
file and what happened, which the training turns into a stop at the step boundary with its steps saved.
"""
from __future__ import annotations

import os

from .episode_file import DataError

_WHAT_TO_DO = ("put the original file back (or re-collect it), then run the same command: a training resumes from "
               "its last checkpoint")


def identity(path: str) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime_ns) of ``path`` now, or None when it cannot be stat'ed (the open says why)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _of_handle(f) -> tuple[int, int, int, int] | None:
    try:
        st = os.fstat(f.id.get_vfd_handle())
    except Exception:  # noqa: BLE001 (a driver without a file descriptor: nothing to compare)
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def check_handle(path: str, f, ident, reopened: bool) -> None:
    """The open HDF5 file ``f`` must still be the file ``ident`` describes. ``reopened``: ``f`` was just opened by
    path (a loader worker), so another inode there means the file was replaced or deleted since."""
    if ident is None:
        return
    now = _of_handle(f)
    if now is None or now == ident:
        return
    if now[:2] != ident[:2]:
        if not reopened:
            return  # cannot happen: an open handle keeps its inode
        raise DataError(f"{path}: was replaced by another file after the training started reading it (a streamed "
                        f"dataset, past train.ram_limit_gb); its windows would come from that file; {_WHAT_TO_DO}")
    what = (f"its size went from {ident[2]} to {now[2]} bytes" if now[2] != ident[2] else
            "it was written to (its modification time changed)")
    raise DataError(f"{path}: changed while the training read it ({what}): its batches would mix the old and the new "
                    f"bytes; {_WHAT_TO_DO}")


def check_path(path: str, ident) -> None:
    """Before a loader worker opens ``path`` by name: it must still be there."""
    if ident is not None and not os.path.exists(path):
        raise DataError(f"{path}: was deleted after the training started reading it (a streamed dataset, past "
                        f"train.ram_limit_gb); {_WHAT_TO_DO}")
