"""The HDF5 episode file (DESIGN §5 layout): open it, check its layout, read one episode.

Flat datasets with every episode concatenated on axis 0 — ``pixels`` (N, S, S, 3) uint8, ``action`` (N, A) float,
optional ``state`` (N, Q) and ``goal_state`` (E, Q) — plus ``ep_len`` (E,) and ``ep_offset`` (E,); the field's tools
use the same layout. Every problem is a :class:`DataError` naming the file and the key. The training windows over
such a file are :mod:`lewm.data`'s.
"""
from __future__ import annotations

import os

import numpy as np

from ._data_checks import attr_mismatch, duplicate_name, h5_path, whole_at_least as _whole
from ._foreign_data import missing_keys_message, pixels_problem, storage_problem, unreadable_h5
from .env_names import env_key
from .paths import why_missing

REQUIRED_KEYS = ("pixels", "action", "ep_len", "ep_offset")


class DataError(ValueError):
    """A dataset file is unusable; the message names the file and the key."""


def open_h5(path: str):
    """Open an HDF5 file for reading; a missing or unreadable file raises DataError naming it."""
    import h5py
    path = h5_path(path)
    if os.path.isdir(path):  # h5py's message for a folder is errno 21 spread over several lines
        raise DataError(f"{path}: is a folder, expected an HDF5 episode file (.h5) inside it")
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe blocks h5py for ever; a device is no dataset
        raise DataError(f"{path}: is a device or pipe, not a regular file; expected an HDF5 episode file (.h5)")
    if not os.path.exists(path) and os.path.lexists(path):  # a link loop was h5py's errno-40 line
        raise DataError(f"{path}: {why_missing(path)}")
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: {why_missing(path).replace('no such file', 'no such dataset file', 1)}") from None
    except OSError as e:  # a writer's lock or mark; an empty, cut-short or foreign file: said what it is
        raise DataError(unreadable_h5(path, e)) from None


def h5_dataset(path: str, f, key: str):
    """``f[key]`` as an HDF5 dataset, or a DataError naming the key: a group there (another tool's
    nesting) was an AttributeError, a dangling or external link h5py's 'component not found'."""
    import h5py
    try:
        obj = f[key]
    except (KeyError, OSError) as e:
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DataError(f"{path}: key {key!r} cannot be opened (a broken or external link?): {msg}") from None
    if not isinstance(obj, h5py.Dataset):
        raise DataError(f"{path}: key {key!r} is an HDF5 {type(obj).__name__.lower()}, expected a dataset "
                        f"(an array) at the top of the file")
    return obj


def _episode_index(path: str, ds, key: str) -> np.ndarray:
    """``ep_len`` / ``ep_offset`` as int64: a 1-D array of whole numbers, or a DataError naming the key."""
    if ds.ndim != 1 or ds.dtype.kind not in "iu":
        raise DataError(f"{path}: key {key!r} must be a 1-D array of whole numbers (one per episode), "
                        f"got {ds.dtype} {ds.shape}")
    raw = ds[:]
    if raw.size and raw.dtype.kind == "u" and int(raw.max()) > np.iinfo(np.int64).max:  # would wrap negative
        raise DataError(f"{path}: key {key!r} holds {int(raw.max())}, more rows than any file has")
    return np.asarray(raw, dtype=np.int64)


def _check_disjoint(path: str, ep_off: np.ndarray, ep_len: np.ndarray) -> None:
    """Episodes may come in any order but must not share rows (else a window mixes two episodes)."""
    order = np.argsort(ep_off, kind="stable")
    ends, starts = (ep_off + ep_len)[order][:-1], ep_off[order][1:]
    clash = np.flatnonzero(ends > starts)
    if clash.size:
        a, b = int(order[clash[0]]), int(order[clash[0] + 1])
        raise DataError(f"{path}: episodes {a} and {b} overlap (keys 'ep_offset'/'ep_len': rows "
                        f"{int(ep_off[a])}..{int(ep_off[a] + ep_len[a]) - 1} and {int(ep_off[b])}..); "
                        f"every row must belong to one episode at most")


FORMAT_VERSION = 1
"""The episode-file layout ``collect`` writes (attribute ``lewm_format_version``); a newer one is refused."""


def _format_version(path: str, f) -> int | None:
    """The ``lewm_format_version`` attribute of a file this lab's ``collect`` wrote (None: another
    tool's file). A newer version than this code writes is refused (it was never read)."""
    raw = f.attrs.get("lewm_format_version")
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.shape in ((), (1,)):
        raw = raw.reshape(-1)[0]
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, np.integer)) or raw < 1:
        raise DataError(f"{path}: attribute 'lewm_format_version' must be a whole number >= 1, got {raw!r:.60}")
    if raw > FORMAT_VERSION:
        raise DataError(f"{path}: written in episode-file format {int(raw)} (attribute 'lewm_format_version') but "
                        f"this lewm reads format {FORMAT_VERSION} at most; update lewm, or re-collect the file")
    return int(raw)


def validate_file(path: str, image_size: int | None = None) -> dict:
    """Check the layout; return basic facts. Raises DataError naming the file and key.

    Files written by ``python -m lewm collect`` (attribute ``lewm_format_version``) are also checked
    for a format newer than this code (``eval`` checks their states against the world:
    ``lewm.evaluate.check_world_states``)."""
    if image_size is not None:  # 0 suggested "collect at --image-size 0"
        _whole("validate_file", "image_size", image_size, 8)
    with open_h5(path) as f:
        missing = [k for k in REQUIRED_KEYS if k not in f]
        if missing:  # the file's near match named ('Pixels', 'actions'), the episode index explained
            raise DataError(missing_keys_message(path, list(f), missing, REQUIRED_KEYS))
        px, act = h5_dataset(path, f, "pixels"), h5_dataset(path, f, "action")
        if bad := storage_problem(path, f, (*REQUIRED_KEYS, "state", "goal_state")):  # a filter not installed, a lost VDS source
            raise DataError(bad)
        if bad := pixels_problem(path, px.dtype, px.shape):  # float, channels-first, grey ...: how to convert
            raise DataError(bad)
        if px.shape[1] != px.shape[2]:
            raise DataError(f"{path}: key 'pixels' must hold square images, got {px.shape[1]}x{px.shape[2]}")
        if act.ndim != 2 or act.dtype.kind not in "fiu":  # integers are exact as float32: accepted (round 25)
            raise DataError(f"{path}: key 'action' must be numbers (N, A), got {act.dtype} {act.shape}")
        if act.shape[1] < 1:  # trained until model.action_dim refused 0, after the statistics
            raise DataError(f"{path}: key 'action' has no column {act.shape}; expected (N, A) with A >= 1 "
                            f"action dimensions")
        if act.shape[0] != px.shape[0]:
            raise DataError(f"{path}: key 'action' has {act.shape[0]} rows but 'pixels' has {px.shape[0]}")
        ep_len = _episode_index(path, h5_dataset(path, f, "ep_len"), "ep_len")
        ep_off = _episode_index(path, h5_dataset(path, f, "ep_offset"), "ep_offset")
        if ep_len.shape != ep_off.shape:
            raise DataError(f"{path}: 'ep_len' {ep_len.shape} and 'ep_offset' {ep_off.shape} differ")
        if len(ep_len) == 0:
            raise DataError(f"{path}: 'ep_len' is empty: the file holds no episode")
        if ep_len.min() < 1:
            e = int(np.argmin(ep_len))
            raise DataError(f"{path}: 'ep_len' of episode {e} is {int(ep_len[e])}; every episode needs >= 1 frame")
        if (ep_off + ep_len).max() > px.shape[0] or ep_off.min() < 0:
            raise DataError(f"{path}: 'ep_offset'/'ep_len' point past the {px.shape[0]} rows of 'pixels'")
        _check_disjoint(path, ep_off, ep_len)
        state = h5_dataset(path, f, "state") if "state" in f else None
        q_state = [("state_dim", int(state.shape[1]), "the width of key 'state'")] \
            if state is not None and state.ndim == 2 else []
        bad = attr_mismatch(path, f.attrs, [("image_size", int(px.shape[1]), "the image side of key 'pixels'"),
                                                 ("action_dim", int(act.shape[1]), "the width of key 'action'"), *q_state])
        if bad:
            raise DataError(bad)
        if image_size is not None and px.shape[1] != image_size:
            raise DataError(f"{path}: images are {px.shape[1]}x{px.shape[1]} but the model expects "
                            f"{image_size}x{image_size} (key 'pixels'); collect at --image-size {image_size}")
        if state is not None and state.dtype.kind not in "iuf":  # complex lost its imaginary part silently
            raise DataError(f"{path}: key 'state' must hold real numbers (int or float), got {state.dtype}")
        version = _format_version(path, f)
        names = _str_attr(path, "state_names", f.attrs.get("state_names"), "x,y")
        n_names = len([n for n in names.split(",") if n])
        if dup := duplicate_name(path, names):
            raise DataError(dup)
        if state is not None and state.ndim == 2 and n_names and n_names != state.shape[1]:
            # the report's probes failed after encoding ("3 state_names for 2 state columns")
            raise DataError(f"{path}: attribute 'state_names' names {n_names} components ({names!r}) but key "
                            f"'state' has {state.shape[1]} columns; fix the attribute (comma-separated)")
        goal = h5_dataset(path, f, "goal_state") if "goal_state" in f else None
        if goal is not None:  # was never checked: load_episode returned 5 numbers for a 2-D env
            q = state.shape[1] if state is not None and state.ndim == 2 else None
            if goal.ndim != 2 or goal.shape[0] != len(ep_len) or (q is not None and goal.shape[1] != q) \
                    or goal.dtype.kind not in "iuf":
                want = f"({len(ep_len)}, {q if q is not None else 'Q'})"
                raise DataError(f"{path}: key 'goal_state' must be real numbers {want}: one goal state per episode "
                                f"as wide as 'state', got {goal.dtype} {goal.shape}")
        env = _str_attr(path, "env", f.attrs.get("env"), "two_room")
        return {
            "num_frames": int(px.shape[0]), "image_size": int(px.shape[1]), "action_dim": int(act.shape[1]),
            "num_episodes": int(len(ep_len)), "ep_len": ep_len, "ep_offset": ep_off,
            "env": env_key(env) if env.strip() else "", "has_state": state is not None,
            "state_names": tuple(n for n in names.split(",") if n),
            "pixel_bytes": int(np.prod(px.shape)), "format_version": version,
        }


def _str_attr(path: str, name: str, raw, example: str) -> str:
    """A text attribute ('' when absent). Another tool's fixed-length string (bytes) is decoded;
    anything else is an error, not the name "b'two_room'" or "5"."""
    if raw is None:
        return ""
    if isinstance(raw, np.ndarray) and raw.shape in ((), (1,)):
        raw = raw.reshape(-1)[0] if raw.shape else raw[()]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = None
    if not isinstance(raw, str):
        raise DataError(f"{path}: attribute {name!r} must be a string, got {raw!r:.60}; "
                        f"set it, e.g. f.attrs[{name!r}] = {example!r}")
    return raw


def load_episode(path: str, episode: int) -> dict[str, np.ndarray]:
    """One whole episode: pixels (L, S, S, 3) uint8, action (L, A) (NaN zeroed), and when the file
    has them its state (L, Q) and the episode's goal_state (Q,) (what the env drew as the target)."""
    if isinstance(episode, (bool, np.bool_)) or not isinstance(episode, (int, np.integer)):
        # 1.5 and '1' were h5py / comparison errors, True episode 1
        raise TypeError(f"load_episode: episode must be a whole number (an episode index), got {episode!r:.40}")
    with open_h5(path) as f:
        if bad := storage_problem(path, f, ("pixels", "action", "state", "goal_state")):  # was h5py's plugin-path line
            raise DataError(bad)
        E = len(f["ep_len"])
        if not 0 <= episode < E:
            raise DataError(f"{path}: episode {episode} out of range (file has {E}; key 'ep_len')")
        off, n = int(f["ep_offset"][episode]), int(f["ep_len"][episode])
        out = {"pixels": f["pixels"][off:off + n], "action": np.nan_to_num(f["action"][off:off + n].astype(np.float32))}
        if "state" in f:
            out["state"] = f["state"][off:off + n].astype(np.float32)
        if "goal_state" in f:
            goal = f["goal_state"]
            if goal.ndim != 2 or len(goal) != E or ("state" in f and goal.shape[1] != out["state"].shape[-1]):
                raise DataError(f"{path}: key 'goal_state' must be ({E}, Q): one goal per episode as wide as "
                                f"'state', got {goal.shape}")
            out["goal_state"] = goal[int(episode)].astype(np.float32)
        return out
