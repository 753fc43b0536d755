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


RESERVE_BYTES = 2 * 2**30
"""Address space :func:`threads_that_fit` keeps free for the work itself (tensors, the compiled code)."""


def thread_address_space() -> int:
    """Bytes of address space one more OpenMP thread maps: twice the stack size a new thread gets (``OMP_STACKSIZE``
    is not read; glibc's default is the stack limit, 8 MB where it is unlimited). Measured on this project's CPU
    machine (torch 2.13, libgomp, ``ulimit -v`` 12 GB): 16.0 MB a thread, 600 threads fit and 700 did not."""
    import resource
    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    if stack == resource.RLIM_INFINITY or stack <= 0:
        stack = 8 * 2**20
    return 2 * stack


def threads_that_fit() -> int | None:
    """How many CPU threads this process can still start under its address-space limit (``ulimit -v``), keeping
    :data:`RESERVE_BYTES` for the work; None where there is no such limit. libgomp aborts the whole process, from C,
    when a thread cannot be created (round 27's N1: ``--threads 1024`` under a 12 GB limit), so the count is
    checked before torch is asked for the threads."""
    import resource
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY or limit <= 0:
        return None
    try:
        with open("/proc/self/status") as f:
            used = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return max(0, (limit - used - RESERVE_BYTES) // thread_address_space())


def set_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` for ``--threads`` (None or 0: leave torch's default). More threads
    than the machine's cores is allowed but named: oversubscribed cores run matmuls many times slower. More than the
    process's address-space limit leaves room for (:func:`threads_that_fit`) is refused: libgomp would abort."""
    if n is None:
        return
    # -1 / 2.5 / True were torch's RuntimeError, '2' a comparison TypeError
    n = check_value("threads (torch's CPU threads; 0: its default)", n, Range(lo=0), int)
    if n == 0:
        return
    n = int(n)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    room = threads_that_fit()
    if room is not None and n > room:
        raise ValueError(f"--threads {n}: {n} CPU threads need about {n * thread_address_space() / 2**30:.1f} GB of "
                         f"address space for their stacks, more than this process may still map (its address-space "
                         f"limit, ulimit -v); use --threads {max(1, min(room, cores))} (at most {room} fit)")
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
