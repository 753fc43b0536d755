"""Finding checkpoints and datasets on disk, and naming them: the command line's files, the shipped
checkpoints and reference sets, the runs and uploads; a dataset's header and whether it fits a
checkpoint (its env and image size). No widgets here."""
from __future__ import annotations

import functools
import glob
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import streamlit as st

from common import ROOT, data_dir, runs_dir, settings
from lewm.data import DataError

import refstore  # app/refstore.py: reference sets and stored maps


def rel(path: str) -> str:
    try:
        return os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(str(ROOT)) else path
    except ValueError:
        return path


EVAL_JSON_MAX_BYTES = 4 * 1024 * 1024
"""An eval.json larger than this is not read (the shipped ones are about 20 kB; /dev/zero read forever)."""


def eval_json_path(ckpt: str) -> str:
    """The ``eval.json`` beside a checkpoint."""
    return os.path.join(os.path.dirname(os.path.abspath(ckpt)), "eval.json")


@functools.lru_cache(maxsize=8)
def _parse_json(path: str, stamp: tuple) -> tuple[object, str | None]:
    """(the JSON in ``path``, None) or (None, a problem in words); read once per ``stamp`` (its os.stat)."""
    try:  # O_NONBLOCK: a FIFO put there since the stat opens at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    with os.fdopen(fd, "rb") as f:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, "is not a regular file"
            raw = f.read(EVAL_JSON_MAX_BYTES + 1)
        except OSError as e:
            return None, f"cannot be read ({e.strerror or e})"
    if len(raw) > EVAL_JSON_MAX_BYTES:
        return None, f"is more than {EVAL_JSON_MAX_BYTES // 2**20} MB, too big for an evaluation summary: not read"
    if not raw.strip():
        return None, "is empty"
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError as e:
        return None, f"is not UTF-8 text (byte {e.start})"
    except json.JSONDecodeError as e:
        return None, f"is not valid JSON ({e.msg}, line {e.lineno})"
    except RecursionError:  # "[" * 200000: an exception box on every page (the sidebar reads it)
        return None, "is nested too deeply to be read as JSON"
    except (ValueError, MemoryError) as e:  # a 5000-digit integer (int max str digits), ...
        return None, f"is not usable JSON ({str(e)[:80]})"


def read_eval_json(path: str) -> tuple[object, str | None]:
    """The JSON in an ``eval.json`` and a one-line problem: (data, None); (None, None) when there is no such
    file (a dangling link too); (None, "is a folder" / "is a pipe (FIFO), not a regular file" / "is 40.0 MB,
    ..." / "is not valid JSON ..." / "is nested too deeply ...") otherwise. Anything but a regular file is never
    opened (a FIFO blocked every page, /dev/zero read without end), and a file is parsed once per change
    (its stat: mtime, size, inode)."""
    try:
        s = os.stat(path)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as e:  # a symlink loop, a name too long
        return None, f"cannot be read ({getattr(e, 'strerror', None) or e})"
    if stat.S_ISDIR(s.st_mode):
        return None, "is a folder, not a file"
    if not stat.S_ISREG(s.st_mode):
        from lewm.runs import file_kind
        return None, f"is {file_kind(path) or 'not a regular file'}"
    if s.st_size > EVAL_JSON_MAX_BYTES:
        return None, (f"is {s.st_size / 2**20:.1f} MB, more than the {EVAL_JSON_MAX_BYTES // 2**20} MB an evaluation "
                      f"summary can be: not read")
    return _parse_json(path, (s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino, s.st_dev))


def success_of(path: str) -> tuple[float | None, str | None]:
    """(success rate, None) from the ``eval.json`` beside a checkpoint: a finite number in [0, 1] (a numeric
    string too); (None, None) without one; (None, why) when the file or its ``success_rate`` is unusable
    (NaN, Infinity, 5 and -0.5 were shown as "nan%", "500%" ... and sorted first)."""
    data, problem = read_eval_json(eval_json_path(path))
    if problem is not None:
        return None, f"eval.json {problem}"
    if not isinstance(data, dict) or data.get("success_rate") is None:
        return None, None
    v = data["success_rate"]
    try:
        f = None if isinstance(v, bool) else float(v)
    except (TypeError, ValueError, OverflowError):
        f = None
    if f is None or not math.isfinite(f) or not 0.0 <= f <= 1.0:
        return None, f"eval.json success_rate {str(v)[:20]} is not a rate in [0, 1]"
    return f, None


def shipped_success(path: str) -> float | None:
    """Success rate from the ``eval.json`` beside a checkpoint (a finite number in [0, 1]), or None."""
    return success_of(path)[0]


def list_checkpoints() -> list[tuple[str, str]]:
    """(label, path): given on the command line, shipped (checkpoints/*/model.pt, best evaluated
    success first, so the lab opens on the best agent), runs (newest first)."""
    out: list[tuple[str, str]] = []
    for p in settings()["checkpoints"]:
        out.append((f"{Path(p).parent.name}/{Path(p).name} (given)", os.path.abspath(p)))
    shipped = sorted(glob.glob(str(ROOT / "checkpoints" / "*" / "model.pt")))
    success = {p: success_of(p) for p in shipped}
    shipped.sort(key=lambda p: -(success[p][0] if success[p][0] is not None else -1.0))  # stable: alphabetical
    for p in shipped:  # among equals; no usable rate: last, and the label says why
        sr, why = success[p]
        out.append((f"{Path(p).parent.name} (shipped" + (f", {100 * sr:.0f}% success)" if sr is not None else
                                                         f"; {why})" if why else ")"), p))
    uploads = os.path.join(runs_dir(), "uploads")
    runs = [p for p in glob.glob(os.path.join(runs_dir(), "*", "last.pt")) if Path(p).parent != Path(uploads)]
    runs += glob.glob(os.path.join(uploads, "*.pt"))
    for p in sorted(runs, key=lambda x: os.path.getmtime(x) if os.path.exists(x) else 0, reverse=True):
        is_upload = Path(p).parent == Path(uploads)
        out.append((f"upload: {Path(p).name}" if is_upload else f"{Path(p).parent.name} (run)", p))
    seen, uniq = set(), []
    for label, p in out:
        if p not in seen:
            seen.add(p)
            uniq.append((label, p))
    return uniq


def given_data_problem(path: str) -> str | None:
    """Why a file given as data (LEWM_LAB_DATA / --data) is not an HDF5 dataset (a checkpoint, a folder, no
    such file), or None. Such a file is left out of the lists, and :func:`given_data_notes` says so."""
    from lewm.runs import DATASET, file_kind
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "a folder"
    kind = file_kind(path)
    return None if kind == DATASET else f"{kind or 'an empty or unreadable file'}, not an HDF5 dataset"


def given_data_notes() -> list[str]:
    """One line per file given as data that cannot be a dataset (was: left out of the lists without a word)."""
    from_env = {os.path.abspath(p) for p in (os.environ.get("LEWM_LAB_DATA") or "").split(os.pathsep) if p}
    notes = []
    for p in settings()["data"]:
        why = given_data_problem(p)
        if why is not None:
            name = "LEWM_LAB_DATA" if os.path.abspath(p) in from_env else "--data"
            notes.append(f"{name}={p}: {why}; it is not listed. Restart the lab with an .h5 episode file "
                         f"(python -m lewm collect writes one).")
    return notes


def list_datasets() -> list[str]:
    """HDF5 files: given on the command line, runs/data/, data/ of the repo (newest first), then the
    reference sets shipped beside the checkpoints (checkpoints/*/reference.h5)."""
    given = [os.path.abspath(p) for p in settings()["data"] if given_data_problem(p) is None]
    found = glob.glob(os.path.join(data_dir(), "*.[hH]5")) + glob.glob(str(ROOT / "data" / "*.[hH]5"))  # x.H5 too
    found = sorted(found, key=lambda x: os.path.getmtime(x) if os.path.exists(x) else 0, reverse=True)
    refs = sorted(glob.glob(str(ROOT / "checkpoints" / "*" / refstore.REFERENCE_NAME)))
    out = []
    for p in given + found + refs:
        if p not in out:
            out.append(p)
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def dataset_info(path: str, mtime: float) -> dict:
    """lewm.episode_file.validate_file without the big arrays (raises DataError)."""
    from lewm.data import validate_file
    info = validate_file(path)
    info = dict(info)
    info["ep_len"] = np.asarray(info["ep_len"])
    info["ep_offset"] = np.asarray(info["ep_offset"])
    return info


@st.cache_data(show_spinner=False, max_entries=64)
def world_error(path: str, mtime: float, env_name: str, image_size: int) -> str | None:
    """Why the states of a dataset cannot be states of ``env_name`` (lewm.evaluate.check_world_states:
    states x100 or inside a wall made the planner and the dynamics views crash), or None."""
    from lewm.envs import list_envs, make
    from lewm.evaluate import check_world_states
    if env_name not in list_envs():
        return None
    try:
        check_world_states(path, make(env_name, image_size=image_size))
    except DataError as e:
        return str(e)
    return None


def _same_env(a: str, b: str) -> bool:
    """Two spellings of one environment ('TwoRoom', 'swm/TwoRoom-v1', 'two_room'), as ``lewm eval`` compares an
    eval.json's env with its checkpoint's (``lewm.env_names.env_key``)."""
    from lewm.env_names import env_key
    try:
        return env_key(a) == env_key(b)
    except (TypeError, ValueError):  # a name with no letter or digit
        return a == b


def evaluated_planner(ckpt: str, env: str | None = None) -> tuple[dict, list[str]]:
    """The planner settings a checkpoint was evaluated with (``eval.json`` beside it) and the notes to show
    (one line each, naming the file): ({}, notes) when the file is unreadable, is not a JSON object, has a
    ``planner`` that is not an object (a number, a list) or none, records an ``env`` that is not a name (5, a list),
    or comes from another env than ``env`` (the checkpoint's: Reacher's settings were used to plan Two-Room). No
    eval.json: ({}, [])."""
    path = eval_json_path(ckpt)
    data, problem = read_eval_json(path)
    if problem is not None:
        return {}, [f"{rel(path)} {problem}; using the page's default planner settings."]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [f"{rel(path)} holds {type(data).__name__} {str(data)[:40]}, expected an object with a "
                    f"'planner'; using the page's default planner settings."]
    from lewm._eval_files import recorded_env_problem
    if (bad := recorded_env_problem(data)) is not None:  # was: taken as "no env recorded", its settings used
        return {}, [f"{rel(path)}: {bad}; its planner settings are not used (the page's defaults are)."]
    planner = data.get("planner")
    if planner is None:  # was: the page's defaults without a word (eval refuses such a file)
        return {}, [f"{rel(path)} has no 'planner' object (the settings `python -m lewm eval --out` writes); using "
                    f"the page's default planner settings."]
    if not isinstance(planner, dict):
        return {}, [f"{rel(path)}: 'planner' is {type(planner).__name__} {str(planner)[:60]}, expected an object "
                    f"of planner settings; using the defaults."]
    their = data.get("env")
    if env is not None and isinstance(their, str) and their.strip() and not _same_env(their, env):
        return {}, [f"{rel(path)} is the evaluation of a '{their[:40]}' agent, not of this '{env}' checkpoint; "
                    f"its planner settings are not used (the page's defaults are)."]
    return dict(planner), []


def mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def dataset_fits(path: str, cfg) -> bool:
    """Whether a dataset comes from the checkpoint's env at its image size (False when unreadable)."""
    try:
        i = dataset_info(path, mtime(path))
    except DataError:
        return False
    return i["env"] == cfg.env and i["image_size"] == cfg.model.image_size


def dataset_label(path: str) -> str:
    if Path(path).name == refstore.REFERENCE_NAME and Path(path).parent.parent == ROOT / "checkpoints":
        return f"{rel(path)} (reference set of {Path(path).parent.name})"
    return rel(path)


def has_matching_dataset(cfg) -> bool:
    """Whether some known dataset comes from the checkpoint's environment at its image size."""
    return any(dataset_fits(p, cfg) for p in list_datasets())
