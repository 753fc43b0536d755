"""Devices: which one a command runs on (``--device auto``), and its name for reports.

``resolve_device('auto')`` picks CUDA, else MPS, else the CPU; any other spelling goes through
:func:`lewm.validate.check_device`, which refuses a device this machine lacks in one clear line.
"""
from __future__ import annotations

import os
import platform
import warnings

import torch

from .validate import Range, check_device, check_value


def resolve_device(device: str | None, flag: str = "--device") -> torch.device:
    """'auto'/None -> cuda if available, else mps, else cpu. An empty string is not 'auto': it is
    refused like any other non-device (a script's unset variable should not pick a device).
    ``flag``: how an error names the argument (``--device``, or e.g. ``train(device=...)``)."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return check_device(device, flag)  # a clear error for cuda on a machine without it


def device_name(dev: torch.device) -> str:
    """'NVIDIA H200', or 'CPU <model name> (<threads> threads)'. ``dev``: a torch.device or a device name
    ('cpu' was an AttributeError); one this machine lacks is refused like ``--device``."""
    if not isinstance(dev, (str, torch.device)):
        raise TypeError(f"device_name: dev must be a torch.device or a device name (cpu, cuda, ...), got {dev!r:.60}")
    dev = check_device(dev, "device_name: dev")
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), name)
    except OSError:
        pass
    return f"{dev.type.upper()} {name} ({torch.get_num_threads()} threads)"


def set_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` for ``--threads`` (None or 0: leave torch's default). More threads
    than the machine's cores is allowed but named: oversubscribed cores run matmuls many times slower."""
    if n is None:
        return
    # -1 / 2.5 / True were torch's RuntimeError, '2' a comparison TypeError
    n = check_value("threads (torch's CPU threads; 0: its default)", n, Range(lo=0), int)
    if n == 0:
        return
    n = int(n)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n > cores:
        warnings.warn(f"--threads {n} is more than the {cores} CPU cores this process may use; "
                      f"oversubscribed cores are slower, not faster (try --threads {cores})", stacklevel=2)
    torch.set_num_threads(n)


def fused_adamw(dev: torch.device) -> bool:
    """Whether training steps AdamW as one fused kernel on ``dev`` (CPU and CUDA: the same update and state_dict as
    the per-parameter loop, which was ~5% of a cpu-small bf16 step, session 18). ``dev``: a torch.device or a
    device name ('cpu' was an AttributeError); a policy, so a device this machine lacks is not checked here."""
    if isinstance(dev, str):
        try:
            dev = torch.device(dev)
        except (RuntimeError, ValueError):
            raise ValueError(f"fused_adamw(dev={dev!r:.60}): not a device; expected a torch.device or a device name "
                             f"(cpu, cuda, cuda:N, mps)") from None
    if not isinstance(dev, torch.device):
        raise TypeError(f"fused_adamw(dev=...) must be a torch.device or a device name (cpu, cuda, cuda:N, mps), "
                        f"got {dev!r:.60}")
    return dev.type in ("cpu", "cuda")
