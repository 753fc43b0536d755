"""The files of ``python -m lewm eval`` around :mod:`lewm.evaluate`: the ``--data`` it draws start/goal
pairs from (a dataset from ``collect``, or a file of states only: eval reads ``state``, ``ep_len`` and
``ep_offset``, nothing else) and the ``--gif`` folder (never mixing two evaluations' GIFs, never
replacing a file that is not a GIF)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

GIF_NAME = re.compile(r"^[A-Za-z0-9_]+_ep\d{2,}_(ok|fail)\.gif$")
"""The names ``evaluate(gif_dir=...)`` writes: ``two_room_ep00_ok.gif``, ``pusht_ep02_fail.gif``."""


def is_gif(path: str) -> bool:
    """Whether ``path`` is a regular file that starts as a GIF does (``GIF87a`` / ``GIF89a``)."""
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            return f.read(6) in (b"GIF87a", b"GIF89a")
    except OSError:
        return False


def earlier_gifs(folder: str, force: bool, flag: str = "--gif") -> list[str]:
    """The GIFs an earlier eval wrote into ``folder`` (to remove before this one writes, with ``force``).

    Without ``force`` they are refused (was: the folder mixed two evaluations' GIFs, ``ep00_ok.gif`` of one
    seed beside ``ep00_fail.gif`` of another); a file named like one that is not a GIF is refused even with
    ``force`` (was: a dataset named like a GIF was replaced). ValueError naming the folder and the file."""
    from .runs import file_kind
    try:
        names = sorted(n for n in os.listdir(folder) if GIF_NAME.match(n))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for n in names:
        p = os.path.join(folder, n)
        if not is_gif(p):
            what = "a folder" if os.path.isdir(p) else "a link" if os.path.islink(p) else (file_kind(p) or "an empty file")
            raise ValueError(f"{flag} {folder}: {n} there is not a GIF (it is {what}) but has the name of an eval's "
                             f"GIF, which eval would replace; move it away or choose another {flag} folder")
    if names and not force:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise ValueError(f"{flag} {folder}: holds the GIFs of an earlier eval ({shown}); pass --force to replace "
                         f"them, or choose another {flag} folder")
    return [os.path.join(folder, n) for n in names]


def check_eval_data(path: str, env: str, state_dim: int, who: str) -> None:
    """``eval --data``: a dataset from ``collect`` (every check of :func:`lewm.validate.check_dataset`), or an
    HDF5 file of states only (``state``, ``ep_len``, ``ep_offset``; was refused for its missing 'pixels' and
    'action', which eval never reads), whose keys and ``env`` attribute are checked here."""
    from .episode_file import DataError, _check_disjoint, _episode_index, _format_version, _str_attr, h5_dataset, open_h5
    from .validate import check_dataset
    if not _states_only(path):
        try:
            check_dataset(path, env=env, need_state=True, state_dim=state_dim, who=who)
            return
        except DataError as e:  # pixels / actions eval never reads (another layout, a filter not installed, round 25):
            if not re.search(r"key '(pixels|action)'", str(e)):  # its states are checked alone, below
                raise
    from .env_names import env_key
    with open_h5(path) as f:
        _format_version(path, f)
        got = _str_attr(path, "env", f.attrs.get("env"), "two_room")
        if got.strip() and env_key(got) != env_key(env):
            raise DataError(f"{path}: holds {got!r} states (attribute 'env') but {who} is for {env!r}; "
                            f"use data of {env!r}")
        st = h5_dataset(path, f, "state")
        from ._foreign_data import storage_problem
        if bad := storage_problem(path, f, ("state",)):  # never-written rows: zeros read as states (round 28, S1)
            raise DataError(bad)
        if st.ndim != 2 or st.dtype.kind not in "iuf":
            raise DataError(f"{path}: key 'state' must hold real numbers (N, Q), got {st.dtype} {st.shape}")
        if st.shape[1] != state_dim:
            raise DataError(f"{path}: states have {st.shape[1]} numbers (key 'state') but {who}'s environment has "
                            f"{state_dim}: use data of its environment")
        ep_len = _episode_index(path, h5_dataset(path, f, "ep_len"), "ep_len")
        ep_off = _episode_index(path, h5_dataset(path, f, "ep_offset"), "ep_offset")
        if ep_len.shape != ep_off.shape or len(ep_len) == 0 or ep_len.min() < 1 or ep_off.min() < 0 \
                or (ep_off + ep_len).max() > st.shape[0]:
            raise DataError(f"{path}: keys 'ep_len' {ep_len.shape} / 'ep_offset' {ep_off.shape} must give one "
                            f"episode of >= 1 row each inside the {st.shape[0]} rows of 'state'")
        _check_disjoint(path, ep_off, ep_len)
        for lo in range(0, st.shape[0], 1 << 18):
            bad = ~np.isfinite(np.asarray(st[lo:lo + (1 << 18)], np.float64)).all(axis=1)
            if bad.any():
                raise DataError(f"{path}: key 'state' has NaN/inf at row {lo + int(np.flatnonzero(bad)[0])}; "
                                f"re-collect the file")


def _states_only(path: str) -> bool:
    """An HDF5 file with the keys eval reads (``state``, ``ep_len``, ``ep_offset``) but not those of a
    training dataset (``pixels``, ``action``). Anything else (no file, not HDF5) is check_dataset's to judge."""
    if not os.path.isfile(path):
        return False
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return all(k in f for k in ("state", "ep_len", "ep_offset")) and not all(k in f for k in ("pixels", "action"))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError):
        return False


def checkpoint_env(ckpt: str) -> str | None:
    """The environment recorded in the config of the checkpoint at ``ckpt`` (a file, or a folder's
    last.pt / model.pt), normalised by :func:`lewm.env_names.env_key`; None when it cannot be read
    (evaluate() then says why) or records none."""
    import json
    from . import checkpoint
    from .env_names import env_key
    try:
        env = json.loads(checkpoint.read_raw(ckpt).get("config") or "{}").get("env")
    except (checkpoint.CheckpointError, ValueError, TypeError, AttributeError, OSError):
        return None
    return env_key(env) if isinstance(env, str) and env.strip() else None


def recorded_env_problem(doc: dict) -> str | None:
    """What is wrong with the ``env`` an eval.json records, or None (a name, or none recorded: older files). A
    number, a list or an object there is a damaged file (was: taken as "no env recorded", its planner settings
    used for any agent, without a word, by ``eval`` and the lab's Planner page)."""
    env = doc.get("env")
    if env is None or isinstance(env, str):
        return None
    shown = json.dumps(env)[:40] if isinstance(env, (int, float, list, dict)) else repr(env)[:40]
    return f"'env' is {shown}, not the name of the environment whose agent it evaluated (e.g. \"two_room\")"


def check_eval_json_for(path: str, doc: dict, ckpt: str) -> None:
    """The eval.json at ``path`` (beside ``ckpt``) must be an evaluation of an agent of ``ckpt``'s environment:
    its ``env`` (and ``checkpoint``, which `eval --out` records) say whose settings it holds. Was: an eval.json
    written by ``eval --out`` of a Reacher agent into a two_room run's folder silently gave the two_room model
    the Reacher planner. An eval.json that records no env is taken as it is (older files)."""
    from .env_names import env_key
    bad = recorded_env_problem(doc)
    if bad is not None:
        raise ValueError(f"{path}: {bad}; fix it, remove it, or pass --protocol paper")
    env = doc.get("env")
    if not isinstance(env, str) or not env.strip():
        return
    mine = checkpoint_env(ckpt)
    if mine is None or env_key(env) == mine:
        return
    who = doc.get("checkpoint")
    who = f" {who}" if isinstance(who, str) and who else ""
    raise ValueError(f"{path}: holds the settings of the {env} agent{who}, not of {ckpt} ({mine}); move or remove "
                     f"it, or pass --protocol paper")


def check_out_beside(out: str, ckpt: str, force: bool) -> None:
    """``eval --out DIR/eval.json``: DIR must be the evaluated checkpoint's folder, or hold no other checkpoint
    (a later ``eval`` of that one reads the file as its shipped planner settings), unless ``force``."""
    if force or os.path.basename(out) != "eval.json":
        return
    folder = os.path.dirname(out) or "."
    own = ckpt if os.path.isdir(ckpt) else (os.path.dirname(ckpt) or ".")
    if os.path.realpath(folder) == os.path.realpath(own):
        return
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".pt") and os.path.isfile(os.path.join(folder, n)))
    except OSError:
        return
    if names:
        raise ValueError(f"--out {out}: that folder holds another checkpoint ({', '.join(names[:3])}) than --checkpoint "
                         f"{ckpt}, and its evals would read this result as their planner settings; write it "
                         f"elsewhere, or pass --force")


def check_planner_flags(flags, flag_of: dict) -> dict:
    """``resolve_planner(flags=...)``: PlannerConfig field -> value (None = not given). Each given value is
    checked alone, naming its flag (``--samples must be in [1, 100000], got 200000``; was: blamed on the
    eval.json or the library defaults); an unknown field is one ValueError (was: KeyError). Returns the
    given values, numpy scalars as Python numbers."""
    from dataclasses import fields
    from .planning import PlannerConfig
    from .validate import _plain, check_value
    if flags is None:
        return {}
    if not isinstance(flags, dict):
        raise TypeError(f"resolve_planner(flags=...) must be a dict of planner field -> value, got "
                        f"{type(flags).__name__}")
    known = {f.name: f for f in fields(PlannerConfig)}
    unknown = [k for k in flags if k not in known]
    if unknown:
        raise ValueError(f"resolve_planner(flags=...): unknown planner field(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(known))}")
    given = {}
    for k, v in flags.items():
        if v is None:
            continue
        d = known[k].default
        kind = type(d) if isinstance(d, (bool, int, float, str)) else None
        given[k] = _plain(v, kind)
        check_value(flag_of.get(k) or f"resolve_planner(flags=...)[{k!r}]", given[k],
                    known[k].metadata.get("range"), kind)
    return given
