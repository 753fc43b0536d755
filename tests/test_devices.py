"""lewm.devices: ``--device auto`` and explicit devices, and the device's name in reports."""
import pytest
import torch

from lewm.devices import device_name, resolve_device


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else (
        "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu")
    for auto in (None, "auto"):
        assert resolve_device(auto) == torch.device(want)
    with pytest.raises(ValueError, match="is not a device"):  # an unset shell variable is not 'auto'
        resolve_device("")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError):
            resolve_device("cuda")


def test_cpu_name_carries_the_model_and_the_threads():
    name = device_name(torch.device("cpu"))
    assert name.startswith("CPU ") and name.endswith(f"({torch.get_num_threads()} threads)")
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        return
    assert name == f"CPU {model} ({torch.get_num_threads()} threads)"
