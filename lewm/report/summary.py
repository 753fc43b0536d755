"""The report's numbers as text and as JSON: :func:`summary_text` (the lines printed at the end of
``python -m lewm report`` and shown at the top of ``report.html``) and :func:`clean` (numpy and
NaN made JSON-safe for ``report.json``)."""
from __future__ import annotations

import math

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


def _f(v, spec: str = ".3f", scale: float = 1) -> str:
    """Format a number that may be None/NaN (JSON null); ``scale``: e.g. 100 for a percentage."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v * scale, spec)


def _steps(values, spec: str) -> str:
    """'step 1 a, step P b' of a per-step series; 'step 1 a' alone for one step (was: "step 1 a, step 1 a")."""
    first = f"step 1 {_f(values[0], spec)}"
    return first if len(values) == 1 else f"{first}, step {len(values)} {_f(values[-1], spec)}"


def summary_text(rep: dict) -> str:
    """A few lines for the terminal."""
    check_keys(rep, ("collapse", "sigreg"), "summary_text")
    for sec, need in (("collapse", ("effective_rank", "latent_dim", "top1_fraction", "mean_cosine", "mean_std")),
                      ("sigreg", ("value",))):  # an empty section was a bare KeyError 'effective_rank'
        missing = [k for k in need if k not in rep[sec]]
        if missing:
            raise ValueError(f"summary_text: rep[{sec!r}] lacks {', '.join(map(repr, missing))} (needs "
                             f"{', '.join(need)}); pass make_report's result or report.json's content")
    c, lines = rep["collapse"], []
    lines.append(f"effective rank {_f(c['effective_rank'], '.2f')} / {c['latent_dim']}  "
                 f"top-1 {_f(c['top1_fraction'])}  mean cos {_f(c['mean_cosine'])}  mean std {_f(c['mean_std'], '.3g')}  "
                 f"SIGReg {_f(rep['sigreg']['value'])}")
    for kind, rows in rep.get("probes", {}).items():
        lines.append(f"{kind:>6} probe ({rep.get('probe_features', {}).get(kind, 'latent z')}): " + "  ".join(f"{r['quantity']} r={_f(r['pearson_r'])} R²={_f(r['r2'])}"
                                                     for r in rows))
    sp = rep.get("probe_spread")
    if sp:
        n, asked = sp["splits"], sp.get("splits_asked", sp["splits"])
        possible = sp.get("possible", n)
        over = (f"{n} distinct held-out splits ({'only ' if possible <= n else ''}{possible} possible with "
                f"{sp.get('episodes', '?')} episodes; {asked} asked)" if n < asked else f"{n} held-out splits")
        lines.append(f"linear probe on z over {over}: " + "  ".join(
            f"{k} r={_f(v['mean'])} [{_f(v['min'])}, {_f(v['max'])}]" for k, v in sp["pearson"].items()))
    d = rep.get("dynamics")
    if d and len(d["error_mean"]):
        lines.append(f"open loop: latent MSE {_steps(d['error_mean'], '.4g')} (copy-last baseline "
                     f"{_f(d['copy_error_mean'][-1], '.4g')})")
        if "probe_position_error" in d:
            lines.append(f"open loop via probe: position error {_steps(d['probe_position_error'], '.3g')} "
                         f"(encoded floor {_f(d['probe_position_error_encoded'][-1], '.3g')})")
    s = rep.get("straightness")
    if s:
        lines.append(f"straightness: latent {_f(s['latent_mean'])}  true state {_f(s['state_mean'])}")
    for name, t in rep.get("surprise", {}).get("tests", {}).items():
        lines.append(f"surprise {name}: median ratio {_f(t['median_ratio'], '.2f')}, higher in "
                     f"{_f(t['fraction_higher'], '.0f', 100)}% of {t['episodes']} episodes, "
                     f"p(wilcoxon) {_f(t['p_wilcoxon'], '.3g')}, p(t) {_f(t['p_ttest'], '.3g')}")
    ls = rep.get("landscape")
    if ls:
        lines.append(f"goal-cost landscape ({', '.join(ls['dims'])}): Spearman ρ with the true distance "
                     f"{_f(ls['spearman_mean'], '.2f')}, greedy step right {_f(ls['greedy_accuracy_mean'], '.0f', 100)}% "
                     f"({ls['goals']} goals)")
    gw = rep.get("grid_warp")
    if gw:
        line = (f"state grid in latent space ({', '.join(gw['dims'])}): affine r "
                + ", ".join(f"{k} {_f(v)}" for k, v in gw["linear_r"].items()))
        if gw.get("region_angle_deg"):
            line += ("; per-region readout directions differ by "
                     + ", ".join(f"{k} {_f(v, '.0f')}°" for k, v in gw["region_angle_deg"].items()))
        lines.append(line)
    return "\n".join(lines)
