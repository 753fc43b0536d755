"""Files that appear whole or not at all: a result is written to a temporary file in the same folder and
then moved into place (``os.replace`` / ``os.link``, atomic on one file system). A kill or a full disk
leaves the old file (or none), never half a file; a new file gets the ordinary mode of ``open()``, a
replaced one keeps its mode.

- ``write_atomic(path, text)``: a text file (eval and bench results, reports, logs).
- ``publish(tmp, path)``: move a finished temporary file into place (datasets, checkpoints).
- Temporary names: ``.tmp-<name>.<pid>-<token>.part`` (``.pt`` for checkpoints, :func:`temp_path`): the
  next write to the same output removes those of dead processes (a killed write's), never a live one's.
- A write that fails on a machine limit (disk full, quota, file-size limit, too many open files) or a
  refused final rename is one :class:`WriteFailed` line naming the output (:func:`write_failed`).
- ``replace=False``: never overwrite. The CLI passes ``flag`` (``--out``) and has checked that the file
  was absent when it started; a file that appears meanwhile (another command) keeps this result in a
  sibling ``<name>-kept-<pid><ext>``. A Python call (no ``flag``) is refused before anything moves.

A leaf module: it imports from :mod:`lewm` only :mod:`lewm.runs`, inside functions.
"""
from __future__ import annotations

import contextlib
import errno
import numbers
import os
import re

TMP_PREFIX = ".tmp-"
_PID_MAX = 2**31 - 1  # pid_t is a signed 32-bit int: os.kill overflows above it
_NAME_BYTES = 180  # of the output's name kept in its temporary name (NAME_MAX is 255)
_TMP_TAIL = r"\.([0-9]{1,10})-[0-9a-f]{6}\.(?:pt|part)$"  # .<pid>-<token>.<ext> of temp_path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie counts as dead). A pid beyond what a
    process id can be (2**40) is no process: False (was an OverflowError)."""
    if isinstance(pid, bool) or not isinstance(pid, numbers.Integral):  # '1' gave "'<=' not supported"
        raise TypeError(f"pid_alive(pid=...) must be a whole number (a process id), got {pid!r:.60}")
    pid = int(pid)
    if pid <= 0 or pid > _PID_MAX:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _stem(path: str) -> tuple[str, str]:
    """(folder, the output's name as kept in its temporary names: cut to fit NAME_MAX). In the file system's
    encoding (was ``str.encode()``: a name that is not UTF-8, ``$'bad\\xff.pt'`` or any non-ASCII name under
    ``LC_ALL=C PYTHONUTF8=0``, was "error: 'utf-8' codec can't encode characters ...: surrogates not allowed")."""
    folder, name = os.path.split(os.path.abspath(path))
    return folder, os.fsdecode(os.fsencode(name)[:_NAME_BYTES])  # a character cut in two: its bytes kept


def temp_path(path: str, ext: str = ".part") -> str:
    """The name of a new temporary file for a write of ``path``: ``.tmp-<name>.<pid>-<token><ext>`` in its
    folder (not created: the caller creates it inside its ``try``, so that a signal right after the
    creation still finds the name to remove). The temporaries of earlier writes of ``path`` whose process
    is gone (killed) are removed first (was: ``mkstemp``'s anonymous ``.tmp-XXXXXXXX.part`` piled up)."""
    clean_stale_temps(path)
    folder, stem = _stem(path)
    return os.path.join(folder, f"{TMP_PREFIX}{stem}.{os.getpid()}-{os.urandom(3).hex()}{ext}")


def clean_stale_temps(path: str) -> list[str]:
    """Remove the temporary files (:func:`temp_path`) of writes of ``path`` whose process is gone; a
    live process's (a concurrent writer) stays. Returns the names removed."""
    folder, stem = _stem(path)
    return _remove_dead(folder, re.compile(re.escape(TMP_PREFIX + stem) + _TMP_TAIL))


def _remove_dead(folder: str, pattern) -> list[str]:
    return remove_matching(folder, pattern, dead_only=True)


def remove_matching(folder: str, pattern, dead_only: bool) -> list[str]:
    """Remove the regular files (not links) of ``folder`` whose names match ``pattern``; with ``dead_only``, only
    those whose pattern's first group, a pid, names a process that is gone. Returns the names removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m, p = pattern.match(name), os.path.join(folder, name)
        if not m or (dead_only and pid_alive(int(m.group(1)))) or os.path.islink(p) or not os.path.isfile(p):
            continue
        with contextlib.suppress(OSError):
            os.remove(p)
            removed.append(name)
    return removed


def clean_dead_temps(folder: str) -> list[str]:
    """Remove every :func:`temp_path` temporary in ``folder`` whose process is gone (whatever output it
    was for: a run folder's own cleaning, under its lock)."""
    return _remove_dead(folder, re.compile(re.escape(TMP_PREFIX) + r".+" + _TMP_TAIL))


# ---------------------------------------------------------------------------------------------
# A write that fails on a machine limit: one line naming the output
# ---------------------------------------------------------------------------------------------
class WriteFailed(OSError):
    """A write failed (a machine limit, or the final rename refused); ``strerror`` is the whole one-line
    message (which file, what is left intact, what to do), reported as it is by ``faults.one_line``."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class DiskFull(WriteFailed):
    """The disk (or the quota) filled while a file was written (``errno`` ENOSPC / EDQUOT)."""


LIMIT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EMFILE, errno.ENFILE)
_TEXTS = {errno.ENOSPC: ("No space left", "errno = 28"), errno.EFBIG: ("File too large", "file too large", "errno = 27"),
          errno.EMFILE: ("Too many open files", "errno = 24"), errno.EDQUOT: ("Disk quota exceeded", "errno = 122")}


def limit_errno(e: BaseException | None) -> int | None:
    """The machine limit ``e`` (or an error it was raised while handling: torch.save reports a failed write
    as a RuntimeError of its zip writer, h5py in its own text) hit: ENOSPC, EDQUOT, EFBIG, EMFILE, ENFILE."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, OSError) and e.errno in LIMIT_ERRNOS:
            return e.errno
        text = str(e)
        for no, words in _TEXTS.items():
            if any(w in text for w in words):
                return no
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def _rlimit(name: str) -> int | None:
    """The soft limit ``resource.RLIMIT_<name>`` of this process, None when unlimited or unknown."""
    with contextlib.suppress(ImportError, AttributeError, OSError, ValueError):
        import resource
        soft = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))[0]
        return None if soft == resource.RLIM_INFINITY else int(soft)
    return None


def limit_words(no: int) -> tuple[str, str]:
    """(what happened, what to do) for a machine limit ``no`` (see :func:`limit_errno`)."""
    if no == errno.EDQUOT:
        return "disk quota exceeded", "free some space or ask for a larger quota (or choose another place)"
    if no == errno.EFBIG:
        fsize = _rlimit("FSIZE")
        if fsize is not None:
            return (f"file too large: over this process's file-size limit ({fsize} bytes, `ulimit -f`; the disk "
                    f"has space)", "raise the limit (`ulimit -f unlimited`) and rerun")
        return "file too large for the file system", "choose a place on another file system and rerun"
    if no in (errno.EMFILE, errno.ENFILE):
        nofile = _rlimit("NOFILE")
        which = (f"this process's limit of {nofile} (`ulimit -n`)" if no == errno.EMFILE and nofile is not None
                 else "the system's limit" if no == errno.ENFILE else "this process's limit (`ulimit -n`)")
        return (f"too many open files ({which})",
                "raise the limit (e.g. `ulimit -n 4096`) or lower --workers, and rerun")
    return "disk full: no space left on the device", "free some space or choose another output place"


def write_failed(e: BaseException, path: str, kept: str | None = None, verb: str = "writing") -> WriteFailed:
    """The one-line error of a write of ``path`` that failed on a machine limit (:func:`limit_errno`; the
    temporary file already removed). ``kept``: what is left under the final name (default: the previous
    file is intact, or no file was created)."""
    no = limit_errno(e) or errno.ENOSPC
    what, todo = limit_words(no)
    if no == errno.ENOSPC:  # the words of a checkpoint's full disk (round 13)
        what, todo = "disk full", "free some space (or choose another place) and rerun"
    if kept is None:
        kept = "nothing was written under that name (" + (
            "the previous file there is intact)" if os.path.exists(path) else "no file was created)")
    line = f"{what} while {verb} {path}; {kept}; {todo}"
    cls = DiskFull if no in (errno.ENOSPC, errno.EDQUOT) else WriteFailed
    return cls(no, line, os.fspath(path))


def replace_refused(e: OSError, path: str, kept: str | None = None) -> WriteFailed:
    """The final rename of a finished temporary file onto ``path`` was refused (an immutable or
    append-only file, a read-only mount, a sticky folder): one line naming ``path``, not the temporary."""
    exists = os.path.lexists(path)
    if kept is None:
        kept = "the previous file there is intact" if exists else "nothing was written there"
    why = e.strerror or type(e).__name__
    if e.errno in (errno.EPERM, errno.EACCES) and exists:
        why += ": the file is immutable or append-only (lsattr), or its folder does not let this user replace it"
    elif e.errno == errno.EROFS:
        why += ": a read-only file system"
    verb = "replace" if exists else "create"
    err = WriteFailed(e.errno, f"cannot {verb} {path} ({why}); {kept}; make it writable (`chattr -i`) or "
                               f"choose another name, and rerun", os.fspath(path))
    err.refused = e
    return err


def check_not_immutable(path: str, flag: str) -> None:
    """Before the work: refuse an existing ``path`` that cannot be replaced because it is immutable or
    append-only (``chattr +i`` / ``+a``: ``os.access`` says writable for root, and the rename at the end
    failed after the work). Cheap (one ioctl); silent where the flags cannot be read."""
    if not os.path.isfile(path):
        return
    flags = 0
    with contextlib.suppress(OSError, ImportError, ValueError):
        import array
        import fcntl
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            buf = array.array("l", [0])
            fcntl.ioctl(fd, 0x80086601, buf, True)  # FS_IOC_GETFLAGS
            flags = buf[0]
        finally:
            os.close(fd)
    if flags & 0x30:  # FS_IMMUTABLE_FL 0x10, FS_APPEND_FL 0x20
        what = "immutable" if flags & 0x10 else "append-only"
        raise ValueError(f"{flag} {path}: the file is {what} (chattr +{what[0]}) and cannot be replaced; "
                         f"nothing was done: make it writable (`chattr -{what[0]} {path}`) or choose another name")


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
    tmp = temp_path(path, ".part")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # inside the try: a signal now removes it
        with os.fdopen(fd, "w") as f:
            try:
                f.write(text)
            except UnicodeEncodeError as e:  # a lone surrogate: was the codec's error naming neither argument
                raise ValueError(f"write_atomic(text=...): character {e.object[e.start:e.start + 1]!r} at position "
                                 f"{e.start} cannot be written as {e.encoding} (a lone surrogate, e.g. from a name "
                                 f"decoded with errors='surrogateescape'); {path} was not written") from None
        publish(tmp, path, replace=replace, flag=flag or "write_atomic(path=...)")
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if not isinstance(e, WriteFailed) and isinstance(e, (OSError, RuntimeError)) and limit_errno(e):
            raise write_failed(e, path) from e  # was: "[Errno 27] File too large", naming no file
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


def normal_mode(path: str, like: str | None = None) -> None:
    """Give a finished temporary file the mode a file created with ``open()`` gets (``0o666 & ~umask``,
    ``-rw-r--r--`` mostly): ``mkstemp`` makes it ``-rw-------``, so an eval result, a benchmark JSON, a
    checkpoint or an export others should read was readable by its owner only. ``like``: the file it is
    about to replace, whose permission bits it keeps (``open(path, 'w')`` keeps them too: a file the user
    had made private, ``chmod 600``, became world-readable when replaced)."""
    import stat
    with contextlib.suppress(OSError):
        if like is not None and os.path.isfile(like):
            os.chmod(path, stat.S_IMODE(os.stat(like).st_mode) & 0o777)
            return
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
    first, or the mode of the file it replaces (:func:`normal_mode`)."""
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
    normal_mode(tmp, like=path if replace else None)
    if replace:
        _replace(tmp, path)
        return path
    try:
        os.link(tmp, path)  # atomic create-if-absent
        taken = False
    except FileExistsError:
        taken = True
    except OSError:  # a file system without hard links: re-check right before the replace
        taken = os.path.exists(path)
        if not taken:
            _replace(tmp, path)
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


def _replace(tmp: str, path: str) -> None:
    """``os.replace(tmp, path)``; a refusal names ``path`` (was: the temporary file the user never asked
    for, with "choose a place you can write" about a writable folder)."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES, errno.EROFS, errno.EBUSY, errno.ETXTBSY):
            raise replace_refused(e, path) from None
        raise


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
