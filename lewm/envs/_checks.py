"""The one reader of numbers the environments take (actions, a state, a batch of states): whatever
the caller holds (a list, a numpy array of any real dtype, a torch tensor, one that requires grad or
lives on a GPU) as a float64 array, or one ValueError naming the env, the method and the argument
for what is no number: text (``['50', '50']`` was the state (50, 50)), complex numbers (the
imaginary part was dropped), None (it became NaN, then an action of 0), a masked array (the mask was
ignored). Shapes are the caller's business: :func:`numbers` returns None when ``value`` is no array
of numbers at all (a dict, a ragged list) so the caller can name the shape it expected."""
from __future__ import annotations

import sys

import numpy as np


def _plain(value):
    """A torch tensor as a CPU tensor without autograd (``numpy()`` of one that requires grad was
    torch's RuntimeError); anything else unchanged. Raises for a tensor that has no data (meta)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return value


def numbers(who: str, what: str, value, expect: str) -> np.ndarray | None:
    """``value`` as a float64 array of its own shape; None when it is no array of numbers; one ValueError
    ``"{who}: {what} must be {expect}, got ..."`` for text, complex numbers, None or masked values."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            raise ValueError(f"{who}: {what} must be {expect}, got a masked array with "
                             f"{int(np.ma.count_masked(value))} masked value(s) (a masked value has no number)")
        value = np.ma.getdata(value)
    try:
        raw = np.asarray(_plain(value))
    except Exception:  # noqa: BLE001 - any object numpy cannot read (a meta tensor, a broken __array__)
        return None
    if raw.dtype.kind == "c":
        raise ValueError(f"{who}: {what} must be real {expect}, got complex {raw.dtype}")
    if raw.dtype.kind in "USa":
        raise ValueError(f"{who}: {what} must be {expect}, got text {raw.tolist()!r:.60}")
    if raw.dtype.kind in "mM":  # numpy reads dates as numbers (years since 1970)
        raise ValueError(f"{who}: {what} must be {expect}, got {raw.dtype} {raw.tolist()!r:.60}")
    if raw.dtype.kind == "V":
        return None
    if raw.dtype.kind == "O":
        for v in raw.flat:
            if v is None:
                raise ValueError(f"{who}: {what} must be {expect}, got None"
                                 + ("" if raw.ndim == 0 else f" in {raw.tolist()!r:.60}"))
            if isinstance(v, (str, bytes)):
                raise ValueError(f"{who}: {what} must be {expect}, got text {raw.tolist()!r:.60}")
            if isinstance(v, complex):
                raise ValueError(f"{who}: {what} must be real {expect}, got complex {v!r}")
    try:
        return np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return None
