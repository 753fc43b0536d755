"""lewm.precision: when the model runs under bf16 autocast (device, workload, model width, CPU flags)."""
import pytest
import torch


def test_precision_policy():
    import torch
    from lewm.precision import cpu_has_bf16, resolve_precision
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("bf16", cpu) and not resolve_precision("fp32", cuda)
    assert resolve_precision("auto", cuda, "train") and resolve_precision("auto", cuda, "plan")
    assert not resolve_precision("auto", cpu, "train")  # bf16 training was slower on small CPU models
    assert resolve_precision("auto", cpu, "plan") == cpu_has_bf16()
    # training: bf16 only on bf16 CPUs and for models at least cpu-small wide (measured in lewm/precision.py)
    from lewm.precision import TRAIN_BF16_MIN_WIDTH
    assert resolve_precision("auto", cpu, "train", model_width=192) == cpu_has_bf16()
    assert resolve_precision("auto", cpu, "train", model_width=TRAIN_BF16_MIN_WIDTH) == cpu_has_bf16()
    assert not resolve_precision("auto", cpu, "train", model_width=TRAIN_BF16_MIN_WIDTH - 1)
    assert not resolve_precision("auto", cpu, "train", model_width=32)  # cpu-tiny: slower in bf16
    assert resolve_precision("auto", cuda, "train", model_width=32)
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", cpu)


def test_non_devices_and_bad_widths_are_refused():
    from lewm.precision import resolve_precision
    for dev in ("gpu", None, 5):
        with pytest.raises(ValueError, match=r"device must be a torch\.device or a device name .* got"):
            resolve_precision("auto", dev)
    with pytest.raises(ValueError, match=r"device must be .* got 'gpu'"):
        resolve_precision("bf16", "gpu")
    with pytest.raises(ValueError, match=r"model_width must be the encoder width .* got 'wide'"):
        resolve_precision("auto", "cpu", "train", model_width="wide")
    assert resolve_precision("auto", "cuda") and resolve_precision("auto", "cuda:1", "plan")  # a policy: no GPU needed
    assert resolve_precision("auto", "cpu", "plan") == resolve_precision("auto", torch.device("cpu"), "plan")
    assert not resolve_precision("auto", "mps")
