"""What a browser may touch on this machine, and broken files turned into one-line errors.

- :func:`confine`: a path typed in the browser is resolved (``..``, symlinks, relative to the
  project) and accepted only inside the allowed folders: the project's ``data/`` and
  ``checkpoints/``, the lab's runs folder (``runs/``: collected data, uploads, runs), the folders of
  the files given on the server's command line, and the folders listed in ``LEWM_ALLOWED_DIRS``
  (``os.pathsep``-separated) when the server was started. Never any other file of the machine.
- :func:`file_error`: the one-line message for an exception caused by a broken (truncated, junk,
  corrupted) checkpoint or dataset, or None for any other exception (a bug: let it show).
- :func:`guard`: the page-level net that shows such a message with ``st.error``.

Pure functions first (tested without Streamlit), the Streamlit edge last.
"""
from __future__ import annotations

import contextlib
import os
import traceback

ALLOWED_ENV = "LEWM_ALLOWED_DIRS"


class PathNotAllowed(ValueError):
    """A typed path outside the folders the lab may read; the message names both."""


def _real(p: str, base: str) -> str:
    p = os.path.expanduser(str(p).strip())
    if not os.path.isabs(p):
        p = os.path.join(base, p)
    return os.path.realpath(p)


def allowed_dirs(root: str, runs: str, given_files=(), extra: str | None = None) -> list[str]:
    """The folders a browser may read, resolved and without duplicates: ``root``/data,
    ``root``/checkpoints, ``runs``, the folder of each file given on the command line, and each
    folder of ``extra`` (the value of ``LEWM_ALLOWED_DIRS``; empty entries ignored)."""
    cands = [os.path.join(root, "data"), os.path.join(root, "checkpoints"), runs]
    cands += [os.path.dirname(_real(f, root)) for f in given_files if f]
    cands += [d for d in (extra or "").split(os.pathsep) if d.strip()]
    out: list[str] = []
    for d in cands:
        r = _real(d, root)
        if r not in out and r != os.path.sep:  # "/" would allow everything: never from an implicit source
            out.append(r)
    return out


def is_inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def _encodable(p: str) -> bool:
    """A name the file system can take (a lone surrogate such as '\\ud800' cannot)."""
    try:
        os.fsencode(p)
    except UnicodeError:
        return False
    return True


def confine(path: str, allowed: list[str], base: str) -> str:
    """The resolved absolute path of ``path`` (relative paths are relative to ``base``, the
    project), if it lies inside one of the ``allowed`` (resolved) folders once ``..`` and symbolic
    links are followed; raises :class:`PathNotAllowed` otherwise."""
    if not isinstance(path, (str, os.PathLike)):  # None, bytes, numbers: str() would invent a path
        raise PathNotAllowed(f"{path!r}: not a path")
    if not str(path).strip():
        raise PathNotAllowed("empty path")
    if "\x00" in str(path) or not _encodable(str(path)):
        raise PathNotAllowed(f"{path!r}: not a valid path")
    real = _real(path, base)
    if any(is_inside(real, d) for d in allowed):
        return real
    shown = ", ".join(allowed) or "(none)"
    via = f" (it resolves to {real})" if os.path.normpath(os.path.join(base, str(path))) != real else ""
    raise PathNotAllowed(
        f"{path}: outside the folders this lab may read{via}. Allowed: {shown}. Copy the file into one of "
        f"them (e.g. runs/data/), or restart the server with {ALLOWED_ENV}=/your/folder.")


_BROKEN = (OSError, RuntimeError, KeyError, ValueError, EOFError, TypeError, IndexError)


def file_error(exc: BaseException, files=()) -> str | None:
    """A one-line message for an exception raised while reading a broken checkpoint or dataset
    (``files``: the files in use, named in the message), or None when ``exc`` is not one (a bug)."""
    from lewm.checkpoint import CheckpointError
    from lewm.data import DataError
    if isinstance(exc, (DataError, CheckpointError)):
        return str(exc)
    if not isinstance(exc, _BROKEN):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    if not any(f"{os.sep}h5py{os.sep}" in fr.filename for fr in frames):  # raised by the HDF5 reader
        return None
    names = ", ".join(f"`{f}`" for f in files if f) or "a dataset"
    return (f"{names}: the HDF5 file is damaged (truncated or corrupted: {type(exc).__name__}: {exc}). "
            f"Pick another dataset, or collect it again on the Data page.")


# --------------------------------------------------------------------------------------- Streamlit
_IN_USE = "_safety_files"


def note_file(path: str | None) -> None:
    """Remember that this page reads ``path`` (named by :func:`guard` if reading it fails)."""
    import streamlit as st
    if path:
        files = st.session_state.setdefault(_IN_USE, [])
        if path not in files:
            files.append(path)


@contextlib.contextmanager
def guard(fresh: bool = True):
    """Run a page: an exception caused by a broken checkpoint or dataset becomes one ``st.error``
    naming the file; anything else propagates (Streamlit shows it: a bug to fix, not to hide).
    ``fresh``: forget the files noted so far (a page run); a fragment's re-run keeps its page's."""
    import streamlit as st
    if fresh or _IN_USE not in st.session_state:
        st.session_state[_IN_USE] = []
    try:
        yield
    except Exception as e:  # noqa: BLE001 - Streamlit's stop/rerun are BaseExceptions and pass through
        msg = file_error(e, st.session_state.get(_IN_USE, []))
        if msg is None:
            raise
        st.error(msg, icon=":material/broken_image:")


@contextlib.contextmanager
def writing(folder: str):
    """Start a job or write a file under ``folder``: an OSError there (a read-only runs folder, a full
    disk: it was an exception box from ``unique_dir``) becomes one ``st.error`` naming the folder, and
    the rest of the block is skipped."""
    import streamlit as st
    try:
        yield
    except OSError as e:
        st.error(f"Cannot write into `{folder}`: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}. "
                 f"Make it writable, or restart the lab with LEWM_LAB_RUNS set to a writable folder.",
                 icon=":material/folder_off:")


def fragment(func=None, *, run_every=None):
    """``st.fragment`` under :func:`guard`. A fragment re-runs on its own (its widgets, ``run_every``)
    without the page around it, so the page's guard does not see its exceptions: without this a
    dataset that breaks while a fragment re-reads it showed a traceback. Use as ``@safety.fragment``
    or ``@safety.fragment(run_every=1.0)``."""
    import functools

    import streamlit as st

    def wrap(f):
        @functools.wraps(f)
        def guarded(*args, **kwargs):
            with guard(fresh=False):
                return f(*args, **kwargs)
        return st.fragment(guarded, run_every=run_every)
    return wrap(func) if func is not None else wrap


def lab_allowed_dirs(settings: dict, root: str) -> list[str]:
    """:func:`allowed_dirs` of a lab server: its runs folder, the files given to it
    (``settings`` of ``common.settings()``) and ``$LEWM_ALLOWED_DIRS``."""
    return allowed_dirs(root, settings["runs"], list(settings.get("checkpoints", [])) + list(settings.get("data", [])),
                        os.environ.get(ALLOWED_ENV))
