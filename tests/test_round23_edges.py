"""Round 23 (hostile API test), the package edges: lazy submodules, devices, precision, errors, atomic,
distributed, bench_compare (P2 GlobalBatchNorm1d side, P21-P28, P32)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from lewm import bench_compare, distributed, errors, precision
from lewm.atomic import write_atomic
from lewm.devices import fused_adamw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _py(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=True).stdout


# P21 ------------------------------------------------------------------------------------------
def test_p21_public_submodule_loads_on_first_use_and_import_stays_light():
    out = _py("import sys, lewm; print('numpy' in sys.modules); m = lewm.model; print(m.__name__, "
              "m is sys.modules['lewm.model'], m.LeWM.__name__)")
    assert out.split() == ["False", "lewm.model", "True", "LeWM"]


def test_p21_typo_and_private_names_stay_attribute_errors():
    import lewm
    with pytest.raises(AttributeError, match=r"no attribute 'get_presets' \(did you mean 'get_preset'\?\); "
                                             r"its names are PRESETS, .*get_preset and its submodules"):
        lewm.get_presets
    assert not hasattr(lewm, "no_such_thing") and not hasattr(lewm, "_api_checks_x")
    out = _py("import lewm, sys; print(hasattr(lewm, '__main__'), 'lewm.__main__' in sys.modules)")
    assert out.split() == ["False", "False"]  # private names (python -m lewm's entry) are not imported


# P22 ------------------------------------------------------------------------------------------
def test_p22_fused_adamw_takes_a_device_name_like_its_siblings():
    assert fused_adamw("cpu") is True and fused_adamw("cuda") is True and fused_adamw("meta") is False
    assert fused_adamw("cpu") == fused_adamw(torch.device("cpu"))
    with pytest.raises(TypeError, match=r"fused_adamw\(dev=\.\.\.\) must be a torch.device or a device name "
                                        r"\(cpu, cuda, cuda:N, mps\), got None"):
        fused_adamw(None)
    with pytest.raises(ValueError, match=r"fused_adamw\(dev='gpu'\): not a device"):
        fused_adamw("gpu")


# P23 ------------------------------------------------------------------------------------------
def test_p23_numpy_width_gives_a_plain_bool(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    got = precision.resolve_precision("auto", "cpu", model_width=np.int64(256))
    assert type(got) is bool and got is True and json.dumps(got) == "true"
    got = precision.resolve_precision("auto", "cpu", model_width=np.int64(32))
    assert type(got) is bool and got is False


# P24 ------------------------------------------------------------------------------------------
def test_p24_check_finite_weights_odd_inputs():
    with pytest.raises(TypeError, match=r"check_finite_weights\(state_dict=\.\.\.\) for f.pt: expected a mapping "
                                        r"of weight names to tensors \(a state_dict\), got list"):
        errors.check_finite_weights([1], "f.pt")
    with pytest.raises(errors.CheckpointError, match=r"f.pt: weight 'w' is a float, not a tensor"):
        errors.check_finite_weights({"w": 1.0, "x": float("nan")}, "f.pt")
    errors.check_finite_weights({"w": torch.zeros(2, device="meta"), "b": torch.ones(2)}, "f.pt")  # no values: fine
    errors.check_finite_weights({"w": torch.ones(2), "m._extra_state": {"k": 1}}, "f.pt")
    with pytest.raises(errors.CheckpointError, match=r"f.pt: weight 'w' holds NaN/inf"):
        errors.check_finite_weights({"w": torch.tensor([complex(float("nan"), 0)])}, "f.pt")
    errors.check_finite_weights({"w": torch.tensor([complex(1, 2)]), "n": torch.tensor([3])}, "f.pt")  # finite
    with pytest.raises(errors.CheckpointError, match=r"'bn.running_var' \(a BatchNorm variance\) holds negative"):
        errors.check_finite_weights({"bn.running_var": torch.tensor([1.0, -1.0])}, "f.pt")


# P25, P26 -------------------------------------------------------------------------------------
def test_p25_lone_surrogate_is_one_line_and_the_old_file_stays(tmp_path):
    p = tmp_path / "s.txt"
    write_atomic(p, "old")
    with pytest.raises(ValueError, match=r"write_atomic\(text=\.\.\.\): character '\\udcff' at position 1 cannot "
                                         r"be written as utf-8 \(a lone surrogate"):
        write_atomic(p, "a\udcffb")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["s.txt"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_p26_replacing_keeps_the_mode_a_new_file_gets_the_umask_mode(tmp_path):
    p = tmp_path / "x.txt"
    write_atomic(p, "v1")
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~mask
    os.chmod(p, 0o600)
    write_atomic(p, "v2")
    assert p.read_text() == "v2" and os.stat(p).st_mode & 0o777 == 0o600
    os.chmod(p, 0o640)
    write_atomic(p, "v3")
    assert os.stat(p).st_mode & 0o777 == 0o640


# P2 (GlobalBatchNorm1d), P27, P28 -------------------------------------------------------------
def test_p2_global_batchnorm_one_row_in_train_mode():
    bn = distributed.GlobalBatchNorm1d(3).train()
    for x in (torch.randn(1, 3), torch.randn(1, 3, 1)):
        with pytest.raises(ValueError, match=r"GlobalBatchNorm1d: train mode needs at least 2 rows in this call .*"
                                             r"got input of shape \(1, 3(, 1)?\); pass at least 2 rows per call, "
                                             r"or call \.eval\(\)"):
            bn(x)
    assert bn.num_batches_tracked.item() == 0  # nothing counted
    ref = nn.BatchNorm1d(3).train()
    x = torch.randn(4, 3)
    assert torch.equal(bn(x), ref(x)) and torch.equal(bn.running_var, ref.running_var)
    x = torch.randn(1, 3, 2)  # one row of two values per channel: valid, as for BatchNorm1d
    assert torch.equal(bn(x), ref(x))
    assert bn.eval()(torch.randn(1, 3)).shape == (1, 3)


def test_p27_none_arguments():
    with pytest.raises(TypeError, match=r"unconvert_batchnorm: module must be a torch.nn.Module, got NoneType"):
        distributed.unconvert_batchnorm(None)
    with pytest.raises(TypeError, match=r"shutdown\(ctx=\.\.\.\) must be the DistContext that init_from_env "
                                        r"returned, got None"):
        distributed.shutdown(None)
    distributed.shutdown(distributed.DistContext())  # single process: nothing to destroy


def test_p28_world_size_without_rank(monkeypatch):
    import torch.distributed as dist
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=r"environment variable WORLD_SIZE=2 asks for a distributed run, but RANK, "
                                         r"MASTER_ADDR, MASTER_PORT are not set .*unset WORLD_SIZE for a "
                                         r"single-process run"):
        distributed.init_from_env(torch.device("cpu"))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    with pytest.raises(ValueError, match=r"but RANK is not set \(torchrun sets RANK, MASTER_ADDR and MASTER_PORT\)"):
        distributed.init_from_env("cpu")
    assert not (dist.is_available() and dist.is_initialized())


# P32 ------------------------------------------------------------------------------------------
def test_p32_format_comparisons_of_nothing():
    with pytest.raises(ValueError, match=r"format_comparisons\(rows=\.\.\.\) must hold at least one Comparison, "
                                         r"got \[\]: nothing was compared"):
        bench_compare.format_comparisons([])
