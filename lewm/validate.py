"""Input validation, in one place: allowed ranges, datasets, output paths, devices.

- **Ranges.** A config field declares its range where it is defined (``ranged(default, lo=1)``
  in :mod:`lewm.config`); ``check_fields`` enforces every declared range from ``__post_init__``,
  and ``arg_field`` turns the same range into an argparse ``type=`` for the CLI flag that sets the
  field. CLI numbers that are not config fields use ``arg_int`` / ``arg_float`` at their
  ``add_argument``. Every failure is a ValueError of one line: ``train.batch_size must be >= 1,
  got 0``.
- **Datasets.** ``check_dataset`` is what every command that reads an HDF5 episode file calls
  before any work: readable (not truncated, not foreign), the layout keys, finite states, and the
  environment / image size / action size of the checkpoint that will use it.
- **Outputs.** ``check_out_file`` / ``check_out_dir`` (defined in :mod:`lewm.paths`): refuse a folder where a file is expected
  (or the reverse), a missing parent folder, a place that cannot be written, a symbolic link, a
  blank or space-padded name, before the work; an output replaces only a file of its own kind, and
  a file of a run's folder only with ``--force`` (``lewm.runs.check_replaceable``).
- **Devices.** ``check_device``: ``cuda`` on a machine without CUDA is a clear error.

A leaf module: it imports from :mod:`lewm` only the leaves :mod:`lewm.env_names`, :mod:`lewm.paths` and
:mod:`lewm._data_checks` at load time, and
:mod:`lewm.data` / :mod:`lewm.runs` inside functions, so that :mod:`lewm.config` can import it.
"""
from __future__ import annotations

import argparse
import math
import numbers
import os
from dataclasses import dataclass, field, fields
from typing import Any

from ._data_checks import action_scale_problem
from .env_names import CANONICAL_ENVS, env_key
from .paths import check_in_file, check_out_dir, check_out_file, existing_ancestor, not_regular  # noqa: F401


# ---------------------------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """The allowed values of one number (or string): bounds, open or closed, or a set of choices."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    """``lo`` itself excluded (``> lo``)."""
    hi_open: bool = False
    """``hi`` itself excluded (``< hi``)."""
    zero_ok: bool = False
    """0 is also allowed (meaning "off"), whatever the bounds."""
    choices: tuple = ()
    """For strings: the allowed values (bounds unused)."""

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.lo is not None and self.hi is not None:
            s = f"in {'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}{')' if self.hi_open else ']'}"
        elif self.lo is not None:
            s = f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        elif self.hi is not None:
            s = f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        else:
            s = "finite"
        return f"0 (off) or {s}" if self.zero_ok else s

    def ok(self, v) -> bool:
        if self.choices:
            return v in self.choices
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if self.zero_ok and v == 0:
            return True
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        if self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi):
            return False
        return True


def _num(x) -> str:
    if isinstance(x, int):  # 2**63 - 1 was "9.22337e+18"
        return str(x)
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def ranged(default, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False,
           zero_ok: bool = False, choices: tuple = ()):
    """A dataclass field with its allowed range: ``batch_size: int = ranged(128, lo=1)``."""
    return field(default=default, metadata={"range": Range(lo, hi, lo_open, hi_open, zero_ok, tuple(choices))})


def range_of(cls, name: str) -> Range | None:
    """The declared range of field ``name`` of dataclass ``cls`` (None if it has none)."""
    for f in fields(cls):
        if f.name == name:
            return f.metadata.get("range")
    raise KeyError(name)


def check_value(where: str, value, rng: Range | None, kind: type | None = None):
    """Check the type (``kind``: bool, int, float or str) and range of one value; return it.
    Raises ``ValueError("<where> must be <range>, got <value>")``."""
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise ValueError(f"{where} must be a whole number, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r}")
    if kind is float and not _finite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if rng is not None and not rng.ok(value):
        raise ValueError(f"{where} must be {rng.describe()}, got {value!r}")
    return value


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):  # Fraction(10**400): float() overflows
        return False


def _plain(value, kind: type | None):
    """A numpy scalar (``np.int64(32)``, ``np.float32(1e-3)``, ``np.True_``) as the plain Python
    number of ``kind``: numpy scalars passed every check but were not JSON-serialisable, so the
    checkpoint could not be written at the end of the run."""
    import numpy as np
    if isinstance(value, np.generic):
        if kind is bool and isinstance(value, np.bool_):
            return bool(value)
        if kind in (int, float) and isinstance(value, (np.integer, np.floating)) and not isinstance(value, np.bool_):
            return value.item()
    elif kind is float and isinstance(value, numbers.Real) and type(value) not in (bool, int, float):
        try:  # a Fraction passed every check, then json.dumps refused it when the run or checkpoint was written
            return float(value)
        except (OverflowError, ValueError, TypeError):
            return value  # check_value names it
    elif kind is int and isinstance(value, numbers.Integral) and type(value) not in (bool, int):
        return int(value)
    return value


def check_fields(obj, section: str) -> None:
    """Check every field of dataclass instance ``obj`` against its type (taken from the field's
    default) and its declared range; the message names ``section.field``. A numpy scalar is
    stored as the plain Python number (a config must stay JSON-serialisable)."""
    for f in fields(obj):
        default = f.default
        kind = type(default) if isinstance(default, (bool, int, float, str)) else None
        value = getattr(obj, f.name)
        plain = _plain(value, kind)
        if plain is not value:
            object.__setattr__(obj, f.name, plain)
        check_value(f"{section}.{f.name}", plain, f.metadata.get("range"), kind)


def number_tuple(where: str, vals) -> tuple[float, ...]:
    """A list / tuple / 1-D array of finite-or-not numbers as a tuple of Python floats (``action_mean``,
    ``action_std``); anything else (a string, a number, a 2-D array) is one ValueError naming ``where``."""
    import numpy as np
    if isinstance(vals, (str, bytes)) or not isinstance(vals, (list, tuple, np.ndarray)):
        raise ValueError(f"{where} must be a list of numbers (one per action dimension), got {vals!r:.60}")
    arr = np.asarray(vals, dtype=object)
    if arr.ndim != 1 or not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in arr):
        raise ValueError(f"{where} must be a list of numbers (one per action dimension), got {vals!r:.60}")
    return tuple(float(v) for v in arr)


def check_action_stats(mean, std, action_dim: int) -> None:
    """``action_mean`` / ``action_std`` (the training data's action z-scoring): each empty (identity:
    not yet trained) or ``action_dim`` finite numbers, every std > 0. A shorter list would broadcast
    silently and a zero std would blow actions up to inf: both planned garbage without a word."""
    for name, vals in (("action_mean", mean), ("action_std", std)):
        if vals and len(vals) != action_dim:
            raise ValueError(f"{name} has {len(vals)} number(s) but model.action_dim is {action_dim}")
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"{name} must be finite numbers, got {list(vals)}")
    if bool(mean) != bool(std):  # was: the missing half taken as 0 / 1 without a word (action_stats_of)
        given, lacking = ("action_mean", "action_std") if mean else ("action_std", "action_mean")
        raise ValueError(f"{given} has {action_dim} number(s) but {lacking} is empty; give both (the training "
                         f"data's action mean and std, {action_dim} each) or neither (identity)")
    if std and min(std) <= 0:
        raise ValueError(f"action_std must be > 0 in every dimension, got {list(std)}")
    if bad := action_scale_problem(mean, std):  # the same bounds as lewm.data.ActionStats
        raise ValueError(bad)


def parse_bool(raw: str, where: str) -> bool:
    """'true/false/1/0/yes/no/on/off' (any case) -> bool; anything else is an error, not False."""
    s = str(raw).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{where} takes true or false, got {raw!r}")


def _arg_type(kind: type, rng: Range | None):
    name = "an integer" if kind is int else "a number"

    def parse(raw: str):
        try:
            v = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects {name}, got {raw!r}") from None
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {raw!r}")
        if rng is not None and not rng.ok(v):
            raise argparse.ArgumentTypeError(f"must be {rng.describe()}, got {raw}")
        return v

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def arg_int(lo=None, hi=None, **kw):
    """argparse ``type=``: an integer in the range (``arg_int(1)`` = a positive count)."""
    return _arg_type(int, Range(lo, hi, **kw))


def arg_float(lo=None, hi=None, **kw):
    """argparse ``type=``: a finite float in the range."""
    return _arg_type(float, Range(lo, hi, **kw))


def arg_field(cls, name: str):
    """argparse ``type=`` for a flag that sets config field ``cls.name``: its declared range."""
    f = next(f for f in fields(cls) if f.name == name)
    return _arg_type(int if type(f.default) is int else float, f.metadata.get("range"))


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------
def check_device(spec: str, flag: str = "--device"):
    """'cpu' | 'cuda' | 'cuda:N' | 'mps' -> torch.device, or a ValueError saying why it cannot be
    used on this machine and what to pass instead (in the words of a flag, ``--device``, or of a
    Python argument, e.g. ``train(device=...)``)."""
    import torch
    cli = flag.startswith("--")
    use_cpu = "use --device cpu (or auto)" if cli else "use device='cpu' (or 'auto')"
    choices = "use auto, cpu, cuda, cuda:N or mps" if cli else "use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"{flag} {spec!r} is not a device; {choices}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this PyTorch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ValueError(f"{flag} {spec}: {why} on this machine; {use_cpu}")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"{flag} {spec}: this machine has {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{flag} {spec}: MPS is not available on this machine; {use_cpu}")
    elif dev.type != "cpu":
        raise ValueError(f"{flag} {spec!r}: unsupported device type; {choices}")
    return dev


def check_train_memory(cfg, dev, params: int = 0) -> int:
    """Refuse a training whose activations cannot fit: a lower bound of what backward must keep
    (the encoder's residual stream, fp32, at every block: batch x (history+1) frames x patches x
    enc_dim x enc_depth) plus the ``params`` parameters' weights, gradients and AdamW moments
    (:func:`lewm.model.parameter_count`) against the device's memory (RAM for the CPU). Returns the
    bound in bytes."""
    import torch
    if not hasattr(getattr(cfg, "model", None), "image_size") or not hasattr(getattr(cfg, "train", None), "batch_size"):
        raise TypeError(f"check_train_memory(cfg=...) must be a LeWMConfig (e.g. get_preset('cpu-tiny')), "
                        f"got {type(cfg).__name__}")
    if isinstance(dev, str):
        dev = check_device(dev, "check_train_memory(dev=...)")
    if not isinstance(dev, torch.device):
        raise TypeError(f"check_train_memory(dev=...) must be a torch.device or a device name such as 'cpu', "
                        f"got {type(dev).__name__}")
    mc, tc = cfg.model, cfg.train
    patches = (mc.image_size // mc.patch_size) ** 2 + 1
    from .faults import torchrun_env
    batch = max(1, tc.batch_size // torchrun_env()[1])  # per rank (torchrun); a bad WORLD_SIZE named
    need = 4 * batch * (mc.history + 1) * patches * mc.enc_dim * mc.enc_depth
    weights = 16 * params  # fp32 weights, gradients and AdamW's two moments
    need += weights
    try:
        if dev.type == "cuda":
            have, where = torch.cuda.get_device_properties(dev).total_memory, f"{dev} has"
        else:
            have, where = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine has"
    except (ValueError, OSError, AttributeError, RuntimeError):
        return need
    if need > have:
        if weights > have:
            raise ValueError(f"the model has {weights / 16 / 1e9:.2f} billion parameters: training needs "
                             f"{weights / 2**30:.1f} GiB for them (weights, gradients, AdamW state) but {where} "
                             f"{have / 2**30:.1f} GiB; lower the model.* widths (--set) or pick a smaller --preset")
        raise ValueError(f"model.image_size {mc.image_size} / patch_size {mc.patch_size} ({patches - 1} patches) at "
                         f"batch size {batch} needs at least {need / 2**30:.1f} GiB for its activations but "
                         f"{where} {have / 2**30:.1f} GiB; lower --batch-size or the image size, or raise the patch size")
    return need


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------
def data_image_size(path: str) -> int | None:
    """The image side of an HDF5 episode file, or None when it cannot be read (``check_dataset``
    then says why, in its own words)."""
    from .data import validate_file
    try:
        return int(validate_file(path)["image_size"])
    except Exception:  # noqa: BLE001 (any failure is reported by check_dataset, later)
        return None


def check_dataset(path: str, *, flag: str = "--data", env: str | None = None, image_size: int | None = None,
                  action_dim: int | None = None, need_state: bool = False, state_dim: int | None = None,
                  who: str = "the checkpoint") -> dict[str, Any]:
    """Validate an HDF5 episode file before any work; return :func:`lewm.episode_file.validate_file`'s facts.

    Raises :class:`lewm.data.DataError` (one line naming the file, the key or attribute, what was
    found and what to do) for a missing, truncated or foreign file, missing keys, non-finite
    states, and data of another environment (``env``), image size or action size than ``who``'s.
    """
    import numpy as np
    from .data import DataError, h5_dataset, open_h5, validate_file
    if not os.path.exists(path):
        from .paths import why_missing
        raise DataError(f"{flag} {path}: {why_missing(path).replace('no such file', 'no such dataset file', 1)}")
    if os.path.isdir(path):
        raise DataError(f"{flag} {path}: is a folder, expected an HDF5 episode file")
    not_regular(path, flag, DataError)
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":  # torch.save's zip
            raise DataError(f"{flag} {path}: is a checkpoint, not an HDF5 episode file "
                            f"(pass it as --checkpoint or --init)")
    try:
        info = validate_file(path, image_size)
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:  # h5py on a truncated/foreign file
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError(f"{path}: not a readable episode file (truncated or foreign?): {msg}") from None
    if env and info["env"] and env_key(info["env"]) != env_key(env):
        how = f" (python -m lewm collect --env {env_key(env)} ...)" if env_key(env) in CANONICAL_ENVS else ""
        raise DataError(f"{path}: holds {info['env']!r} episodes (attribute 'env') but {who} is for {env!r}; "
                        f"use data of {env!r}{how}")
    if action_dim is not None and info["action_dim"] != action_dim:
        raise DataError(f"{path}: actions have {info['action_dim']} dims (key 'action') but {who} expects "
                        f"{action_dim}: use data of its environment")
    try:
        with open_h5(path) as f:
            if "state" not in f:
                if need_state:
                    raise DataError(f"{path}: no 'state' key; start and goal need the true states "
                                    f"(collect the data with python -m lewm collect)")
            else:
                st = h5_dataset(path, f, "state")
                if st.ndim != 2 or st.shape[0] != info["num_frames"]:
                    raise DataError(f"{path}: key 'state' must be (N, Q) with N = {info['num_frames']} rows "
                                    f"like 'pixels', got {st.shape}")
                if state_dim is not None and st.shape[1] != state_dim:
                    raise DataError(f"{path}: states have {st.shape[1]} numbers (key 'state') but {who}'s "
                                    f"environment has {state_dim}: use data of its environment")
                for lo in range(0, st.shape[0], 1 << 18):
                    block = np.asarray(st[lo:lo + (1 << 18)], dtype=np.float64)
                    bad = ~np.isfinite(block).all(axis=1)
                    if bad.any():
                        row = lo + int(np.flatnonzero(bad)[0])
                        raise DataError(f"{path}: key 'state' has NaN/inf at row {row} "
                                        f"({int(bad.sum())} row(s) in this block); re-collect the file")
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError(f"{path}: not a readable episode file (truncated or foreign?): {msg}") from None
    return info


def check_batch_fits(batch_size: int, windows: int, path: str) -> int:
    """A training batch draws (with replacement) from the training split's windows: a batch larger
    than the split is the same few windows repeated, gigabytes per step for nothing (it looked like
    a hang). Refuse it, naming both numbers; return ``batch_size``."""
    from .data import DataError
    if windows and batch_size > windows:
        raise DataError(f"{path}: train.batch_size {batch_size} is larger than the {windows} training windows "
                        f"of the file; lower --batch-size to at most {windows} or use more data")
    return batch_size
