"""lewm.config: every numeric field declares its range (lewm.validate.range_of), the ranges reject and accept,
every preset is valid."""
from __future__ import annotations

import pytest

from lewm.config import ModelConfig, SIGRegConfig, TrainConfig, apply_set_overrides, get_preset
from lewm.validate import range_of


def test_every_numeric_config_field_declares_a_range():
    """One place: every int/float field of the three sections has its range next to it."""
    for cls in (ModelConfig, SIGRegConfig, TrainConfig):
        for f in cls.__dataclass_fields__.values():
            if type(f.default) in (int, float):
                assert range_of(cls, f.name) is not None, f"{cls.__name__}.{f.name} has no range"


def test_config_ranges_reject_and_accept():
    cfg = get_preset("cpu-tiny")
    for bad in ["train.warmup_steps=-1", "train.grad_clip=0", "sigreg.num_proj=0", "sigreg.weight=-0.1",
                "model.pred_heads=0", "train.ram_limit_gb=2000", "train.min_lr_ratio=1.5", "train.lr=inf"]:
        with pytest.raises(ValueError, match=bad.split("=")[0].replace(".", r"\.")):
            apply_set_overrides(cfg, [bad])
    assert apply_set_overrides(cfg, ["train.time_budget_s=0"]).train.time_budget_s == 0
    ok = apply_set_overrides(cfg, ["train.keep_snapshots=off", "train.compile=YES", "sigreg.weight=0",
                                   "train.time_budget_s=10"])
    assert ok.train.keep_snapshots is False and ok.train.compile is True and ok.sigreg.weight == 0.0
    with pytest.raises(ValueError, match="whole number"):
        TrainConfig(steps=True)


def test_all_presets_are_valid():
    from lewm.config import PRESETS, LeWMConfig
    for name, cfg in PRESETS.items():
        assert LeWMConfig.from_dict(cfg.to_dict()) == cfg, name
