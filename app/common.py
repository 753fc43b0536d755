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


def _limit_torch_threads() -> None:
    """Use half the cores in the web server process (1 on a 2-core machine): oversubscribed OpenMP
    (server + training workers + others) made one CEM plan 3-40x slower here. LEWM_LAB_THREADS overrides."""
    import torch
    n = int(os.environ.get("LEWM_LAB_THREADS") or max(1, (os.cpu_count() or 2) // 2))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


_limit_torch_threads()

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
        "device": env("LEWM_LAB_DEVICE") or a.device or "auto",
    }


def runs_dir() -> str:
    return settings()["runs"]


def data_dir() -> str:
    return os.path.join(runs_dir(), "data")


def device() -> str:
    from lewm.train import resolve_device
    return str(resolve_device(settings()["device"]))


def _release(manager) -> None:
    manager.shutdown()


@st.cache_resource(show_spinner=False, on_release=_release)
def job_manager() -> lewm_jobs.JobManager:
    """One job manager per server process: runs outlive browser sessions and reloads."""
    return lewm_jobs.JobManager(runs_dir(), max_active_train=2)
