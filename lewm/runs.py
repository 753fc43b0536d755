"""Run folders and files on disk: safe names, never overwriting, what a file is, reading a run's
metrics back.

Every training run and collected file gets its own fresh name (created exclusively), so several
browser sessions or commands can work side by side without touching each other's files. What an
existing file holds (:func:`file_kind`) and whether it belongs to a run's folder (:func:`run_file`)
decide what an output of the command line may replace (``lewm.validate.check_out_file``).
"""
from __future__ import annotations

import codecs
import glob
import json
import numbers
import os
import re
import stat
import uuid

import numpy as np

from .progress import _whole, downsample_indices


def slugify(text: str, max_len: int = 80) -> str:
    """Filesystem-safe short name: letters, digits, '-', '_', '.'."""
    if not isinstance(text, str):  # None was the name 'None'
        raise TypeError(f"slugify(text=...) must be a string, got {text!r:.60}")
    whole = not isinstance(max_len, (bool, np.bool_)) and isinstance(max_len, numbers.Integral)  # np.int64(2) too
    if not whole or max_len < 1:  # -3 cut 3 off the end
        raise (ValueError if whole else TypeError)(f"slugify(max_len=...) must be a whole number >= 1, got {max_len!r:.60}")
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return (s or "run")[:int(max_len)]


def unique_dir(root: str, name: str) -> str:
    """Create and return a new folder ``root/<name>[-N]`` (exclusive: never reuses an existing one)."""
    root = _path_arg("unique_dir", root, "root")
    if not isinstance(name, str):
        raise TypeError(f"unique_dir(name=...) must be a string (the run's name), got {name!r:.60}")
    try:  # root (or a folder above it) a file was a raw FileExistsError / NotADirectoryError
        if os.path.exists(root) and not os.path.isdir(root):
            raise NotADirectoryError
        os.makedirs(root, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        what = "is a file" if os.path.isfile(root) else "lies under a file"
        raise ValueError(f"unique_dir(root=...) {root}: {what}, expected a folder (where run folders are made)") from None
    base = slugify(name)
    for i in range(1000):
        path = os.path.join(root, base if i == 0 else f"{base}-{i}")
        try:
            os.makedirs(path)  # raises if it exists: another session (or run) owns it
            return path
        except FileExistsError:
            continue
    path = os.path.join(root, f"{base}-{uuid.uuid4().hex[:8]}")
    os.makedirs(path)
    return path


def unique_file(path: str) -> str:
    """``path`` if no such file exists (nor a collect's temporary ``.tmp-<name>.<pid>`` beside it, nor an
    older one ``path.<pid>.tmp``), else ``stem-N.ext`` for the first free N."""
    path = _path_arg("unique_file", path)
    def free(p: str) -> bool:
        folder, name = os.path.split(p)
        busy = glob.escape(p) + ".*tmp", os.path.join(glob.escape(folder), ".tmp-" + glob.escape(name) + ".[0-9]*")
        return not os.path.exists(p) and not any(glob.glob(g) for g in busy)

    if free(path):
        return path
    stem, ext = os.path.splitext(path)
    for i in range(1, 10_000):
        p = f"{stem}-{i}{ext}"
        if free(p):
            return p
    return f"{stem}-{uuid.uuid4().hex[:8]}{ext}"


def _path_arg(fn: str, path, name: str = "path") -> str:
    """A path argument (str or os.PathLike) as a str: None or an int (an open file descriptor) is a TypeError,
    '' a ValueError (was: '' returned as the "free" file name, None "expected str ... not NoneType")."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{fn}({name}=...) must be a path (a string), got {path!r:.60}")
    if not path:
        raise ValueError(f"{fn}({name}=...) is empty; give a file or folder path")
    return path


def _as_float(v: int | float) -> float:
    """A JSON number as a float; an integer beyond float range (400 digits) is ±inf like ``1e400``
    (np.asarray raised OverflowError on it)."""
    try:
        return float(v)
    except OverflowError:
        return float("inf") if v > 0 else float("-inf")


class MetricsNotText(UnicodeDecodeError):
    """A metrics log line that is not UTF-8 text: a ValueError naming the file and the line (a
    UnicodeDecodeError too, as the reader raised before, so callers that caught that still do)."""

    def __init__(self, path: str, lineno: int, e: UnicodeDecodeError):
        super().__init__(e.encoding, e.object, e.start, e.end, e.reason)
        self.message = (f"read_metrics(out_dir=...) {path}: line {lineno} is not UTF-8 text (byte "
                        f"0x{e.object[e.start]:02x} at offset {e.start} of the line), not a metrics log line (one "
                        f"JSON object per line); remove or repair that line")

    def __str__(self) -> str:
        return self.message


def read_metrics(out_dir: str, max_points: int = 2000) -> dict[str, np.ndarray]:
    """A run folder's ``metrics.jsonl`` as column arrays (downsampled); empty dict if none.

    The steps come back strictly increasing: a resumed run restarts from its checkpoint and logs its
    steps again (``lewm.faults.truncate_metrics`` drops the lines after the checkpoint, but a log
    written before that, or copied together, can hold both), so a record of step ``s`` replaces every
    earlier record of a step >= ``s`` (the later record wins), as the resume itself did. Lines without a
    ``step`` stay where they are. A line that is not UTF-8 text is a ValueError naming the file and the
    line (:class:`MetricsNotText`); a line that is not JSON (one being written) is skipped."""
    out_dir = _path_arg("read_metrics", out_dir, "out_dir")
    max_points = _whole("read_metrics(max_points=...)", max_points, 2)  # was downsample_indices' message
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):  # a dataset file gave {} ("no metrics yet")
        raise ValueError(f"read_metrics(out_dir=...) must be a run folder, got {out_dir} ({file_kind(out_dir) or 'a file'})")
    path = os.path.join(out_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    if (special := _special_kind(path)) is not None:  # a FIFO named metrics.jsonl: open() blocked the page forever
        raise ValueError(f"read_metrics(out_dir=...) {path}: is {special}, not a metrics log (a regular file); "
                         f"remove it or pick another run folder")
    recs: list[dict] = []
    stepped: list[tuple[float, int]] = []  # (step, index in recs) of the kept records with a step, increasing
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:  # was a bare "'utf-8' codec can't decode" naming no file
                if not raw.endswith(b"\n"):
                    continue  # the last line, being written (a character cut in two)
                raise MetricsNotText(path, lineno, e) from None
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written
            if not isinstance(rec, dict):  # a list or a number on a line was an AttributeError
                raise ValueError(f"{path}: a line holds {type(rec).__name__} {line.strip()[:40]!r}, expected a JSON "
                                 "object of metrics per line")
            # numbers only: "0.5" (a string) or true were plotted as 0.5 and 1.0
            rec = {k: _as_float(v) for k, v in rec.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if "step" not in rec:
                recs.append(rec)
                continue
            step = rec["step"]
            if not np.isfinite(step):  # 1e400 (or a 400-digit integer): a point at inf; NaN: nowhere
                continue
            cut = None
            while stepped and stepped[-1][0] >= step:  # a resume went back: the later records win
                cut = stepped.pop()[1]
            if cut is not None:
                del recs[cut:]
            stepped.append((step, len(recs)))
            recs.append(rec)
    if not recs:
        return {}
    idx = downsample_indices(len(recs), max_points)
    keys = sorted({k for r in recs for k in r})
    return {k: np.asarray([recs[i].get(k, np.nan) for i in idx], np.float64) for k in keys}


# What an output writes, and what an existing file is (:func:`file_kind`): an output replaces only a
# file of its own kind (with --force where the command asks for it), never one of another kind.
CHECKPOINT = "a checkpoint"
DATASET = "an HDF5 episode file"
EVAL_RESULT = "an evaluation result"
BENCH_RESULT = "a benchmark result"
JSON_FILE = "a JSON file of no kind the lab writes"
JSON_OUTPUTS = (EVAL_RESULT, BENCH_RESULT)
"""The kinds written as JSON: they may replace a JSON file of no known kind (with --force)."""
_MAGIC = {b"\x89HDF\r\n\x1a\n": DATASET, b"PK\x03\x04": CHECKPOINT, b"\x1f\x8b": "a gzip-compressed file"}
_JSON_KINDS = (  # (keys the JSON object holds, what it is); the first match wins
    (("planner",), EVAL_RESULT),  # eval --out, and the eval.json beside a shipped checkpoint
    (("rows",), BENCH_RESULT),
    (("frames_encoded",), "a report's results (report.json)"),
    (("model", "train"), "a run's config (config.json)"),
)
_KIND_READ_LIMIT = 32 << 20
"""Bytes of a file read to tell its kind (the lab's JSON outputs are far smaller)."""


def _special_kind(path: str) -> str | None:
    """'a pipe (FIFO)', 'a device', 'a socket' ... for an existing path that is neither a regular file nor a
    folder (checked with os.stat, never opened: opening a FIFO blocks until a writer comes), else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return ("a pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a special file")


def is_safetensors(head: bytes) -> bool:
    """The first bytes of a safetensors file: an 8-byte little-endian header length, then its JSON header."""
    return len(head) >= 10 and head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < (100 << 20)


def file_kind(path: str) -> str | None:
    """What the existing file ``path`` holds, in words (``'an HDF5 episode file'``, ``'a run's config
    (config.json)'``, ``'a JSON-lines log ...'``, ``'a text file (not JSON)'`` ...), from its first
    bytes and, for text, its content; None for an empty or unreadable file. A pipe or a device is never
    opened (that blocked, or read forever): ``'a pipe (FIFO), not a regular file'`` and the like."""
    path = _path_arg("file_kind", path)
    if (special := _special_kind(path)) is not None:
        return f"{special}, not a regular file"
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
            kind = next((what for magic, what in _MAGIC.items() if head.startswith(magic)), None)
            if kind or not head:
                return kind
            if is_safetensors(head):
                return "a safetensors file (weights)"
            try:  # incremental: a character cut at the end of the sample is not an error
                codecs.getincrementaldecoder("utf-8")().decode(head)
            except UnicodeDecodeError:
                return "a binary file of unknown kind"
            if b"\x00" in head:
                return "a binary file of unknown kind"
            head += f.read(_KIND_READ_LIMIT + 1 - len(head))
    except OSError:
        return None
    text = head.decode("utf-8", "replace")
    if len(head) <= _KIND_READ_LIMIT:
        try:
            doc = json.loads(text)
        except ValueError:
            pass
        else:
            keys = doc if isinstance(doc, dict) else {}
            return next((what for need, what in _JSON_KINDS if all(k in keys for k in need)), JSON_FILE)
    first, _, rest = text.strip().partition("\n")
    try:
        json.loads(first)
    except ValueError:
        return "a text file (not JSON)"
    return "a JSON-lines log (like a run's metrics.jsonl)" if rest.strip() else "a text file (not JSON)"


_RUN_FILES = {  # file name -> what it is to the folder it sits in
    "eval.json": "the planner settings and results of the checkpoint beside it (eval reads its settings from it)",
    "last.pt": "a run's training checkpoint (its resume point, with the optimizer state)",
    "model.pt": "the checkpoint of its folder",
    "metrics.jsonl": "a run's metrics log",
    "config.json": "a run's config",
    "report.json": "a report's results",
    "report.html": "a report's page",
}
_FOLDER_MARKS = ("last.pt", "model.pt", "metrics.jsonl", "report.json")
"""Files that make a folder a run's, a shipped checkpoint's or a report's."""


def run_file(path: str) -> str | None:
    """What ``path`` is to its folder when it is one of the files of a run, a shipped checkpoint or
    a report (``eval.json`` beside ``model.pt``, a run's ``metrics.jsonl``, ...), else None."""
    path = _path_arg("run_file", path)  # None was posixpath's "expected str, bytes or os.PathLike"
    name = os.path.basename(path)
    folder = os.path.dirname(os.path.abspath(path))
    if name not in _RUN_FILES or not any(m != name and os.path.isfile(os.path.join(folder, m)) for m in _FOLDER_MARKS):
        return None
    return _RUN_FILES[name]


def example_name(folder: str, writes: str | None) -> str:
    """A file name to suggest inside ``folder`` for an output of kind ``writes`` (was: out.json for HDF5)."""
    return os.path.join(folder, "out." + {CHECKPOINT: "pt", DATASET: "h5"}.get(writes, "json"))


_SUFFIX_KINDS = (  # (name endings, what a file so named is, the kinds written under such a name)
    ((".h5", ".hdf5", ".hdf"), "an HDF5 episode file's (a dataset's)", (DATASET,)),
    ((".pt", ".pth", ".ckpt"), "a checkpoint's", (CHECKPOINT,)),
    ((".json", ".jsonl", ".txt", ".csv", ".log", ".md", ".html", ".htm"), "a text file's (JSON, a log, a page)",
     JSON_OUTPUTS),
    ((".npz", ".npy"), "a numpy array file's", ()),
    ((".gif", ".png", ".jpg", ".jpeg", ".mp4"), "an image's or a video's", ()),
)
_SUFFIX_OF = {DATASET: ".h5", CHECKPOINT: ".pt", EVAL_RESULT: ".json", BENCH_RESULT: ".json"}


def check_out_suffix(path, flag: str, writes: str) -> None:
    """An output's name must not end like a file of another kind (``collect --out x.pt`` / ``x.json`` wrote a
    dataset, ``eval --out o.h5`` a JSON result, under a name every listing takes for something else): one line
    naming the flag, what the name says and what the command writes, with the name to use. A name with no
    suffix, or one the lab does not know, is accepted."""
    if not isinstance(path, (str, os.PathLike)):
        return  # the type is check_out_file's to name
    path = os.fspath(path)
    stem, ext = os.path.splitext(path)
    for ends, what, kinds in _SUFFIX_KINDS:
        if ext.lower() in ends and writes not in kinds:
            raise ValueError(f"{flag} {path}: a {ext} name is {what}, but this writes {writes}: name it "
                             f"{stem}{_SUFFIX_OF.get(writes, '')}")


def check_replaceable(path: str, flag: str, writes: str | None, force: bool | None) -> None:
    """May an output of kind ``writes`` (None: unchecked) replace the existing file ``path``? Never one
    of another kind, even with ``force`` (``export --out data.h5 --force`` replaced a dataset,
    ``collect --out run/metrics.jsonl --force`` a run's log), except a JSON file of no known kind under
    a JSON output with ``force``; a file of a run's, a checkpoint's or a report's folder (:func:`run_file`)
    only with ``force``. Raises FileExistsError naming the file, what it is and what to do."""
    kind = file_kind(path) if writes else None
    if kind and kind != writes:
        if not (kind == JSON_FILE and writes in JSON_OUTPUTS):
            raise FileExistsError(f"{flag} {path}: is {kind}; writing {writes} there would destroy it "
                                  f"(--force replaces only a file of the same kind), choose another {flag}")
        if not force:
            raise FileExistsError(f"{flag} {path}: is {kind}, not {writes}; pass --force to replace it, "
                                  f"or choose another {flag}")
    why = run_file(path)
    if why and not force:  # was: eval --out beside the checkpoint replaced its shipped eval.json silently
        raise FileExistsError(f"{flag} {path}: is {why}; pass --force to replace it, or choose another {flag}")
