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
