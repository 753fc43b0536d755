"""The Planner page's starting value for every planner setting it shows, from the ``planner`` of a checkpoint's
eval.json, and one note per value it cannot take as it is (pure: no widgets; app/app_pages/planner.py shows the
notes). Was: a value outside the page's range (horizon 30), of the wrong type (8.0, "8", NaN) or an unknown
choice ("MIN") was replaced by the page's default without a word, and the solver was never read."""
from __future__ import annotations

import math
import numbers
from dataclasses import fields

from lewm.planning.config import COST_STEPS, PLAN_FROM, SOLVER_NAMES, PlannerConfig
from lewm.validate import range_of

SETTINGS = ("solver", "num_samples", "topk", "iterations", "horizon", "cost_steps", "cost_mean_weight", "plan_from",
            "grad_restarts", "receding_horizon")
"""The PlannerConfig fields the page has a widget for."""

LIMITS = {"num_samples": (10, 5000), "topk": (1, 1000), "iterations": (1, 100), "horizon": (1, 20),
          "cost_mean_weight": (0.0, 100.0), "grad_restarts": (1, 1000), "receding_horizon": (1, 20)}
"""The page's widget ranges (receding_horizon: at most the horizon too)."""

CHOICES = {"solver": SOLVER_NAMES, "cost_steps": COST_STEPS, "plan_from": PLAN_FROM}

LIBRARY = PlannerConfig()
DEFAULTS = {name: getattr(LIBRARY, name) for name in SETTINGS}
"""The page's defaults without an eval.json: the library's (CEM 300 / 30 / 10 iterations, horizon 5 ...)."""

NOT_SHOWN = tuple(f.name for f in fields(PlannerConfig) if f.name not in SETTINGS)
"""Settings the page has no widget for (init_std, min_std, temperature, grad_lr, warm_start, stop_tol): it plans
with the library's values."""


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral) and abs(v) >= 10 ** 12:
        return f"a {len(str(abs(v)))}-digit number"
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def page_defaults(planner: dict | None, limits: dict | None = None) -> tuple[dict, list[str]]:
    """(value per :data:`SETTINGS`, notes). A value of the eval.json's ``planner`` that the library would refuse
    (wrong type, NaN, unknown choice, out of the library's range) is replaced by the page's default ("... using
    the default 5."); a valid one outside the page's range (``limits``, default :data:`LIMITS`) is clamped
    ("... using 20; the evaluation used 30."). The last note lists the settings the page does not show when
    they differ from the library's values, and names unknown ones."""
    planner = planner if isinstance(planner, dict) else {}
    lim = {**LIMITS, **(limits or {})}
    out, notes = dict(DEFAULTS), []
    for name in SETTINGS:
        if name not in planner or planner[name] is None:
            continue
        v, default = planner[name], DEFAULTS[name]
        where = f"planner.{name} {_show(v)}"
        if name in CHOICES:
            if isinstance(v, str) and v in CHOICES[name]:
                out[name] = v
            else:
                notes.append(f"{where} is not one of {', '.join(CHOICES[name])}: using the default {default}.")
            continue
        is_int = isinstance(default, int)
        if not (_whole(v) if is_int else _number(v)):
            notes.append(f"{where} is not a {'whole number' if is_int else 'number'}: using the default {default:g}.")
            continue
        if not is_int and not math.isfinite(float(v)):
            notes.append(f"{where} is not a finite number: using the default {default:g}.")
            continue
        rng = range_of(PlannerConfig, name)
        if rng is not None and not rng.ok(v):
            notes.append(f"{where} is not a valid setting ({rng.describe()}): using the default {default:g}.")
            continue
        lo, hi = lim[name]
        if name == "receding_horizon":
            hi = min(hi, out["horizon"])  # the horizon is resolved first (SETTINGS' order)
        v = int(v) if is_int else float(v)
        if v < lo or v > hi:
            used = lo if v < lo else hi
            why = (f"more than the horizon used here ({hi})" if name == "receding_horizon" and v > hi and
                   hi < lim[name][1] else f"{'less' if v < lo else 'more'} than this page allows ({used:g})")
            notes.append(f"{where} is {why}: using {used:g}; the evaluation used {v:g}.")
            v = used
        out[name] = v
    w = planner.get("cost_mean_weight")
    if out["cost_steps"] != "min" and out["cost_mean_weight"]:  # the page's weight widget is for 'min' only
        notes.append(f"planner.cost_mean_weight {_show(w)} with cost_steps '{out['cost_steps']}': this page sets "
                     f"the weight only with 'closest block' (min): using 0.")
        out["cost_mean_weight"] = 0.0
    differ = [n for n in NOT_SHOWN if n in planner and planner[n] != getattr(LIBRARY, n)]
    if differ:
        notes.append(f"The evaluation also set {', '.join(f'{n} {_show(planner[n])}' for n in differ)}, which this "
                     f"page does not show: it plans with {', '.join(f'{n} {_show(getattr(LIBRARY, n))}' for n in differ)}.")
    unknown = sorted(str(k) for k in planner if k not in SETTINGS and k not in NOT_SHOWN)
    if unknown:
        notes.append(f"Unknown planner setting(s) {', '.join(_show(k) for k in unknown[:6])}: ignored.")
    return out, notes


WIDGET_KEYS = ("plan_solver", "plan_samples", "plan_topk", "plan_iters", "plan_horizon", "plan_cost_steps",
               "plan_cost_mean_weight", "plan_from", "plan_restarts", "plan_rh")
"""The Planner page's widgets whose defaults come from eval.json."""
ORIGIN_KEY = "plan_settings_from"


def settings_origin(ckpt: str, planner: dict | None) -> tuple:
    """Where the page's setting values come from: the checkpoint and eval.json's ``planner`` values (as canonical
    JSON text: NaN equals NaN, key order does not count). Was: (checkpoint, eval.json's mtime), so an eval.json
    rewritten with the same bytes (a repeated ``lewm eval``, cp, git checkout) reset the user's settings."""
    import json
    try:
        text = json.dumps(planner if isinstance(planner, dict) else {}, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types (not from JSON) or a circular value
        text = repr(planner)
    return (ckpt, text)


def reset_if_new_origin(state, origin) -> bool:
    """Before the widgets are created: when ``origin`` (:func:`settings_origin`) differs from the one the
    current widget values came from, drop their keys from ``state`` (st.session_state: a keyed widget keeps its
    value and ignores a new default) and return True if any was there. Was: switching from the Reacher agent
    to a Two-Room run planned Two-Room with horizon 8, 'closest block' and 'best'."""
    before = state.get(ORIGIN_KEY, origin)
    state[ORIGIN_KEY] = origin
    if before == origin:
        return False
    present = [k for k in WIDGET_KEYS if k in state]
    for k in present:
        del state[k]
    return bool(present)
