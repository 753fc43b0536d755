"""Argument checks of :mod:`lewm.checkpoint`'s Python API: one clear line naming the argument.

``save`` refuses, before anything is written, what ``load`` would refuse afterwards (a negative or
fractional step, metrics that are not a JSON object, NaN/inf weights, weights of another architecture
than the config's), and what used to fail deep inside (a model or config of the wrong kind, a place
that cannot be written). ``load`` / ``load_optimizer`` / ``batchnorm_note`` name a wrong argument
instead of blaming the file.
"""
from __future__ import annotations

import copy
import json
import numbers
import os
import sys

import torch

from ._api_checks import plain_bool
from .config import LeWMConfig
from .validate import check_device, check_value

MAX_STEP = 10**9
"""The largest step ``save`` writes: ``TrainConfig.steps`` is at most 1e9."""


def check_save_args(model, config, step, metrics, optimizer, half, replace) -> dict:
    """Everything ``save`` is given except the path and the weights' values (see :func:`check_weights`)
    -> the metrics to write (:func:`check_metrics`)."""
    from .model import LeWM
    if not isinstance(model, LeWM):
        raise TypeError(f"save(model=...) must be a LeWM model, got {_kind(model)}")
    if any(v.is_meta for v in model.state_dict().values()):  # was "Cannot copy out of meta tensor; no data!"
        raise ValueError("save(model=...) is on the meta device (no weights to write); build it on 'cpu' or load "
                         "weights into it first")
    if not isinstance(config, LeWMConfig):
        hint = " (LeWMConfig.from_dict(d) builds one from a dict)" if isinstance(config, dict) else ""
        raise TypeError(f"save(config=...) must be a LeWMConfig, got {_kind(config)}{hint}")
    check_value("save(step=...)", step, None, int)
    if step < 0:  # load refuses it: an edited step would shift a resumed run's schedule
        raise ValueError(f"save(step=...) must be a whole number >= 0, got {step!r}")
    if step > MAX_STEP:  # 2**70 was written: a run that can never resume (train.steps <= 1e9)
        raise ValueError(f"save(step=...) must be at most {MAX_STEP} (1e9, the most train.steps allows), got {step!r}")
    metrics = check_metrics(metrics)
    if optimizer is not None and not isinstance(optimizer, dict):
        raise TypeError(f"save(optimizer=...) must be an optimizer's state_dict() (a dict) or None, "
                        f"got {_kind(optimizer)}")
    if optimizer is not None and not {"state", "param_groups"} <= set(optimizer):  # a resume would fail later
        raise ValueError(f"save(optimizer=...) must be an optimizer's state_dict() (keys 'state' and "
                         f"'param_groups'), got keys {sorted(map(str, optimizer))[:6]}")
    check_value("save(half=...)", plain_bool(half), None, bool)  # a numpy bool is a bool (round 7)
    check_value("save(replace=...)", plain_bool(replace), None, bool)
    check_architecture(model, config)
    return metrics


def check_metrics(metrics) -> dict:
    """None or a dict of JSON values with string keys (``load`` reads them back as a JSON object) -> the
    dict to write: a copy in which a numpy scalar (``np.float32(0.5)``, also inside a list or dict) is the
    equal Python number (``.item()``); the caller's dict is left as it was."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise TypeError(f"save(metrics=...) must be a dict of numbers (e.g. {{'loss': 0.1}}) or None, "
                        f"got {_kind(metrics)}")
    try:
        metrics = copy.deepcopy(metrics)
    except Exception:  # not copyable: it cannot be JSON either; the check below names the value
        metrics = dict(metrics)
    for k, v in metrics.items():
        if not isinstance(k, str):
            raise TypeError(f"save(metrics=...) keys must be strings, got {k!r}")
        metrics[k] = v = _plain_json(v)
        try:
            json.dumps(v)
        except (TypeError, ValueError) as e:
            hint = " (use .item() for a tensor)" if torch.is_tensor(v) else ""
            raise TypeError(f"save(metrics=...)[{k!r}] must be a number, string, list or dict (JSON), got "
                            f"{type(v).__name__}{hint}: {str(e).splitlines()[0][:120]}") from None
    return metrics


def _plain_json(v):
    """``v`` with numpy scalars (and 0-d arrays) replaced by the equal Python values, lists and dicts
    edited in place (a tuple becomes a list, as JSON writes it anyway); anything else unchanged."""
    np = sys.modules.get("numpy")
    if np is None:
        return v
    if isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0):
        return v.item()
    if isinstance(v, list):
        for i, x in enumerate(v):
            v[i] = _plain_json(x)
    elif isinstance(v, tuple):
        return [_plain_json(x) for x in v]
    elif isinstance(v, dict):
        for k, x in v.items():
            v[k] = _plain_json(x)
    return v


def check_architecture(model, config: LeWMConfig) -> None:
    """The model's weights have the names and shapes of ``LeWM(config.model)`` (``load`` rebuilds the
    model from the config): a model of another architecture is refused, naming the first difference."""
    if getattr(model, "cfg", None) == config.model:
        return
    from .model import LeWM
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            want = {k: tuple(v.shape) for k, v in LeWM(config.model).state_dict().items()}
    except Exception as e:  # noqa: BLE001 (a config LeWM cannot build: named below)
        raise ValueError(f"save(config=...): its model section cannot be built ({str(e).splitlines()[0][:160]})") from None
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    diff = next((k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)), None)
    if diff is not None:
        raise ValueError(f"save(config=...) describes another architecture than save(model=...): weight {diff!r} is "
                         f"{have.get(diff, 'missing')} in the model but {want.get(diff, 'absent')} in the config's; "
                         f"pass the config the model was built with")


def check_weights(sd: dict, half: bool) -> None:
    """No NaN/inf weight (``half``: also none beyond fp16's range) and no negative BatchNorm variance:
    ``load`` refuses such a file."""
    for k, v in sd.items():
        if v.is_floating_point() and not bool(v.isfinite().all()):
            why = (" once stored as fp16 (a value beyond +-65504; save with half=False)" if half else
                   " (the run diverged?)")
            raise ValueError(f"save(model=...): weight {k!r} holds NaN/inf{why}; not saved, load would refuse it")
        if k.endswith("running_var") and bool((v < 0).any()):
            raise ValueError(f"save(model=...): weight {k!r} (a BatchNorm variance) holds negative values; not saved, "
                             f"load would refuse it")


def note_fp16_source(model) -> None:
    """Warn when ``model`` was loaded from an fp16 export (:func:`lewm.checkpoint.load` marks it) and its
    weights are still those fp16 values: saving them as fp32 does not bring the lost precision back."""
    src = getattr(model, "_lewm_fp16_source", None)
    if src is None:
        return
    if all(bool((p.detach().half().float() == p.detach().float()).all()) for p in model.parameters()):
        import warnings
        warnings.warn(f"{src} holds fp16 weights (an export): saving them as fp32 (--fp32, save(half=False)) cannot "
                      f"restore the precision lost; export from the training checkpoint (e.g. runs/x/last.pt) "
                      f"instead", UserWarning, stacklevel=3)


def is_disk_full(e: BaseException) -> bool:
    """Whether ``e`` (or an error it was raised while handling: torch.save reports a failed write as a
    RuntimeError from its zip writer, with the OSError as its context) is a machine limit of a write: no
    space left, a quota, the file-size limit (EFBIG, ``ulimit -f``), too many open files."""
    from .atomic import limit_errno
    return limit_errno(e) is not None


def kept_checkpoint(path, read_raw) -> str:
    """What is left under the checkpoint name ``path`` after a failed save (the previous one, its step)."""
    if not os.path.isfile(path):
        return "nothing was written there"
    try:
        return f"the previous checkpoint there (step {int(read_raw(path).get('step', 0))}) is intact"
    except Exception:  # noqa: BLE001 (not readable: say only that it was not touched)
        return "the file there was not touched"


def disk_full(path, read_raw, e: BaseException | None = None) -> OSError:
    """The one-line error of a checkpoint write that hit a machine limit (disk full, file-size limit, too
    many open files: ``e``'s; the temporary file is removed): names the file and what is left there
    (``read_raw`` reads the previous checkpoint's step)."""
    from .atomic import write_failed
    return write_failed(e, os.fspath(path), kept_checkpoint(path, read_raw), verb="saving")


def check_load_args(path, device, strict) -> torch.device:
    """``load``'s path (a name, not None), device (one this machine has) and strict (a bool) -> the device."""
    check_path(path, "load(path=...)")
    check_value("load(strict=...)", strict, None, bool)
    return device_arg(device, "load(device=...)")


def check_path(path, where: str) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where} must be a checkpoint file name (e.g. runs/x/last.pt), got {_kind(path)}")


def device_arg(device, where: str) -> torch.device:
    """'cpu' / 'cuda' / 'cuda:N' / 'mps' / a torch.device -> torch.device, or one line naming ``where``
    (CUDA on a machine without it says so)."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"{where} must be a device name such as 'cpu' or 'cuda', got {_kind(device)}")
    try:
        return check_device(device, flag=where)
    except ValueError as e:
        raise ValueError(str(e).replace("no CUDA GPU is visible", "CUDA is not available (no GPU is visible)")
                         .replace("this PyTorch build has no CUDA", "CUDA is not available (this PyTorch build has none)")) \
            from None


def check_optimizer_args(opt, state, path) -> None:
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"load_optimizer(opt=...) must be a torch optimizer (e.g. torch.optim.AdamW), got {_kind(opt)}")
    if state is None or (not isinstance(state, dict) and not path):  # another value read from a file: blamed on it
        raise TypeError(f"load_optimizer(state=...) must be an optimizer state dict (meta['optimizer'] of a checkpoint "
                        f"saved with one), got {_kind(state)}" + (f" for {path}" if path else ""))


def check_meta(meta) -> dict:
    """``batchnorm_note``'s argument: the meta dict ``load`` returns (or None) -> its metrics dict."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise TypeError(f"batchnorm_note(meta=...) must be the meta dict that load() returns, got {_kind(meta)}")
    m = meta.get("metrics") or {}
    if not isinstance(m, dict):
        raise TypeError(f"batchnorm_note(meta=...): its 'metrics' must be a dict, got {_kind(m)}")
    return m


def _kind(x) -> str:
    if x is None or isinstance(x, (bool, numbers.Number)):
        return repr(x)
    if isinstance(x, str):
        return repr(x[:60])
    return f"a {type(x).__name__}"


FP16_NORMAL_MIN = 6.103515625e-05
"""The smallest normal fp16 number: below it a value keeps fewer bits, below about 3e-8 it becomes 0."""


def note_fp16_underflow(full: dict, half: dict) -> None:
    """``save(half=True)``: warn, naming the weight, when the fp16 copy loses a weight's small values: more than 1 %
    of its nonzero values become 0, or all of them lie below fp16's normal range (most of their precision gone).
    A trained model's few values that round to 0 (one in a million of a normal initialisation) say nothing."""
    bad = []
    for k, v in full.items():
        if not v.is_floating_point() or not v.numel():
            continue
        nz = v != 0
        n = int(nz.sum())
        if not n:
            continue
        lost = int((nz & (half[k] == 0)).sum())
        top = float(v.abs().max())
        if lost > 0.01 * n or top < FP16_NORMAL_MIN:
            bad.append((k, lost, n, top))
    if bad:
        import warnings
        k, lost, n, top = bad[0]
        more = f" (and {len(bad) - 1} other weight(s))" if len(bad) > 1 else ""
        why = (f"all its values are below fp16's normal range ({FP16_NORMAL_MIN:.3g}; the largest is {top:.3g}), "
               f"{lost} of its {n} nonzero values become 0" if top < FP16_NORMAL_MIN else
               f"{lost} of its {n} nonzero values become 0 (below about 3e-08)")
        warnings.warn(f"save(half=True): weight {k!r}{more} is too small for fp16: {why}; save with half=False "
                      f"to keep them", UserWarning, stacklevel=3)
