"""The lab's bootstrap, imported first by every app module: the repo and app/ on ``sys.path``, the
torch thread limit of the web server, the page list, and the server's settings with what follows
from them (runs and data folders, device, the one job manager).

The other helpers live one concept per file: :mod:`discovery` (checkpoints and datasets on disk),
:mod:`cache` (heavy objects computed once), :mod:`pickers` (the sidebar checkpoint and the dataset
pickers), :mod:`widgets` (small page widgets), :mod:`live_plot` (the live chart component). Layout
and presentation only: every number shown comes from a ``lewm`` function.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

APP_DIR = Path(__file__).resolve().parent
ROOT = APP_DIR.parent
for _p in (str(ROOT), str(APP_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from lewm import jobs as lewm_jobs  # noqa: E402  (after the sys.path fix)


def limit_torch_threads() -> str | None:
    """Use half the cores in the web server process (1 on a 2-core machine): oversubscribed OpenMP
    (server + training workers + others) made one CEM plan 3-40x slower here. LEWM_LAB_THREADS overrides.
    Returns a warning when LEWM_LAB_THREADS is not a whole number >= 1 (then the default is used)."""
    import torch
    n = default = max(1, (os.cpu_count() or 2) // 2)
    raw = os.environ.get("LEWM_LAB_THREADS")
    problem = None
    if raw:  # "abc" or "0" raised on every page (int() / torch.set_num_threads)
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            n, problem = default, (f"LEWM_LAB_THREADS={raw!r} is not a whole number of threads >= 1; using {default}. "
                                   f"Restart the lab with e.g. LEWM_LAB_THREADS=1, or unset it.")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return problem


limit_torch_threads()  # before any page imports torch's users; lab.py calls it again on every run to show a problem

PAGES = {  # page file -> (title, icon); the order of the navigation
    "app_pages/welcome.py": ("Welcome", ":material/school:"),
    "app_pages/data.py": ("Data", ":material/dataset:"),
    "app_pages/train.py": ("Train (live)", ":material/model_training:"),
    "app_pages/collapse.py": ("Collapse lab", ":material/compress:"),
    "app_pages/latent.py": ("Latent space", ":material/scatter_plot:"),
    "app_pages/dynamics.py": ("Dynamics", ":material/timeline:"),
    "app_pages/planner.py": ("Planner", ":material/route:"),
}


# ---------------------------------------------------------------------------------------------
# Settings: `streamlit run app/lab.py -- --checkpoint X --data Y --runs DIR` or LEWM_LAB_* env vars
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def settings() -> dict:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--data", default=None)
    p.add_argument("--runs", default=None)
    p.add_argument("--device", default=None)
    try:
        a, _ = p.parse_known_args(sys.argv[1:])
    except SystemExit:  # pragma: no cover - never fatal
        a = argparse.Namespace(checkpoint=None, data=None, runs=None, device=None)
    env = os.environ.get

    def paths(v):
        return [x for x in (v or "").split(os.pathsep) if x]

    return {
        "checkpoints": paths(env("LEWM_LAB_CHECKPOINT")) + paths(a.checkpoint),
        "data": paths(env("LEWM_LAB_DATA")) + paths(a.data),
        "runs": os.path.abspath(env("LEWM_LAB_RUNS") or a.runs or str(ROOT / "runs")),
        "runs_given": bool(env("LEWM_LAB_RUNS") or a.runs),
        "device": env("LEWM_LAB_DEVICE") or a.device or "auto",
    }


def runs_dir() -> str:
    return settings()["runs"]


def runs_dir_note() -> str | None:
    """A runs folder set by LEWM_LAB_RUNS / --runs that does not exist is made now (the lab writes runs, data and
    uploads there), and said once, on the page view that made it (was: made without a word: a typo in the
    variable became a new, empty runs root). None when there is nothing to say."""
    path = runs_dir()
    name = "LEWM_LAB_RUNS" if os.environ.get("LEWM_LAB_RUNS") else "--runs"
    if os.path.lexists(path) or not settings()["runs_given"]:
        return None
    try:
        os.makedirs(path)
    except OSError as e:
        return f"{name}={path}: does not exist and cannot be made ({e.strerror or e}); restart the lab with a writable folder."
    return (f"{name}={path}: the folder did not exist; it was created (the lab's runs, data and uploads go there). "
            f"If that is a typo, restart the lab with the right folder.")


def data_dir() -> str:
    return os.path.join(runs_dir(), "data")


def data_dir_error() -> str | None:
    """Why the data folder (``<runs>/data``, where the lab collects) cannot hold datasets (a file, a link to
    nowhere), in the words of the setting, or None (a missing folder is made when needed)."""
    path = data_dir()
    name = "LEWM_LAB_RUNS" if os.environ.get("LEWM_LAB_RUNS") else "--runs"
    if os.path.islink(path) and not os.path.exists(path):
        return (f"{name}/data ({path}): a symbolic link to {os.readlink(path)}, which does not exist; create its "
                f"target or remove the link, then collect again.")
    if os.path.exists(path) and not os.path.isdir(path):
        return (f"{name}/data ({path}): is a file, expected the data folder (collected datasets go there); move "
                f"or remove it, then collect again.")
    return None


def device_error() -> str | None:
    """Why the device setting (LEWM_LAB_DEVICE or --device) cannot be used here, or None. The library's
    words name the CLI's --device: name the lab's setting instead."""
    from lewm.validate import check_device
    spec = settings()["device"]
    if spec == "auto":
        return None
    name = "LEWM_LAB_DEVICE" if os.environ.get("LEWM_LAB_DEVICE") else "--device"
    try:
        check_device(spec, flag="--device")
    except ValueError as e:  # in the words of what set it: the variable or the flag
        msg = str(e).replace("use --device ", f"restart the lab with {name}=")
        return name + msg[len("--device"):] if msg.startswith("--device") else msg
    return None


def device() -> str:
    from lewm.train import resolve_device
    if (err := device_error()) is not None:  # lab.py stops every page on it; a direct call gets the same words
        raise ValueError(err)
    return str(resolve_device(settings()["device"]))


def _release(manager) -> None:
    manager.shutdown()


def runs_dir_error() -> str | None:
    """Why the runs folder (LEWM_LAB_RUNS / --runs) cannot hold runs (it is a file), in the words of what set
    it, or None."""
    path = runs_dir()
    if not os.path.exists(path) or os.path.isdir(path):
        return None
    name = "LEWM_LAB_RUNS" if os.environ.get("LEWM_LAB_RUNS") else "--runs"
    return (f"{name}={path}: is a file, expected a folder (the lab's runs, data and uploads go there); "
            f"restart the lab with {name} naming a folder.")


@st.cache_resource(show_spinner=False, on_release=_release)
def _job_manager() -> lewm_jobs.JobManager:
    return lewm_jobs.JobManager(runs_dir(), max_active_train=2)


def job_manager() -> lewm_jobs.JobManager:
    """One job manager per server process: runs outlive browser sessions and reloads. A runs folder that is a
    file stops the page with one error naming the setting (was: the JobManager's exception box)."""
    if (err := runs_dir_error()) is not None:
        st.error(err, icon=":material/folder_off:")
        st.stop()
    return _job_manager()
