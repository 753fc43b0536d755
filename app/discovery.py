"""Finding checkpoints and datasets on disk, and naming them: the command line's files, the shipped
checkpoints and reference sets, the runs and uploads; a dataset's header and whether it fits a
checkpoint (its env and image size). No widgets here."""
from __future__ import annotations

import glob
import json
import os
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


def shipped_success(path: str) -> float | None:
    """Success rate from the ``eval.json`` beside a checkpoint, or None."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "eval.json")) as f:
            v = json.load(f).get("success_rate")
        return None if v is None else float(v)
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def list_checkpoints() -> list[tuple[str, str]]:
    """(label, path): given on the command line, shipped (checkpoints/*/model.pt, best evaluated
    success first, so the lab opens on the best agent), runs (newest first)."""
    out: list[tuple[str, str]] = []
    for p in settings()["checkpoints"]:
        out.append((f"{Path(p).parent.name}/{Path(p).name} (given)", os.path.abspath(p)))
    shipped = sorted(glob.glob(str(ROOT / "checkpoints" / "*" / "model.pt")))
    shipped.sort(key=lambda p: -(shipped_success(p) or -1.0))  # stable: alphabetical among equals
    for p in shipped:
        sr = shipped_success(p)
        out.append((f"{Path(p).parent.name} (shipped" + (f", {100 * sr:.0f}% success)" if sr is not None else ")"), p))
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
    """lewm.data.validate_file without the big arrays (raises DataError)."""
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


def evaluated_planner(ckpt: str) -> dict:
    """The planner settings a checkpoint was evaluated with (``eval.json`` beside it), or {}.
    A ``planner`` that is not a JSON object (a number, a list) is unusable: warned about, then {}."""
    path = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "eval.json")
    try:
        with open(path) as f:
            planner = json.load(f).get("planner") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(planner, dict):
        st.warning(f"{rel(path)}: 'planner' is {type(planner).__name__} {str(planner)[:60]}, expected an object "
                   f"of planner settings; using the defaults.")
        return {}
    return planner


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
