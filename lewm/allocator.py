"""Keep freed memory in the process: large tensors without page faults at every training step.

glibc serves each allocation above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and returns it to the
system when it is freed, so a training step whose activations are that large page-faults all of them in again at
every step, and the kernel zeroes every page. Measured on the paper preset (224 px, batch 64 x 4 frames, one
thread; ``python -m lewm bench train --compare --presets paper``, session 18): half of the run was kernel time
(``sys`` 3 min 46 s of 8 min 32 s), and the samples/s of both paths overlapped from round to round. With every
allocation served from the heap and freed memory kept (``mallopt``: no mmap, trim and top-pad thresholds of
2 GB / 1 GB) the same command ran in 4 min 23 s (``sys`` 40 s): fp32 1.8 -> 2.7, bf16 2.5 -> 4.5 samples/s. Small
models (cpu-small: 0.4 s of ``sys`` in 8 s) neither gain nor lose.

``python -m lewm train`` and ``bench`` call :func:`keep_freed_memory` before their work, and so does the lab's training
process (its own process, ended with the run); the lab's server does not (a long-lived server should give memory
back). Linux with glibc only; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and keep what is freed (glibc ``mallopt``) -> whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(p, v) == 1 for p, v in ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 2**30)))
