"""Files that appear whole or not at all: a result is written to a temporary file in the same folder and
then moved into place (``os.replace`` / ``os.link``, atomic on one file system). A kill or a full disk
leaves the old file (or none), never half a file; a new file gets the ordinary mode of ``open()``.

- ``write_atomic(path, text)``: a text file (eval and bench results, reports, logs).
- ``publish(tmp, path)``: move a finished temporary file into place (datasets, checkpoints).
- ``replace=False``: never overwrite. The CLI passes ``flag`` (``--out``) and has checked that the file
  was absent when it started; a file that appears meanwhile (another command) keeps this result in a
  sibling ``<name>-kept-<pid><ext>``. A Python call (no ``flag``) is refused before anything moves.

A leaf module: it imports from :mod:`lewm` only :mod:`lewm.runs`, inside functions.
"""
from __future__ import annotations

import contextlib
import numbers
import os

TMP_PREFIX = ".tmp-"


def _binary_head(path: str) -> bool:
    """Whether the existing file ``path`` starts like a dataset, a checkpoint or another binary file."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return False
    return b"\x00" in head or head.startswith((b"\x89HDF", b"PK\x03\x04"))


def write_atomic(path: str, text: str, *, replace: bool = True, flag: str | None = None) -> str:
    """Write ``text`` to ``path`` through a temporary file in the same folder, published with
    :func:`publish`: a kill or a full disk leaves the old file (or none), never half a file. A symbolic
    link is written through (its target gets the text, as ``open(path, 'w')`` does).
    ``replace=False``: an existing ``path`` is not overwritten. A Python call (``flag`` None) is refused
    before anything is written; a command (``flag='--out'``, its file absent when it started) keeps
    its result beside a file another command created meanwhile (see :func:`publish`)."""
    import tempfile
    if not isinstance(text, str):  # was: "write() argument must be str, not bytes" from inside
        hint = " (decode it first, or write bytes with open(path, 'wb'))" if isinstance(text, (bytes, bytearray)) else ""
        raise TypeError(f"write_atomic(text=...) must be a str, got {type(text).__name__}{hint}")
    if not isinstance(path, (str, os.PathLike)) or not str(os.fspath(path)).strip():
        raise TypeError(f"write_atomic(path=...) must be a file name, got {path!r:.60}")
    path = os.fspath(path)
    if isinstance(replace, numbers.Number) and not isinstance(replace, bool) or replace not in (True, False):
        raise TypeError(f"write_atomic(replace=...) must be True or False, got {replace!r:.60}")  # 'no' was True
    if os.path.islink(path):  # was: the link replaced by a file, its target unchanged (a dangling one: created)
        path = os.path.realpath(path)
    if path.endswith(("/", os.sep)):  # was: NotADirectoryError naming the temporary .part file
        raise ValueError(f"write_atomic(path=...) {path}: ends in '/', expected a file name")
    if os.path.isdir(path):  # was: IsADirectoryError naming the temporary .part file
        raise ValueError(f"write_atomic(path=...) {path}: is a folder, expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # was: FileNotFoundError naming the temporary .part file
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"write_atomic(path=...) {path}: its folder {folder} {what}")
    if os.path.isfile(path) and _binary_head(path):  # was: a dataset / checkpoint replaced by the text
        from .runs import file_kind
        kind = file_kind(path) or "a binary file"
        why = " (it holds NUL bytes: binary data, or a text in UTF-16)" if "unknown kind" in kind else ""
        raise ValueError(f"write_atomic(path=...) {path}: is {kind}{why}; a text would replace it: choose another "
                         f"file name, or remove it first if it may go (it was not touched)")
    if not replace and flag is None and os.path.exists(path):  # was: "--out ... created by another command"
        raise FileExistsError(f"write_atomic(path=...) {path}: exists and replace=False; nothing was written "
                              f"(pass replace=True to overwrite it, or choose another name)")
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        publish(tmp, path, replace=replace, flag=flag or "write_atomic(path=...)")
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def _umask() -> int:
    """This process's umask (from /proc, which does not change it; else set and restored at once)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode(path: str) -> None:
    """Give a finished temporary file the mode a file created with ``open()`` gets (``0o666 & ~umask``,
    ``-rw-r--r--`` mostly): ``mkstemp`` makes it ``-rw-------``, so an eval result, a benchmark JSON, a
    checkpoint or an export others should read was readable by its owner only."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~_umask())


def publish(tmp: str, path: str, *, replace: bool = True, flag: str | None = None) -> str:
    """Move the finished temporary file ``tmp`` to ``path``. ``replace=False``: ``path`` is created only
    if it still does not exist (``os.link`` fails on an existing name, atomically). A command (``flag``
    given: ``--out``; the command checked at its start that ``path`` was absent): two commands started
    at once into the same new file no longer both said "wrote" while the later one silently overwrote
    the other; the loser's result is kept in a sibling ``<name>-kept-<pid><ext>`` and a FileExistsError
    names both files. A Python call (``flag`` None) with ``path`` existing is refused and ``tmp`` stays.
    ``replace=True`` replaces only a file of the same kind (a text never replaces a dataset). A symbolic
    link is published through (its target is replaced). ``tmp`` gets the ordinary mode of a new file
    first (:func:`normal_mode`)."""
    for name, value in (("tmp", tmp), ("path", path)):
        if not isinstance(value, (str, os.PathLike)) or not str(os.fspath(value)).strip():
            raise TypeError(f"publish({name}=...) must be a file name, got {value!r:.60}")
    tmp, path = os.fspath(tmp), os.fspath(path)
    if os.path.islink(path):  # was: the link replaced, its target unchanged (a dangling one: the target is created)
        path = os.path.realpath(path)
    _check_publish_paths(tmp, path)
    if os.path.realpath(tmp) == os.path.realpath(path) or (
            os.path.exists(path) and os.path.exists(tmp) and os.path.samefile(tmp, path)):
        raise ValueError(f"publish(tmp=..., path=...): {tmp} and {path} are the same file; tmp must be the "
                         f"finished temporary file to move to path")
    if replace and os.path.isfile(path):
        _check_same_kind(tmp, path)
    if not replace and flag is None and os.path.exists(path):  # a Python call: nothing moves
        raise FileExistsError(f"publish(path=...) {path}: exists and replace=False; not replaced: the finished file "
                              f"is still {tmp} (pass replace=True to overwrite it, or choose another name)")
    normal_mode(tmp)
    if replace:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)  # atomic create-if-absent
        taken = False
    except FileExistsError:
        taken = True
    except OSError:  # a file system without hard links: re-check right before the replace
        taken = os.path.exists(path)
        if not taken:
            os.replace(tmp, path)
            return path
    if taken:
        root, ext = os.path.splitext(path)
        kept = f"{root}-kept-{os.getpid()}{ext}"
        os.replace(tmp, kept)  # not a temporary name: stale-file cleaning must not remove the result
        if not (flag or "").startswith("-"):  # a Python call: created between its check and the link
            raise FileExistsError(f"{flag or 'publish(path=...)'} {path}: appeared while this file was being "
                                  f"written (replace=False); not overwritten: this result is in {kept}")
        raise FileExistsError(f"{flag} {path}: was created by another command while this one ran; not "
                              f"overwritten: this result is in {kept} (compare them, then rename it, or rerun "
                              f"with --force)")
    os.remove(tmp)
    return path


def _check_publish_paths(tmp: str, path: str) -> None:
    """publish's files, before any move (was: FileNotFoundError / IsADirectoryError naming both)."""
    if not os.path.isfile(tmp):
        what = "is a folder" if os.path.isdir(tmp) else "no such file"
        raise ValueError(f"publish(tmp=...) {tmp}: {what}; expected the finished temporary file to move to {path}")
    if os.path.isdir(path):
        raise ValueError(f"publish(path=...) {path}: is a folder, expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"publish(path=...) {path}: its folder {folder} {what}")


def _check_same_kind(tmp: str, path: str) -> None:
    """``publish(replace=True)``: a dataset or a checkpoint is replaced only by a file of its own kind
    (was: a dataset silently became a text file)."""
    from .runs import file_kind
    old, new = file_kind(path), file_kind(tmp)
    if old and _binary_head(path) and old != new:
        raise ValueError(f"publish(path=...) {path}: is {old}; {tmp} is {new or 'an empty file'}: not replaced "
                         f"(a file replaces only one of its own kind; choose another name)")
