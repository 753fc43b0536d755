"""Values each inside its allowed range that together make a training silently wrong (round 27).

A field's range is checked where the field is declared (:mod:`lewm.config`); these are the combinations a
range cannot see, checked before a training starts (:func:`lewm._train_checks.check_train_args`):

- :func:`check_sigreg_sees_collapse`: ``sigreg.t_max`` and ``sigreg.knots`` whose quadrature puts (almost) no
  weight where the Epps-Pulley test tells a collapsed latent from a Gaussian one, so SIGReg scores even fully
  collapsed latents ~0: the regulariser off without a word (``t_max=1e-300`` trained with ``sigreg 0.000``;
  ``t_max=100`` with 17 knots puts its knots every 6.25, where N(0,1)'s characteristic function is ~1e-9).
- :func:`warmup_note`: ``train.warmup_steps`` at least ``train.steps``: the learning rate only ramps up and
  never reaches ``train.lr`` (a preset's warmup kept under a short ``--steps``), said after the run.

Only where a training starts: a checkpoint trained with such settings still loads, evaluates and exports.
"""
from __future__ import annotations

MIN_COLLAPSE_SCORE = 1e-3
"""The least SIGReg score (per latent, before the batch factor) of fully collapsed latents (all equal) that a
quadrature must give. The defaults (17 knots on [0, 3]) give 0.40; t_max 0.5 gives 0.0026 and still tells
collapsed latents from Gaussian ones by 10x at 256 latents; t_max 0.3 (2.3e-4) is mostly sampling noise."""


def collapse_score(knots: int, t_max: float) -> float:
    """The Epps-Pulley statistic per sample of latents that all sit at one point, with SIGReg's own quadrature
    (:func:`lewm.sigreg.quadrature`, in fp64): ``sum_k weight_k * (1 - phi(t_k))**2``."""
    import torch
    from .sigreg import quadrature
    _, phi, weight = quadrature(knots, t_max, dtype=torch.float64)  # (K,) each
    return float((weight * (1.0 - phi) ** 2).sum())


def check_sigreg_sees_collapse(sig) -> None:
    """A ValueError naming both fields when SIGReg's quadrature cannot see a collapse (see the module).
    ``sig``: a :class:`lewm.config.SIGRegConfig`. Nothing to check when ``sig.weight`` is 0 (SIGReg off on purpose)."""
    if not sig.weight:
        return
    score = collapse_score(sig.knots, sig.t_max)
    if score >= MIN_COLLAPSE_SCORE:
        return
    spacing = sig.t_max / (sig.knots - 1)
    if spacing > 1.0:  # the knots step over the characteristic function's whole range
        need = next((k for k in range(sig.knots, 1001) if collapse_score(k, sig.t_max) >= MIN_COLLAPSE_SCORE), None)
        fix = (f"raise sigreg.knots to at least {need}, or lower sigreg.t_max (default 3)" if need else
               "lower sigreg.t_max (default 3)")
        why = (f"its knots every {spacing:g} miss the range t < ~3 where N(0,1)'s characteristic function "
               f"lives")
    else:
        lo = 0.5
        fix = f"raise sigreg.t_max to at least {lo:g} (default 3)"
        why = "the test's range [0, t_max] is too short to tell a collapsed latent from a Gaussian one"
    raise ValueError(f"sigreg.t_max {sig.t_max:g} with sigreg.knots {sig.knots}: {why}, so SIGReg would score "
                     f"even fully collapsed latents ~0 ({score:.2g} per latent; the defaults give "
                     f"{collapse_score(17, 3.0):.2f}) and the run would train without its regulariser; {fix}")


def warmup_note(tc, steps: int) -> str | None:
    """The note for ``train.warmup_steps >= steps`` (``tc``: a :class:`lewm.config.TrainConfig`; ``steps``: the
    steps the run trains to), or None. Said after the run (``python -m lewm train``), like the time budget's note."""
    if tc.warmup_steps < steps or tc.warmup_steps <= 1:
        return None
    top = tc.lr * steps / tc.warmup_steps
    return (f"train.warmup_steps {tc.warmup_steps} >= train.steps {steps}: the learning rate only ramped up, to "
            f"{top:.3g} at the last step of the {tc.lr:g} set by train.lr, with no cosine decay; for the schedule the "
            f"preset intends give --set train.warmup_steps=N below the steps")
