"""Argument checks of the lab's Python API outside the config (used by :mod:`lewm.bench`,
:mod:`lewm.bench_compare` and :mod:`lewm.jobs`). A bad argument is one ValueError (TypeError for a wrong type) naming the function and
the argument (``bench_plan(repeats=...) must be >= 1, got 0``), raised before any model is built, timed, or
any folder or process is made, instead of a default taken silently (0), an IndexError, a "negative
dimension" from torch, a worker's traceback or an empty result. ``None`` stays "the default" only where
the signature's default is None (``none_ok``)."""
from __future__ import annotations

import numbers
import os
import sys

from .validate import Range, check_device, check_out_dir

COMPILE_MODES = ("none", "cuda-graphs", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
"""``bench_plan(compile=...)``: as ``python -m lewm bench plan --compile``."""


def _w(fn: str, name: str) -> str:
    return f"{fn}({name}=...)"


def whole(fn: str, name: str, value, lo: int, hi: int | None = None, *, none_ok: bool = False) -> int | None:
    """A whole number in [lo, hi] (``none_ok``: None, the default, passes through)."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        alt = " or None (the default)" if none_ok else ""
        raise TypeError(f"{_w(fn, name)} must be a whole number{alt}, got {value!r:.60}")
    rng = Range(lo, hi)
    if not rng.ok(value):
        raise ValueError(f"{_w(fn, name)} must be {rng.describe()}, got {value!r}")
    return int(value)


def plain_bool(value):
    """A numpy bool (``np.False_``) as the plain Python bool (round 7: "np.bool_ is a bool"); anything
    else unchanged (numpy is not imported for this: a numpy bool exists only once numpy is)."""
    np = sys.modules.get("numpy")
    return bool(value) if np is not None and isinstance(value, np.bool_) else value


def flag(fn: str, name: str, value, *, none_ok: bool = False) -> bool | None:
    """True or False (``none_ok``: or None, the default; a numpy bool counts as a bool); "yes", 1 and
    the like are refused."""
    if value is None and none_ok:
        return None
    value = plain_bool(value)
    if not isinstance(value, bool):
        alt = ", or None (the default)" if none_ok else ""
        raise TypeError(f"{_w(fn, name)} must be True or False{alt}, got {value!r:.60}")
    return value


def number(fn: str, name: str, value, lo: float, hi: float) -> float:
    """A finite real number in [lo, hi], as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_w(fn, name)} must be a number, got {value!r:.60}")
    rng = Range(lo, hi)
    if not rng.ok(float(value)):
        raise ValueError(f"{_w(fn, name)} must be {rng.describe()}, got {value!r}")
    return float(value)


def text(fn: str, name: str, value, *, none_ok: bool = False) -> str | None:
    """A non-blank string (a label, a preset name; ``none_ok``: or None, the default)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{_w(fn, name)} must be a string{' or None (the default)' if none_ok else ''}, "
                        f"got {value!r:.60}")
    if not value.strip():
        raise ValueError(f"{_w(fn, name)} must not be blank, got {value!r}")
    return value


def path(fn: str, name: str, value, *, none_ok: bool = False, file: bool = False, folder: bool = False,
         new_folder: bool = False) -> str | None:
    """A path (str or os.PathLike) as a str: ``file`` an existing file, ``folder`` not a file (it may not exist
    yet), ``new_folder`` a folder that does not exist yet and can be made (``none_ok``: None, the default)."""
    value = os.fspath(value) if isinstance(value, os.PathLike) else value
    if value is None and none_ok:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{_w(fn, name)} must be a path (a string), got {value!r:.60}")
    text(fn, name, value)
    if file and not os.path.isfile(value):
        raise ValueError(f"{_w(fn, name)} must be an existing file, got {value!r} "
                         f"({'a folder' if os.path.isdir(value) else 'no such file'})")
    if (folder or new_folder) and os.path.exists(value) and not os.path.isdir(value):
        raise ValueError(f"{_w(fn, name)} must be a folder, got {value!r} (a file)")
    if new_folder and os.path.lexists(value):
        raise ValueError(f"{_w(fn, name)} {value}: exists; every run gets a fresh folder (an existing one is "
                         f"never reused): give a new path")
    if new_folder:
        check_out_dir(value, _w(fn, name))
    return value


def preset(fn: str, value) -> str:
    """A preset name of :data:`lewm.config.PRESETS`."""
    from .config import PRESETS
    text(fn, "preset", value)
    if value not in PRESETS:
        raise ValueError(f"{_w(fn, 'preset')} must be one of {sorted(PRESETS)}, got {value!r}")
    return value


def device(fn: str, dev, name: str = "dev"):
    """A torch.device, or a string naming one ('cpu', 'cuda:0', 'auto'), usable on this machine."""
    import torch

    from .devices import resolve_device
    if isinstance(dev, str) and dev == "auto":
        return resolve_device("auto")
    if not isinstance(dev, (str, torch.device)):
        raise TypeError(f"{_w(fn, name)} must be a torch.device or a device name such as 'cpu' or 'cuda', "
                        f"got {dev!r:.60}")
    return check_device(str(dev), _w(fn, name))


def model(fn: str, value):
    """A :class:`lewm.model.LeWM`."""
    from .model import LeWM
    if not isinstance(value, LeWM):
        raise TypeError(f"{_w(fn, 'model')} must be a LeWM model (lewm.model.LeWM, e.g. from lewm.checkpoint.load), "
                        f"got {type(value).__name__}")
    return value


def config(fn: str, value):
    """A :class:`lewm.config.LeWMConfig`."""
    from .config import LeWMConfig
    if not isinstance(value, LeWMConfig):
        raise TypeError(f"{_w(fn, 'cfg')} must be a LeWMConfig (lewm.config.get_preset(...) or a checkpoint's), "
                        f"got {type(value).__name__}")
    return value


SEED_HI = 2**64 - 1
"""The largest seed: what both torch.manual_seed and numpy's default_rng take."""


def seed(fn: str, value, name: str = "seed", *, hi: int = SEED_HI) -> int:
    """A seed: a whole number in [0, hi] (numpy ints too). -1 was numpy's "expected non-negative integer",
    1.5 its "SeedSequence expects int", None torch's "int() argument ...", 2**70 an overflow, 1.7 seed 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_w(fn, name)} must be a whole number >= 0, got {value!r:.60}")
    if not 0 <= value <= hi:
        raise ValueError(f"{_w(fn, name)} must be a whole number >= 0{f' and <= {hi}' if value > 0 else ''}, "
                         f"got {value!r}")
    return int(value)


def world_model(fn: str, value, *methods: str, name: str = "model"):
    """A world model for the diagnostics: an ``nn.Module`` (a :class:`lewm.model.LeWM`, or a stand-in with the same
    ``methods``, e.g. ``encode``). None was an AttributeError ('NoneType' object has no attribute 'parameters')
    deep inside the instrument."""
    from torch import nn
    missing = [m for m in methods if not callable(getattr(value, m, None))]
    if not isinstance(value, nn.Module) or missing:
        lack = f" (it has no {', '.join(missing)})" if isinstance(value, nn.Module) else ""
        raise TypeError(f"{_w(fn, name)} must be a LeWM model (lewm.model.LeWM, e.g. from lewm.checkpoint.load), "
                        f"got {type(value).__name__}{lack}")
    return value


def environment(fn: str, value, *methods: str, name: str = "env"):
    """An environment (:func:`lewm.envs.make`, or a stand-in with the same ``methods``, e.g. ``render_state``).
    None was an AttributeError ('NoneType' object has no attribute 'reset') deep inside."""
    missing = [m for m in methods if not callable(getattr(value, m, None))]
    if value is None or isinstance(value, (str, bytes, int, float)) or missing:
        hint = f"; give the environment itself, e.g. lewm.envs.make({value!r})" if isinstance(value, str) else ""
        lack = f" (it has no {', '.join(missing)})" if missing and value is not None else ""
        raise TypeError(f"{_w(fn, name)} must be an environment (lewm.envs.make(...)), got "
                        f"{type(value).__name__}{lack}{hint}")
    return value


def iterations(fn: str, value) -> tuple[int, ...]:
    """A non-empty list / tuple of CEM iteration counts, each in [1, 10000]."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{_w(fn, 'iterations')} must be a list of whole numbers (CEM iterations per plan, "
                        f"e.g. (30, 10)), got {value!r:.60}")
    if not value:
        raise ValueError(f"{_w(fn, 'iterations')} must hold at least one iteration count (e.g. (30, 10)), got "
                         f"{value!r}: no plan would be timed")
    return tuple(whole(fn, f"iterations[{i}]", v, 1, 10_000) for i, v in enumerate(value))


def plan_sizes(fn: str, samples, horizon) -> None:
    """CEM candidates per iteration (2 or more: candidate 0 is the sampling mean) and blocks per candidate."""
    whole(fn, "samples", samples, 2, 1_000_000)
    whole(fn, "horizon", horizon, 1, 1000)


def topk(fn: str, value, samples: int) -> int:
    """CEM elites: at most ``samples``."""
    whole(fn, "topk", value, 1, 1_000_000)
    if value > samples:
        raise ValueError(f"{_w(fn, 'topk')} must be <= samples ({samples}), got {value}")
    return int(value)


def compile_mode(fn: str, value, dev) -> str:
    if not isinstance(value, str) or value not in COMPILE_MODES:
        raise ValueError(f"{_w(fn, 'compile')} must be one of {', '.join(map(repr, COMPILE_MODES))}, got {value!r:.60}")
    if value in ("cuda-graphs", "reduce-overhead") and dev.type != "cuda":
        raise ValueError(f"{_w(fn, 'compile')} {value!r} needs a CUDA device, got {dev}; use 'none' or 'default'")
    return value


JOB_KINDS = ("train", "collect")
"""The kinds of :class:`lewm.jobs.Job`."""


def job_kind(fn: str, value) -> str | None:
    """None (every kind) or one of :data:`JOB_KINDS`."""
    if value is not None and (not isinstance(value, str) or value not in JOB_KINDS):
        raise ValueError(f"{_w(fn, 'kind')} must be one of {', '.join(map(repr, JOB_KINDS))} or None (all jobs), "
                         f"got {value!r:.60}")
    return value


def renamed_note(fn: str, asked: str, used: str) -> None:
    """A warning when an output that exists was written under a new name beside it instead."""
    if os.path.abspath(used) != os.path.abspath(asked):
        import warnings
        warnings.warn(f"{_w(fn, 'out')} {asked}: exists (nothing is overwritten); writing {used} instead",
                      UserWarning, stacklevel=3)


def free_file(path: str, taken) -> str:
    """:func:`lewm.runs.unique_file` of ``path`` that is also none of ``taken`` (the outputs of jobs that have not
    written their file yet: two collections started at once into one name both wrote it)."""
    from .runs import unique_file
    stem, ext = os.path.splitext(path)
    for i in range(10_000):
        cand = f"{stem}-{i}{ext}" if i else path
        if cand not in taken and unique_file(cand) == cand:
            return cand
    return unique_file(path)
