"""lewm.report.data_source: where a report's episodes come from (--data, the reference set beside the
checkpoint, collected held-out episodes, refused)."""
import shutil

import pytest

from _report import _tiny_checkpoint


def test_report_data_reference_beside_checkpoint_then_collected_then_refused(syn_h5, tmp_path):
    from lewm.data import DataError, validate_file
    from lewm.report.data_source import report_data
    said = []
    # --data given: used as it is
    assert report_data("any.pt", syn_h5, None, str(tmp_path), 4, said.append) == syn_h5 and not said
    # the checkpoint's reference.h5 (file or folder given as the checkpoint)
    folder = tmp_path / "ck"
    folder.mkdir()
    ckpt, cfg = _tiny_checkpoint(folder / "model.pt")
    shutil.copy(syn_h5, folder / "reference.h5")
    for c in (ckpt, str(folder)):
        assert report_data(c, None, cfg, str(tmp_path / "out"), 4, said.append) == str(folder / "reference.h5")
    assert len(said) == 2 and "reference" in said[0]
    # none: held-out episodes of the checkpoint's env, collected into --out (one line says so)
    ckpt2, cfg2 = _tiny_checkpoint(tmp_path / "m2.pt", env="two_room")
    said.clear()
    got = report_data(ckpt2, None, cfg2, str(tmp_path / "out2"), 2, said.append)
    assert got == str(tmp_path / "out2" / "heldout.h5") and len(said) == 1 and "collecting 8 held-out" in said[0]
    info = validate_file(got)
    assert info["env"] == "two_room" and info["num_episodes"] == 8 and info["image_size"] == cfg2.model.image_size
    # an env that cannot collect: one line naming the fix
    with pytest.raises(DataError, match="--data"):
        report_data(str(tmp_path / "m.pt"), None, cfg, str(tmp_path / "out3"), 4, said.append)
