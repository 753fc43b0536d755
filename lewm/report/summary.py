"""The report's numbers as text and as JSON: :func:`summary_text` (the lines printed at the end of
``python -m lewm report`` and shown at the top of ``report.html``) and :func:`clean` (numpy and
NaN made JSON-safe for ``report.json``)."""
from __future__ import annotations

import math
import numbers

import numpy as np


def clean(x, where: str = "report", _open: frozenset = frozenset()):
    """JSON-safe: numpy / torch -> python, NaN/inf -> None, sets -> lists. Anything else that JSON
    cannot hold (complex, arbitrary objects) is a TypeError naming its key ``where`` (was: returned
    unchanged, and the write of report.json failed later); a dict or list that holds itself is a
    ValueError naming where (was: a RecursionError)."""
    if isinstance(x, (dict, list, tuple)):
        if id(x) in _open:
            raise ValueError(f"clean: {where} refers back to a dict or list that holds it (a cycle); a report "
                             f"must be a tree of numbers, strings, lists and dicts")
        _open = _open | {id(x)}
    if isinstance(x, dict):
        return {str(k): clean(v, f"{where}[{k!r}]", _open) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v, f"{where}[{i}]", _open) for i, v in enumerate(x)]
    if isinstance(x, (set, frozenset)):
        try:
            x = sorted(x)
        except TypeError:
            x = list(x)
        return clean(x, where, _open)
    if isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "tolist")):  # numpy array, torch tensor
        return clean((x.detach().cpu() if hasattr(x, "detach") else x).tolist(), where)
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer, int)):
        return int(x)
    if x is None or isinstance(x, str):
        return str(x) if x is not None else None
    raise TypeError(f"{where}: a {type(x).__name__} ({str(x)[:40]}) is not a JSON value; give a number, "
                    f"string, list, dict or None")


def check_keys(rep, keys: tuple[str, ...], who: str) -> None:
    """``rep`` must be a report dict holding ``keys`` (was: a bare KeyError 'collapse')."""
    if not isinstance(rep, dict):
        raise TypeError(f"{who}: rep must be a report dict (report.json's content), got {type(rep).__name__}")
    missing = [k for k in keys if not isinstance(rep.get(k), dict)]
    if missing:
        raise ValueError(f"{who}: rep has no {', '.join(repr(k) for k in missing)} section(s) (needs "
                         f"{', '.join(keys)}); pass make_report's result or report.json's content")


_FIX = "pass make_report's result or report.json's content"


def _f(v, spec: str = ".3f", scale: float = 1, where: str = "a value") -> str:
    """Format a number that may be None/NaN (JSON null); ``scale``: e.g. 100 for a percentage. Anything else
    (a string, a list) is one ValueError naming ``where`` (was: "Unknown format code 'f' for object of type 'str'")."""
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise ValueError(f"summary_text: {where} must be a number (or null), got {v!r:.40}; {_FIX}")
    if not math.isfinite(float(v)):
        return "n/a"
    return format(v * scale, spec)


def _part(parent: dict, key: str, where: str, kind: type = dict, need: tuple[str, ...] = (),
          optional: bool = False):
    """``parent[key]`` of the report, checked: a ``kind`` (dict or list) holding the keys ``need`` (a dict's)
    or, for a list, at least one item when ``need`` is truthy; absent: None if ``optional``. One ValueError
    naming the place (was: a bare KeyError 'quantity', 'pearson')."""
    here = f"{where}[{key!r}]"
    if key not in parent:
        if optional:
            return None
        raise ValueError(f"summary_text: {where} lacks {key!r}; {_FIX}")
    v = parent[key]
    if kind is list:
        if isinstance(v, np.ndarray) and v.ndim == 1:
            v = v.tolist()
        if not isinstance(v, (list, tuple)) or (need and not v):
            raise ValueError(f"summary_text: {here} must be a {'non-empty ' if need else ''}list, got {v!r:.40}; {_FIX}")
        return v
    if not isinstance(v, dict):
        raise ValueError(f"summary_text: {here} must be a dict, got {type(v).__name__}; {_FIX}")
    missing = [k for k in need if k not in v]
    if missing:
        raise ValueError(f"summary_text: {here} lacks {', '.join(map(repr, missing))} (needs {', '.join(need)}); {_FIX}")
    return v


def _n(d: dict, key, where: str, spec: str = ".3f", scale: float = 1) -> str:
    """:func:`_f` of ``d[key]``, a key of the section at ``where``."""
    return _f(d[key], spec, scale, where=f"{where}[{key!r}]")


def _steps(values, spec: str, where: str) -> str:
    """'step 1 a, step P b' of a per-step series; 'step 1 a' alone for one step (was: "step 1 a, step 1 a")."""
    first = f"step 1 {_f(values[0], spec, where=f'{where}[0]')}"
    return first if len(values) == 1 else f"{first}, step {len(values)} {_f(values[-1], spec, where=f'{where}[-1]')}"


def _items(d: dict, where: str, need: tuple[str, ...] = ()):
    """(key, value, where) of a dict section whose values are dicts holding ``need`` (or numbers: ``need`` empty)."""
    for k in d:
        yield k, (_part(d, k, where, need=need) if need else d[k]), f"{where}[{k!r}]"


def summary_text(rep: dict) -> str:
    """A few lines for the terminal. A section that lacks a key or holds a value of the wrong kind is one
    ValueError naming it (``rep['probes']['linear'][0] lacks 'quantity'``)."""
    check_keys(rep, ("collapse", "sigreg"), "summary_text")
    w = "rep['collapse']"  # an empty section was a bare KeyError 'effective_rank'
    c = _part(rep, "collapse", "rep", need=("effective_rank", "latent_dim", "top1_fraction", "mean_cosine", "mean_std"))
    sg = _part(rep, "sigreg", "rep", need=("value",))
    _n(c, "latent_dim", w)
    lines = [f"effective rank {_n(c, 'effective_rank', w, '.2f')} / {c['latent_dim']}  top-1 {_n(c, 'top1_fraction', w)}  "
             f"mean cos {_n(c, 'mean_cosine', w)}  mean std {_n(c, 'mean_std', w, '.3g')}  "
             f"SIGReg {_n(sg, 'value', 'rep[' + repr('sigreg') + ']')}"]
    probes = _part(rep, "probes", "rep", optional=True) or {}
    feats = _part(rep, "probe_features", "rep", optional=True) or {}
    for kind in probes:
        rows, w = _part(probes, kind, "rep['probes']", kind=list), f"rep['probes'][{kind!r}]"
        rows = [_part(dict(enumerate(rows)), i, w, need=("quantity", "pearson_r", "r2")) for i in range(len(rows))]
        lines.append(f"{kind:>6} probe ({feats.get(kind, 'latent z')}): " + "  ".join(
            f"{r['quantity']} r={_n(r, 'pearson_r', f'{w}[{i}]')} R²={_n(r, 'r2', f'{w}[{i}]')}" for i, r in enumerate(rows)))
    sp = _part(rep, "probe_spread", "rep", need=("splits", "pearson"), optional=True)
    if sp:
        w = "rep['probe_spread']"
        for k in ("splits", "splits_asked", "possible"):  # counts compared below: null is no count
            if k in sp and (sp[k] is None or _n(sp, k, w) == "n/a"):
                raise ValueError(f"summary_text: {w}[{k!r}] must be a count, got {sp[k]!r}; {_FIX}")
        n, asked = sp["splits"], sp.get("splits_asked", sp["splits"])
        possible = sp.get("possible", n)
        over = (f"{n} distinct held-out splits ({'only ' if possible <= n else ''}{possible} possible with "
                f"{sp.get('episodes', '?')} episodes; {asked} asked)" if n < asked else f"{n} held-out splits")
        lines.append(f"linear probe on z over {over}: " + "  ".join(
            f"{k} r={_n(v, 'mean', h)} [{_n(v, 'min', h)}, {_n(v, 'max', h)}]"
            for k, v, h in _items(_part(sp, "pearson", w), f"{w}['pearson']", ("mean", "min", "max"))))
    d = _part(rep, "dynamics", "rep", need=("error_mean",), optional=True)
    w = "rep['dynamics']"
    if d and len(em := _part(d, "error_mean", w, kind=list)):
        copy = _part(d, "copy_error_mean", w, kind=list, need=("an item",))
        lines.append(f"open loop: latent MSE {_steps(em, '.4g', w + '[' + repr('error_mean') + ']')} (copy-last "
                     f"baseline {_f(copy[-1], '.4g', where=w + '[' + repr('copy_error_mean') + '][-1]')})")
        if "probe_position_error" in d:
            pe = _part(d, "probe_position_error", w, kind=list, need=("an item",))
            enc = _part(d, "probe_position_error_encoded", w, kind=list, need=("an item",))
            lines.append(f"open loop via probe: position error {_steps(pe, '.3g', w + '[' + repr('probe_position_error') + ']')} "
                         f"(encoded floor {_f(enc[-1], '.3g', where=w + '[' + repr('probe_position_error_encoded') + '][-1]')})")
    s = _part(rep, "straightness", "rep", need=("latent_mean", "state_mean"), optional=True)
    if s:
        w = "rep['straightness']"
        lines.append(f"straightness: latent {_n(s, 'latent_mean', w)}  true state {_n(s, 'state_mean', w)}")
    tests = _part(_part(rep, "surprise", "rep", optional=True) or {}, "tests", "rep['surprise']", optional=True) or {}
    for name, t, h in _items(tests, "rep['surprise']['tests']",
                             ("median_ratio", "fraction_higher", "episodes", "p_wilcoxon", "p_ttest")):
        lines.append(f"surprise {name}: median ratio {_n(t, 'median_ratio', h, '.2f')}, higher in "
                     f"{_n(t, 'fraction_higher', h, '.0f', 100)}% of {t['episodes']} episodes, "
                     f"p(wilcoxon) {_n(t, 'p_wilcoxon', h, '.3g')}, p(t) {_n(t, 'p_ttest', h, '.3g')}")
    ls = _part(rep, "landscape", "rep", need=("dims", "spearman_mean", "greedy_accuracy_mean", "goals"), optional=True)
    if ls:
        w = "rep['landscape']"
        lines.append(f"goal-cost landscape ({', '.join(map(str, _part(ls, 'dims', w, kind=list)))}): Spearman ρ with the "
                     f"true distance {_n(ls, 'spearman_mean', w, '.2f')}, greedy step right "
                     f"{_n(ls, 'greedy_accuracy_mean', w, '.0f', 100)}% ({ls['goals']} goals)")
    gw = _part(rep, "grid_warp", "rep", need=("dims", "linear_r"), optional=True)
    if gw:
        w = "rep['grid_warp']"
        line = (f"state grid in latent space ({', '.join(map(str, _part(gw, 'dims', w, kind=list)))}): affine r "
                + ", ".join(f"{k} {_f(v, where=h)}" for k, v, h in _items(_part(gw, "linear_r", w), f"{w}['linear_r']")))
        if gw.get("region_angle_deg"):
            line += ("; per-region readout directions differ by " + ", ".join(
                f"{k} {_f(v, '.0f', where=h)}°" for k, v, h in _items(_part(gw, "region_angle_deg", w),
                                                                      f"{w}['region_angle_deg']")))
        lines.append(line)
    return "\n".join(lines)
