"""lewm.checkpoint: save/load round trip, one clear error per broken file, the half-precision format, the
BatchNorm note on old checkpoints."""
import os

import pytest
import torch

from lewm import checkpoint
from lewm.checkpoint import CheckpointError
from lewm.config import get_preset


def test_checkpoint_errors(tmp_path, syn_h5):
    cfg = get_preset("cpu-tiny")
    from lewm.model import LeWM
    m = LeWM(cfg.model)
    p = str(tmp_path / "c.pt")
    checkpoint.save(p, m, cfg, step=3)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    m2, _, meta = checkpoint.load(p)
    for k, v in m.state_dict().items():
        torch.testing.assert_close(m2.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="not found"):
        checkpoint.load(str(tmp_path / "missing.pt"))
    data = open(p, "rb").read()
    open(tmp_path / "trunc.pt", "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt.*truncated or corrupted"):
        checkpoint.load(str(tmp_path / "trunc.pt"))
    open(tmp_path / "junk.pt", "wb").write(b"hello world")
    with pytest.raises(CheckpointError, match="junk.pt"):
        checkpoint.load(str(tmp_path / "junk.pt"))
    torch.save({"a": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a LeWM checkpoint"):
        checkpoint.load(str(tmp_path / "foreign.pt"))
    # wrong architecture: weights of one preset under another's config
    blob = torch.load(p, weights_only=True)
    blob["state_dict"] = {k: v for k, v in blob["state_dict"].items() if "predictor" not in k}
    torch.save(blob, tmp_path / "arch.pt")
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        checkpoint.load(str(tmp_path / "arch.pt"))
    # half-precision shipping format loads back to fp32 close to the original
    checkpoint.save(str(tmp_path / "h.pt"), m, cfg, half=True)
    mh = checkpoint.load(str(tmp_path / "h.pt"))[0]
    assert next(mh.parameters()).dtype == torch.float32


def test_batchnorm_note_flags_only_old_checkpoints_of_ours():
    from lewm.checkpoint import batchnorm_note
    assert "export" in batchnorm_note({"metrics": {"pred_loss": 0.1, "step": 5}})
    assert batchnorm_note({"metrics": {"pred_loss": 0.1, "bn_recalibration_frames": 512}}) is None
    assert batchnorm_note({"metrics": {}}) is None and batchnorm_note({}) is None  # e.g. imported weights
