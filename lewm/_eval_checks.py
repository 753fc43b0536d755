"""Argument checks of :func:`lewm.evaluate.eval_pairs`, :func:`lewm.evaluate.evaluate` and
:func:`lewm.evaluate.save_gif` (the Python API): one clear line naming the argument, before any work
(round 23: ``eval_pairs(episodes=-1)`` was ``[]``, ``offset=0`` a goal equal to its start, ``seed=-1`` numpy's
"expected non-negative integer", a missing ``data`` h5py's "Unable to synchronously open file"; ``evaluate``'s
``progress="no"`` was truthy, ``gifs=2.5`` accepted, a ``gif_dir`` that is a file a FileExistsError after the
first episode; ``save_gif(None, ...)`` an AttributeError)."""
from __future__ import annotations

from . import _api_checks as api

SEED_HI = 2**63 - 1
"""The largest evaluation seed (the environments' reset seeds are derived from it)."""


def check_pairs_args(episodes, seed, offset, data, traj_len, fn: str = "eval_pairs") -> None:
    api.whole(fn, "episodes", episodes, 1)
    api.seed(fn, seed, hi=SEED_HI)
    api.whole(fn, "offset", offset, 1)
    api.whole(fn, "traj_len", traj_len, 1)
    if data is None and offset > traj_len:  # a fresh trajectory has traj_len + 1 states
        raise ValueError(f"{fn}(offset=...) must be <= traj_len ({traj_len}): the goal is the state offset steps "
                         f"after the start of a trajectory of traj_len steps, got offset {offset}")
    api.path(fn, "data", data, none_ok=True, file=True)


def check_evaluate_args(seed, gif_dir, gifs, progress, cuda_graphs, compile_rollout) -> int:
    """-> the seed as a plain int (torch's generator refuses a numpy one)."""
    fn = "evaluate"
    seed = api.seed(fn, seed, hi=SEED_HI)
    api.whole(fn, "gifs", gifs, 0)
    for name, v in (("progress", progress), ("cuda_graphs", cuda_graphs), ("compile_rollout", compile_rollout)):
        api.flag(fn, name, v)
    if gif_dir is not None:
        from .validate import check_out_dir
        api.path(fn, "gif_dir", gif_dir)
        check_out_dir(gif_dir, "evaluate(gif_dir=...)")  # a file there: refused before the work (was after it)
    return seed


def check_gif_args(ep, path) -> None:
    if not (hasattr(ep, "frames") and hasattr(ep, "goal_frame")):
        raise TypeError(f"save_gif(ep=...) must be an EpisodeResult (lewm.planning.run_episode gives one), "
                        f"got {type(ep).__name__}")
    api.path("save_gif", "path", path)


def scaled_elites(samples: int, topk: int, base_samples: int) -> int:
    """CEM's elites for ``samples`` candidates when the user gave ``--samples`` but not ``--topk`` and the
    elites they would get (``topk``, of ``base_samples``: the library's 30 of 300, or an eval.json's) are more
    than the candidates: the same fraction of them, at least 1 (round 27: ``--samples 10`` alone was refused,
    "--topk must be <= --samples (10), got 30", for a flag never given)."""
    if topk <= samples:
        return topk
    return max(1, min(samples, round(samples * topk / max(base_samples, 1))))


def follow_samples(base: dict, given: dict, merged: dict) -> tuple[dict, str]:
    """``merged`` with its elites scaled to a ``--samples`` given alone (:func:`scaled_elites`), and the words
    the planner line adds for it ('' when nothing changed)."""
    if "num_samples" not in given or "topk" in given or merged.get("solver", "cem") != "cem":
        return merged, ""  # mppi / grad do not use the elites (resolve_planner keeps them valid without a word)
    k = merged.get("topk", 30)
    new = scaled_elites(merged["num_samples"], k, base.get("num_samples", 300))
    if new == k:
        return merged, ""
    return {**merged, "topk": new}, f" (top {k} -> {new}: the elites scaled with --samples; --topk sets them)"
