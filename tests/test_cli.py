"""python -m lewm train: a preset follows the data's image size unless --set model.image_size pins
it (a 64-px file of another tool trains as is), with one line saying so; a patch size that does
not divide the data's images is one clear error naming both."""
import json
import os

import pytest

from lewm.cli import main
from lewm.config import follow_data_image_size, get_preset
from lewm.synthetic import write_synthetic_h5


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sizes")
    return {s: write_synthetic_h5(str(d / f"dot{s}.h5"), episodes=4, length=20, image_size=s) for s in (36, 64)}


def test_follow_data_image_size_rules():
    tiny = get_preset("cpu-tiny")  # 32 px, patch 8
    cfg, note = follow_data_image_size(tiny, 64, "f.h5")
    assert cfg.model.image_size == 64 and cfg.model.patch_size == 8 and cfg.model.num_patches == 64
    assert note == "model.image_size 32 -> 64: the image size of f.h5 (preset cpu-tiny; --set model.image_size=N pins it)"
    assert follow_data_image_size(tiny, 32, "f.h5") == (tiny, None)
    assert follow_data_image_size(tiny, 64, "f.h5", pinned=True) == (tiny, None)
    with pytest.raises(ValueError, match=r"^f64\.h5: images are 64x64 but model\.patch_size 14 \(preset paper\) "
                                         r"does not divide 64; pass --set model\.patch_size=N with N dividing 64 "
                                         r"\(e\.g\. 8 or 16\)$"):
        follow_data_image_size(get_preset("paper"), 64, "f64.h5")
    paper16 = get_preset("paper").with_overrides(model={"patch_size": 16})
    cfg, note = follow_data_image_size(paper16, 64, "f64.h5")
    assert cfg.model.image_size == 64 and "224 -> 64" in note


def test_train_follows_the_files_image_size(files, tmp_path, capsys):
    out = str(tmp_path / "run64")
    rc = main(["train", "--preset", "cpu-tiny", "--data", files[64], "--out", out, "--steps", "2", "--threads", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"model.image_size 32 -> 64: the image size of {files[64]}" in printed
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["model"]["image_size"] == 64


def test_pinned_image_size_wins_and_a_bad_patch_is_named(files, tmp_path, capsys):
    rc = main(["train", "--preset", "cpu-tiny", "--data", files[64], "--out", str(tmp_path / "a"),
               "--set", "model.image_size=32"])
    err = capsys.readouterr().err
    assert rc == 2 and "images are 64x64 but the model expects 32x32" in err
    rc = main(["train", "--preset", "cpu-tiny", "--data", files[36], "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == (f"error: {files[36]}: images are 36x36 but model.patch_size 8 (preset cpu-tiny) "
                               f"does not divide 36; pass --set model.patch_size=N with N dividing 36 (e.g. 6 or 9)")
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
