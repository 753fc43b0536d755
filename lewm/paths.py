"""Path checks, before any work: an input that exists and is a file; an output file or folder that can be
written, is not a symbolic link, a device or a blank / space-padded / over-long / ``~``-literal name, and
replaces only a file of its own kind (``lewm.runs.check_replaceable``; a file of a run's folder only with
``--force``). Every failure is one line naming the flag, the path and what was expected.

A leaf module: it imports :mod:`lewm.runs` only inside :func:`check_out_file`.
"""
from __future__ import annotations

import os
import tempfile


def _writable_dir(d: str, what: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=d, prefix=".lewm-write-probe-"):
            pass
    except OSError as e:
        raise ValueError(f"{what}: cannot write into {d} ({e.strerror or e}); choose another place") from None


def existing_ancestor(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


_TMP_MARGIN = 26
"""Bytes a temporary sibling adds to a file name (``lewm.atomic.temp_path``'s ``.tmp-<name>.<pid>-<token>.part``)."""


def _unexpanded_home(path: str) -> bool:
    """``~`` or ``~/...`` (or ``~user/...`` of a user this machine has) that the shell did not expand: it was
    quoted. A name like ``~x.h5`` is an ordinary file name (the shell leaves it as it is) and is accepted."""
    first = path.split(os.sep)[0]
    if first == "~":
        return True
    if not first.startswith("~") or os.sep not in path:
        return False
    try:
        import pwd
        pwd.getpwnam(first[1:])
        return True
    except (ImportError, KeyError):
        return False


def why_missing(path: str) -> str:
    """Why an input ``path`` that does not exist is missing, in words for an error line: a literal ``~`` (quoted, so
    the shell did not expand it), a symbolic link loop, a link to nowhere, or plainly no such file (was: "no such
    file" for all four, though outputs already named the '~')."""
    path = os.fspath(path)
    if _unexpanded_home(path):
        home = f"$HOME{path[1:]} or " if path.split(os.sep)[0] == "~" else ""
        return f"no such file: it begins with a literal '~' (the shell expands it only unquoted); write {home}the full path"
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == 40:  # ELOOP
                return "a symbolic link loop (it points back to itself through other links); give the file's real path"
        return f"a symbolic link to {os.readlink(path)}, which does not exist; give the file's real path"
    return "no such file"


def _check_new_names(path: str, flag: str, margin: int = 0) -> None:
    """Refuse, before the work, new names (and the last one) no one meant: padded with spaces (``--out
    'run14 '`` made a folder that looks like ``run14``), ``-`` (not standard output here), a dangling
    symbolic link (``File exists`` after the work), longer than the file system allows (ENAMETOOLONG
    after the work). ``margin``: bytes a temporary sibling adds to the last part (an output file)."""
    full = os.path.abspath(path)
    anc = existing_ancestor(os.path.dirname(full) if margin else full)
    try:
        limit = os.pathconf(anc, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    parts = [] if anc == full else os.path.relpath(full, anc).split(os.sep)
    last = os.path.basename(full)
    if _unexpanded_home(path):  # '~/x.h5' in quotes: a folder named '~' in the working directory
        home = f"$HOME{path[1:]} or " if path.split(os.sep)[0] == "~" else ""
        raise ValueError(f"{flag} {path}: begins with a literal '~' (the shell expands it only unquoted); "
                         f"write {home}the full path")
    if last == "-":
        raise ValueError(f"{flag} -: '-' (standard output) is not supported; give a file or folder name")
    for part in {*parts, last}:
        if part != part.strip():
            what = "is only spaces" if not part.strip() else "begins or ends with a space"
            raise ValueError(f"{flag} {path!r}: the name {part!r} {what} (a quoting slip?); give a name without them")
    for i, part in enumerate(parts):
        where = os.path.join(anc, *parts[:i + 1])
        if os.path.islink(where):  # exists() is False for a link to nowhere, or a loop (was called a link to nowhere)
            why = why_missing(where).split("; ")[0]
            todo = "remove the loop" if why.startswith("a symbolic link loop") else "create its target first"
            raise ValueError(f"{flag} {path}: {where} is {why}; {todo}, or give another place")
        n, room = len(os.fsencode(part)), limit - (margin if i == len(parts) - 1 else 0)
        if n > room:
            raise ValueError(f"{flag} {path}: a name of {n} bytes ({part[:20]}...); this file system takes "
                             f"at most {room} there; choose a shorter name")


def _as_path(path, flag: str):
    """A path argument (str or os.PathLike) as a str; any other type (an int, None inside a list ...) is one
    TypeError naming ``flag`` (was: "lstat: path should be string, bytes or os.PathLike, not int"). An
    empty value is left to the caller ("no file given")."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if path is None or (isinstance(path, str) and not path):
        return path
    if not isinstance(path, str):
        raise TypeError(f"{flag} must be a path (a string), got {path!r:.60}")
    return path


def not_regular(path: str, flag: str, error: type = ValueError) -> str:
    """Refuse an existing path that is neither a folder nor a regular file: a device (/dev/null) or
    a pipe. Reading a pipe blocks for ever; writing one atomically would replace the device node
    (as root: /dev/null became a checkpoint). Returns ``path``."""
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        raise error(f"{flag} {path}: is a device or pipe, not a regular file; give a file path")
    return path


def check_in_file(path: str, flag: str) -> str:
    """An input file: exists and is a file."""
    path = _as_path(path, flag)
    if not path:
        raise ValueError(f"{flag}: no file given")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{flag} {path}: {why_missing(path)}")
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a folder, expected a file")
    return not_regular(path, flag)


def check_out_file(path: str, flag: str = "--out", *, make_parent: bool = False, force: bool | None = None,
                   inputs: dict[str, str | None] | None = None, writes: str | None = None) -> str:
    """An output file: not a folder, not a symbolic link; its folder exists (or, with ``make_parent``,
    can be made) and can be written. ``force``: the command's ``--force`` (None: it has none and
    replaces an existing file of its kind; False: an existing file is refused).
    ``inputs`` ({flag: path}): files the command reads, which the output must not overwrite.
    ``writes``: what the output is (``lewm.runs.CHECKPOINT`` ...): an existing file of another kind,
    or of a run's folder, is replaced as :func:`lewm.runs.check_replaceable` allows."""
    from .atomic import check_not_immutable
    from .runs import check_replaceable, example_name
    path = _as_path(path, flag)
    if not path:
        raise ValueError(f"{flag}: no file given")
    if os.path.islink(path):  # os.replace would replace the link and leave its target as it was
        target = os.readlink(path)
        raise ValueError(f"{flag} {path}: is a symbolic link to {target}"
                         f"{'' if os.path.exists(path) else ' (which does not exist)'}; writing would replace "
                         f"the link, not its target: give the target's path itself, or remove the link")
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):  # h5py / mkstemp failed after the work
        raise ValueError(f"{flag} {path}: ends with '/', a folder name; expected a file name "
                         f"(e.g. {example_name(path, writes)})")
    _check_new_names(path, flag, margin=_TMP_MARGIN)
    for in_flag, in_path in (inputs or {}).items():
        if in_path and os.path.exists(in_path) and os.path.realpath(in_path) == os.path.realpath(path):
            raise ValueError(f"{flag} {path}: is the {in_flag} file; writing it would destroy the input, "
                             f"choose another {flag}")
    not_regular(path, flag)
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a folder, expected a file name (e.g. {example_name(path, writes)})")
    if os.path.isfile(path):
        check_replaceable(path, flag, writes, force)
        check_not_immutable(path, flag)  # was: refused by the rename after the work (round 24, Q11)
    if force is False and os.path.exists(path):
        raise FileExistsError(f"{flag} {path}: exists; pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(parent):
        if not make_parent:
            raise ValueError(f"{flag} {path}: its folder {parent} does not exist; create it first (mkdir -p)")
        parent = existing_ancestor(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{flag} {path}: {parent} is a file, not a folder")
    _writable_dir(parent, f"{flag} {path}")
    return path


def check_out_dir(path: str, flag: str = "--out") -> str:
    """An output folder: not a file; it (or the folder it will be made in) can be written. A symbolic
    link to a folder is that folder; one to nowhere is refused."""
    path = _as_path(path, flag)
    if not path:
        raise ValueError(f"{flag}: no folder given")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a file, expected a folder")
    _check_new_names(path, flag)
    anc = existing_ancestor(path)
    if not os.path.isdir(anc):
        raise ValueError(f"{flag} {path}: {anc} is a file, not a folder")
    _writable_dir(anc, f"{flag} {path}")
    from .atomic import check_not_immutable
    check_not_immutable(os.path.join(path, "last.pt"), flag)  # a run's checkpoint (round 24, Q11)
    return path
