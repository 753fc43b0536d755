"""The health badge of the model a page uses (issue 20): collapsed / dimensional collapse / healthy,
with one line why. The verdict is lewm.diagnostics.health (pure); this file only draws it."""
from __future__ import annotations

import streamlit as st

from lewm.diagnostics.health import COLLAPSED, DIMENSIONAL, HEALTHY, Health, health_verdict

_STYLE = {HEALTHY: ("green", ":material/check_circle:"), DIMENSIONAL: ("orange", ":material/warning:"),
          COLLAPSED: ("red", ":material/error:")}


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
        badge(health_verdict(view.get("mean_std", float("nan")), view.get("effective_rank", float("nan")),
                             int(view.get("latent_dim", 0))), "this step's training batch")


def badge_for_encoded(*args) -> None:
    """The badge of the checkpoint's latents of the page's dataset (``cache.meters_of(*args)``, cached)."""
    import cache
    import discovery
    m = cache.meters_of(*args)
    badge(health_verdict(m.mean_std, m.effective_rank, len(m.spectrum)),
          f"{len(cache.encoded_dataset(*args).latents):,} frames of `{discovery.rel(args[2])}`")
