"""Captions that state what the numbers beside them show (pure: no Streamlit), so a caption can
never contradict its chart (issue 20: a colour change the text called "much less surprising"
scored ×788 against ×1184 for a teleport)."""
from __future__ import annotations

COMPARABLE = 3.0
"""Two surprise ratios within this factor of each other are "about as surprising"."""


def surprise_caption(teleport: float | None, colour: float, mode: str = "hue") -> str:
    """One or two sentences on the surprise at the perturbation frame: ``teleport`` and ``colour``
    are the ratios (perturbed / clean) shown in the metrics (``teleport`` None without a simulator)."""
    c = f"×{colour:.1f}"
    if teleport is None:
        return (f"The colour change ({mode}) multiplies the surprise by {c}. "
                "(No simulator for this environment: no teleport to compare with.)")
    t = f"×{teleport:.1f}"
    if max(teleport, colour) < 2.0:
        return (f"Neither perturbation surprises this model much (teleport {t}, colour {c}): its one-step "
                "predictions barely notice either.")
    if teleport >= COMPARABLE * colour:
        return (f"The teleport (physically impossible) multiplies the surprise by {t}, the colour change ({mode}) "
                f"only by {c}: what this model expects is where things are, much more than their colour.")
    if colour >= COMPARABLE * teleport:
        return (f"Here the colour change ({mode}) surprises the model more ({c}) than the teleport ({t}): its encoder "
                "never saw these colours in training, so to it the recoloured frame is a bigger break than a jump. "
                "Surprise measures 'unlike what I predicted', not 'physically impossible'.")
    more = "more" if teleport > colour else "less"
    return (f"Here the teleport ({t}) surprises the model {more} than the colour change ({c}), but both spike: "
            "a frame unlike anything seen in training — a jump of position or colours never seen — breaks the "
            "prediction either way. Surprise measures 'unlike what I predicted', not 'physically impossible'.")
