"""Exceptions shared by several modules (a leaf module: it imports nothing from :mod:`lewm`)."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the problem."""


def check_finite_weights(state_dict: dict, path: str) -> None:
    """Raise :class:`CheckpointError` naming the first floating-point weight of ``state_dict`` that
    holds NaN/inf, or the first BatchNorm ``running_var`` below 0 (the square root of a negative
    variance is NaN: was blamed on the model or the goal): planning and diagnostics on such weights
    run to a meaningless result. Complex weights are checked too; meta tensors (no values) and a module's
    ``_extra_state`` are skipped; a mapping that is not one of tensors is a CheckpointError naming the key."""
    import torch
    from collections.abc import Mapping
    if not isinstance(state_dict, Mapping):  # a list was "'list' object has no attribute 'items'"
        raise TypeError(f"check_finite_weights(state_dict=...) for {path}: expected a mapping of weight names to "
                        f"tensors (a state_dict), got {type(state_dict).__name__}")
    weights = {}
    for k, v in state_dict.items():
        if not torch.is_tensor(v):
            if str(k).endswith("_extra_state"):
                continue
            raise CheckpointError(f"{path}: weight {k!r} is a {type(v).__name__}, not a tensor; the file is damaged "
                                  f"or is not model weights")
        if not v.is_meta:  # a meta tensor holds no values (Tensor.item() was torch's error)
            weights[k] = v
    bad = next((k for k, v in weights.items() if (v.is_floating_point() or v.is_complex())
                and not bool(v.isfinite().all())), None)  # complex NaN passed
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} holds NaN/inf; the file is damaged or its run diverged "
                              f"(use an earlier checkpoint)")
    bad = next((k for k, v in weights.items() if str(k).endswith("running_var") and not v.is_complex()
                and bool((v < 0).any())), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} (a BatchNorm variance) holds negative values; the file is "
                              f"damaged or edited (use another checkpoint)")


class OutputExistsError(FileExistsError, ValueError):
    """An output file exists (or appeared while the work ran) and replacing it was not allowed; the
    message names the file and where the result was kept. A FileExistsError (an OSError, as before)
    that is also a ValueError, like every refused argument."""
