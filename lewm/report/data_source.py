"""Which episodes a report is made from when ``--data`` is not given: the reference set shipped
beside the checkpoint (``reference.h5``), else a few held-out episodes collected now from the
checkpoint's environment into the output folder (one line says so)."""
from __future__ import annotations

import os

REFERENCE_NAME = "reference.h5"
"""The small reference set shipped beside a checkpoint (``scripts/make_reference_sets.py``)."""
HELDOUT_NAME = "heldout.h5"
"""Where the episodes collected for a report without data go (inside ``--out``)."""
HELDOUT_SEED = 123
"""Collection seed of the held-out episodes (the reference sets' seed; training data uses 0)."""
HELDOUT_LEN = 100
"""Steps per collected episode (as the reference sets)."""
MIN_EPISODES = 8
"""Fewest episodes collected: with frameskip 5, 8 x 100 steps give the report's 40+ frames."""
HELDOUT_MARK = "lewm_report_heldout"
"""The attribute a report writes into the ``heldout.h5`` it collected: the file is the report's own."""


def is_report_heldout(path: str) -> bool:
    """Whether ``path`` is held-out episodes a report collected (and so may replace): a regular HDF5
    file with :data:`HELDOUT_MARK`, or, from a report before the mark, one with the attributes of the
    report's collection (expert, seed 123, 100 steps) beside that report's report.json / report.html."""
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(path, str):  # None was "lstat: path should be string, bytes or os.PathLike"
        raise TypeError(f"is_report_heldout(path=...) must be a path (a string), got {path!r:.60}")
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    try:
        import h5py
        with h5py.File(path, "r") as f:
            a = dict(f.attrs)
    except Exception:  # noqa: BLE001 (not HDF5, unreadable: not the report's)
        return False
    if a.get(HELDOUT_MARK):
        return True
    folder = os.path.dirname(os.path.abspath(path))
    try:
        legacy = (a.get("created_by") == "lewm.collect" and a.get("policy") == "expert"
                  and int(a.get("seed", -1)) == HELDOUT_SEED and int(a.get("episode_len", -1)) == HELDOUT_LEN)
    except (TypeError, ValueError):
        return False
    return legacy and any(os.path.isfile(os.path.join(folder, n)) for n in ("report.json", "report.html"))


def check_heldout_free(out: str, flag: str = "make_report(out=...)") -> None:
    """``out/heldout.h5`` (where a report without data collects its episodes) is absent or a report's own;
    a file of the user's there is never replaced, even with --force (was: the user's dataset was deleted)."""
    path = os.path.join(out, HELDOUT_NAME)
    if os.path.lexists(path) and not is_report_heldout(path):
        from ..errors import OutputExistsError
        from ..runs import file_kind
        what = (file_kind(path) if os.path.isfile(path) else None) or "a file"
        raise OutputExistsError(f"{flag} {out}: {path} is {what} not written by a report (a report without data "
                                f"collects its episodes into that name); it is never replaced, even with --force: "
                                f"pass --data {path} to use it, or choose another output folder")


def reference_beside(checkpoint: str) -> str | None:
    """``reference.h5`` in the checkpoint's folder (or in the folder given as the checkpoint), if any."""
    from .._api_checks import path as check_path
    checkpoint = check_path("reference_beside", "checkpoint", checkpoint)  # was: "stat: path should be ..."
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    path = os.path.join(folder, REFERENCE_NAME)
    return path if os.path.isfile(path) else None


def report_data(checkpoint: str, data: str | None, cfg, out: str, episodes: int, say=print) -> str:
    """The HDF5 file the report reads: ``data`` if given, else the checkpoint's ``reference.h5``,
    else ``max(episodes, 8)`` expert episodes of ``cfg.env`` collected into ``out/heldout.h5``."""
    if data:
        return data
    ref = reference_beside(checkpoint)
    if ref is not None:
        say(f"no --data: using the reference set beside the checkpoint, {ref}")
        return ref
    from ..data import DataError
    from ..envs import list_envs, missing_packages
    if cfg.env not in list_envs():
        raise DataError(f"checkpoint {checkpoint}: no --data given, no {REFERENCE_NAME} beside it, and its env "
                        f"{cfg.env!r} cannot collect episodes{missing_packages(cfg.env)}: pass --data FILE.h5")
    from ..collect import collect
    n = max(int(episodes), MIN_EPISODES)
    path = os.path.join(out, HELDOUT_NAME)
    say(f"no --data and no {REFERENCE_NAME} beside the checkpoint: collecting {n} held-out {cfg.env} episodes "
        f"({HELDOUT_LEN} steps, expert policy, seed {HELDOUT_SEED}) into {path}")
    os.makedirs(out, exist_ok=True)
    check_heldout_free(out)
    if os.path.exists(path):
        os.remove(path)
    got = collect(cfg.env, n, path, image_size=cfg.model.image_size, policy="expert", workers=1,
                  seed=HELDOUT_SEED, episode_len=HELDOUT_LEN, progress=False)
    import h5py
    with h5py.File(got, "a") as f:  # a later report (--force) may replace it: no other file of that name
        f.attrs[HELDOUT_MARK] = 1
    return got


def env_state_dim(env: str, image_size: int) -> int | None:
    """The state width of the checkpoint's environment (None: not a known one). ``report`` checks the data's states
    against it before any work (was: "two_room: probe_quantities: states must be (N, 2)" after the encoding)."""
    from ..diagnostics import renderer_for
    try:
        q = getattr(renderer_for(env or None, image_size), "state_dim", None)
    except (ValueError, TypeError):  # a size it cannot draw: the report's own step says so
        return None
    return int(q) if isinstance(q, int) and q > 0 else None
