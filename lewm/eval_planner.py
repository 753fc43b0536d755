"""Which planner settings ``python -m lewm eval`` uses, and one line saying where each came from.

Field by field, first wins: the command line's flags; then ``--protocol paper``
(:data:`lewm.planning.PAPER_PLANNER`) or, by default, the settings the agent ships with (:func:`shipped_planner`:
the ``planner`` object of the ``eval.json`` beside the checkpoint, else a ``planner`` dict stored in the
checkpoint's metrics); then the library's defaults (:class:`lewm.planning.PlannerConfig`). Every combination that
is not a valid planner is one ValueError naming the flag or the file and the field.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, fields

from . import checkpoint
from ._eval_checks import follow_samples
from ._eval_files import check_eval_json_for, check_planner_flags
from .planning import PAPER_PLANNER, PlannerConfig

PROTOCOLS = ("shipped", "paper")
"""``shipped``: the agent's own settings (eval.json / checkpoint), else the defaults; ``paper``:
the paper's solver (CEM 300 / top 30 / 30 iterations, horizon 5, re-plan every 5 blocks)."""
FLAGS = {"solver": "solver", "samples": "num_samples", "topk": "topk", "iterations": "iterations",
         "horizon": "horizon", "receding_horizon": "receding_horizon", "cost_steps": "cost_steps",
         "cost_mean_weight": "cost_mean_weight", "stop_tol": "stop_tol", "plan_from": "plan_from"}
"""argparse destination -> PlannerConfig field, for the flags that set planner settings."""
FLAG_OF = {field: "--" + dest.replace("_", "-") for dest, field in FLAGS.items()}
"""PlannerConfig field -> the flag that sets it (``num_samples`` -> ``--samples``)."""
SOLVER_USES = {  # the flag-set settings each solver reads; given for another one, a flag is refused
    "cem": set(FLAGS.values()),
    "mppi": set(FLAGS.values()) - {"topk"},  # soft elites: every sample weighs
    "grad": set(FLAGS.values()) - {"num_samples", "topk", "stop_tol", "plan_from"},  # Adam from grad_restarts starts
}


def shipped_planner(ckpt: str) -> tuple[dict | None, str | None]:
    """The planner settings the agent at ``ckpt`` ships with, and where they were read:
    the ``planner`` object of ``eval.json`` beside the checkpoint (in the run folder, for a folder),
    else a ``planner`` dict in the checkpoint's metrics; ``(None, None)`` when there is neither.
    A present but unusable eval.json is an error naming it."""
    folder = ckpt if os.path.isdir(ckpt) else (os.path.dirname(ckpt) or ".")
    path = os.path.join(folder, "eval.json")
    if os.path.exists(path) and not os.path.isfile(path):  # was: a folder read as "no eval.json", defaults used
        raise ValueError(f"{path}: is a folder (or a device), not the planner settings file eval reads beside the "
                         f"checkpoint; remove or rename it, or pass --protocol paper")
    if os.path.isfile(path):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not readable JSON ({str(e).splitlines()[0]}); fix it, remove it, or pass "
                             f"--protocol paper") from None
        planner = doc.get("planner") if isinstance(doc, dict) else None
        if not isinstance(planner, dict):
            raise ValueError(f"{path}: no 'planner' object (the settings `eval --out` writes); fix it, remove it, "
                             f"or pass --protocol paper")
        check_eval_json_for(path, doc, ckpt)  # another agent's eval.json (eval --out into this folder): refused
        return planner, path
    try:
        metrics = json.loads(checkpoint.read_raw(ckpt).get("metrics") or "{}")
    except (checkpoint.CheckpointError, ValueError, TypeError):
        return None, None  # not one of ours (or unreadable: evaluate() says why)
    planner = metrics.get("planner") if isinstance(metrics, dict) else None
    return (planner, f"{ckpt} (its stored planner settings)") if isinstance(planner, dict) else (None, None)


def resolve_planner(ckpt: str, protocol: str = "shipped", flags: dict | None = None) -> tuple[PlannerConfig, str]:
    """The :class:`PlannerConfig` of an evaluation and one line saying where its settings came from.

    ``flags``: PlannerConfig field -> value given on the command line (None = not given); they
    override the protocol's settings field by field. Raises a ValueError naming the file (or flag)
    and the field when the combination is not a valid planner.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol == "paper":
        base, where = asdict(PAPER_PLANNER), "the paper's protocol (--protocol paper)"
    else:
        shipped, src = shipped_planner(ckpt)
        base, where = (shipped, src) if shipped is not None else (asdict(PlannerConfig()), "the library defaults "
                                                                  "(no eval.json beside the checkpoint)")
        known = {f.name for f in fields(PlannerConfig)}
        unknown = sorted(set(base) - known)
        if unknown:
            raise ValueError(f"{where}: unknown planner setting(s) {unknown}; known: {sorted(known)}")
        _check_stored(base, where)
    given = check_planner_flags(flags, FLAG_OF)  # each alone, naming its flag (was: blamed on the eval.json)
    merged, scaled = follow_samples(base, given, {**base, **given})  # --samples alone: elites follow
    solver = merged.get("solver", "cem")
    ignored = [f for f in given if f in FLAG_OF and f not in SOLVER_USES.get(solver, SOLVER_USES["cem"])]
    if ignored:  # was: --stop-tol with grad was printed in the planner line and had no effect
        it = "them" if len(ignored) > 1 else "it"
        raise ValueError(f"{', '.join(FLAG_OF[f] for f in ignored)}: the {solver} solver{'' if 'solver' in given else f' (from {where})'} does not "
                         f"use {it}; drop {it}, or pass --solver cem")
    if solver != "cem" and merged.get("topk", 30) > merged.get("num_samples", 300):
        merged["topk"] = merged["num_samples"]  # CEM's elites: unused by this solver, kept valid
    for small, big in (("topk", "num_samples"), ("receding_horizon", "horizon")):
        _check_at_most(small, big, merged, set(given), where)
    if "num_samples" in given and solver != "grad" and merged["num_samples"] < 2:  # named by its flag, not the file
        raise ValueError(f"--samples {merged['num_samples']}: the {solver} solver needs 2 or more (its candidate 0 is "
                         f"the current sampling mean: with one sample the plan never leaves its initial guess)")
    try:
        pcfg = PlannerConfig(**merged)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    over = ", ".join(FLAG_OF.get(f, f) for f in given)
    stop = pcfg.stop_tol > 0 and "stop_tol" in SOLVER_USES[pcfg.solver]
    line = (f"planner: {_solver_words(pcfg)}, horizon {pcfg.horizon}, re-plan every {pcfg.receding_horizon}, "
            f"cost on {pcfg.cost_steps}" + (f" + {pcfg.cost_mean_weight:g} x mean" if pcfg.cost_mean_weight else "") + (", plan = best candidate" if pcfg.plan_from == "best" and "plan_from" in SOLVER_USES[pcfg.solver] else "")
            + (f", early stop when the mean moves < {pcfg.stop_tol:g}" if stop else "")
            + f" — from {where}" + (f", overridden by {over}" if over else "") + scaled)
    return pcfg, line


def _solver_words(pcfg: PlannerConfig) -> str:
    """The sampling settings the chosen solver uses, in words (only those: the line says what runs)."""
    if pcfg.solver == "grad":
        return (f"grad {pcfg.grad_restarts} restarts / {pcfg.iterations} iterations "
                f"({3 * pcfg.iterations} Adam steps, lr {pcfg.grad_lr:g})")
    if pcfg.solver == "mppi":
        return f"mppi {pcfg.num_samples} samples / {pcfg.iterations} iterations, temperature {pcfg.temperature:g}"
    return f"cem {pcfg.num_samples} samples / top {pcfg.topk} / {pcfg.iterations} iterations"


def _check_stored(base: dict, where: str) -> None:
    """Each stored planner setting alone, naming where it was read (was: "--topk must be <= --samples
    (-5)" for a num_samples of -5 in a checkpoint, blaming flags never given)."""
    from .validate import check_value
    for f in fields(PlannerConfig):
        if f.name in base:
            kind = type(f.default) if isinstance(f.default, (bool, int, float, str)) else None
            try:
                check_value(f"planner.{f.name}", base[f.name], f.metadata.get("range"), kind)
            except ValueError as e:
                raise ValueError(f"{where}: {e}; fix it, remove it, or pass --protocol paper") from None


def _check_at_most(small: str, big: str, merged: dict, given: set, where: str) -> None:
    """``merged[small] <= merged[big]`` (topk / num_samples, receding_horizon / horizon), or a ValueError
    naming the flags or the file each value came from."""
    d = asdict(PlannerConfig())
    s, b = merged.get(small, d[small]), merged.get(big, d[big])
    if not (isinstance(s, int) and isinstance(b, int)) or s <= b:
        return
    flag = FLAG_OF
    if {small, big} <= given:
        raise ValueError(f"{flag[small]} must be <= {flag[big]} ({b}), got {s}")
    if {small, big} & given:
        raise ValueError(f"{flag[small]} must be <= {flag[big]} ({b}), got {s} (settings from {where} and the flags)")
    raise ValueError(f"{where}: planner.{small} {s} must be <= planner.{big} {b} (a setting it leaves out takes the "
                     f"library default); fix it, or pass {flag[small]} / {flag[big]}")
