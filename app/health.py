"""The health badge of the model a page uses (issue 20): collapsed / dimensional collapse / healthy,
with one line why. The verdict is lewm.diagnostics.health (pure), plus one scale check of the lab's (round 21, M7:
lewm's verdict calls a cloud "collapsed" only below std 0.05, so a latent std of 0.08, 12x below its target 1,
read "spread out" while the regularised run beside it was flagged): :func:`verdict`."""
from __future__ import annotations

import streamlit as st

from lewm.diagnostics.health import COLLAPSED, DIMENSIONAL, HEALTHY, Health, health_verdict

SHRINKING = "shrinking"
SHRUNK_STD = 0.25
"""Below this mean per-dimension std (4x under the target 1, above lewm's point-collapse 0.05) the latents are
shrinking toward a point: the scale side of a collapse, flagged as a low effective rank is."""
_STYLE = {HEALTHY: ("green", ":material/check_circle:"), DIMENSIONAL: ("orange", ":material/warning:"),
          SHRINKING: ("orange", ":material/warning:"), COLLAPSED: ("red", ":material/error:")}


def verdict(mean_std: float, effective_rank: float, latent_dim: int) -> Health:
    """lewm's :func:`health_verdict`, with a "healthy" cloud whose std is below SHRUNK_STD called ``shrinking``."""
    h = health_verdict(mean_std, effective_rank, latent_dim)
    if h.status != HEALTHY or not h.mean_std < SHRUNK_STD:
        return h
    s, r, D = h.mean_std, h.effective_rank, h.latent_dim
    why = (f"shrinking toward a point (scale): latent std {s:.3g}, {1 / s:.0f}x below the target 1 (flagged below "
           f"{SHRUNK_STD:g}); the effective rank {r:.1f} of {D} only measures the shape")
    return Health(SHRINKING, why, s, r, D)


def badge(h: Health, where: str = "") -> None:
    """One line: a coloured badge with the status, then why (and on what it was measured)."""
    color, icon = _STYLE.get(h.status, ("gray", ":material/help:"))
    on = f" · measured on {where}" if where else ""
    st.markdown(f":{color}-badge[{icon} model health: **{h.status}**] {h.why}{on}",
                help="From the latents' scale (mean per-dimension std, target 1) and shape (effective rank, "
                     "target the latent dimension D), as in the Collapse lab. Collapsed latents make every frame "
                     "look alike: the planner and the dynamics views then show nothing meaningful.")


def badge_from_view(view: dict | None) -> None:
    """The badge of a training run's live view (its batch latents)."""
    if view:
        badge(verdict(view.get("mean_std", float("nan")), view.get("effective_rank", float("nan")),
                             int(view.get("latent_dim", 0))), "this step's training batch")


def badge_for_encoded(*args) -> None:
    """The badge of the checkpoint's latents of the page's dataset (``cache.meters_of(*args)``, cached)."""
    import cache
    import discovery
    m = cache.meters_of(*args)
    badge(verdict(m.mean_std, m.effective_rank, len(m.spectrum)),
          f"{len(cache.encoded_dataset(*args).latents):,} frames of `{discovery.rel(args[2])}`")


DIVERGED_RATIO = 10.0
"""A validation prediction loss more than this many times the last training one: the run diverged."""


def run_problems(latest: dict, metrics: dict, view: dict | None) -> list[str]:
    """What is wrong with a finished run, in words with its figures (empty: nothing): non-finite last losses, a
    validation prediction loss far above (DIVERGED_RATIO x) the last training one, latents collapsed to a point or a
    line by :func:`verdict` (the last training batch's). ``latest``: the last metrics line; ``metrics``: the
    checkpoint's (val_pred_loss); ``view``: the job's live view."""
    import math
    out = []
    bad = [f"{k} {latest[k]}" for k in ("loss", "pred_loss", "sigreg")
           if isinstance(latest.get(k), (int, float)) and not math.isfinite(latest[k])]
    if bad:
        out.append("the last logged losses are not finite (" + ", ".join(bad) + ")")
    val, tr = metrics.get("val_pred_loss"), latest.get("pred_loss")
    if isinstance(val, (int, float)) and not math.isfinite(val):
        out.append(f"its validation prediction loss is {val}")
    elif isinstance(val, (int, float)) and isinstance(tr, (int, float)) and math.isfinite(tr) and tr > 0 \
            and val > DIVERGED_RATIO * tr:
        out.append(f"it diverged: validation prediction loss {val:.4g} is {val / tr:.0f}x the last training "
                   f"prediction loss {tr:.4g}")
    if view:
        h = verdict(view.get("mean_std", float("nan")), view.get("effective_rank", float("nan")),
                    int(view.get("latent_dim", 0)))
        if h.status == COLLAPSED:  # a dimensional collapse or a shrinking scale: the badge above says it
            out.append(f"its latents {h.why}")
    return out
