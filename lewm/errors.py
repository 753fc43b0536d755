"""Exceptions shared by several modules (a leaf module: it imports nothing from :mod:`lewm`)."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the problem."""


def check_finite_weights(state_dict: dict, path: str) -> None:
    """Raise :class:`CheckpointError` naming the first floating-point weight of ``state_dict`` that
    holds NaN/inf, or the first BatchNorm ``running_var`` below 0 (the square root of a negative
    variance is NaN: was blamed on the model or the goal): planning and diagnostics on such weights
    run to a meaningless result."""
    bad = next((k for k, v in state_dict.items() if v.is_floating_point() and not bool(v.isfinite().all())), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} holds NaN/inf; the file is damaged or its run diverged "
                              f"(use an earlier checkpoint)")
    bad = next((k for k, v in state_dict.items() if k.endswith("running_var") and bool((v < 0).any())), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} (a BatchNorm variance) holds negative values; the file is "
                              f"damaged or edited (use another checkpoint)")


class OutputExistsError(FileExistsError, ValueError):
    """An output file exists (or appeared while the work ran) and replacing it was not allowed; the
    message names the file and where the result was kept. A FileExistsError (an OSError, as before)
    that is also a ValueError, like every refused argument."""
