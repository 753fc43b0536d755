"""lewm.atomic: whole files or none; never overwrite without being asked; a link is written through;
a dataset is never replaced by a text."""
import os

import h5py
import numpy as np
import pytest

from lewm.atomic import publish, write_atomic


def test_write_atomic_writes_and_replaces(tmp_path):
    p = tmp_path / "a.json"
    write_atomic(str(p), "one")
    write_atomic(str(p), "two")
    assert p.read_text() == "two" and os.listdir(tmp_path) == ["a.json"]  # no temporary file left


def test_api_replace_false_refuses_an_existing_file_before_writing(tmp_path):
    p = tmp_path / "w7.txt"
    p.write_text("old")
    with pytest.raises(FileExistsError, match=r"write_atomic\(path=\.\.\.\) .*w7\.txt: exists and replace=False"):
        write_atomic(str(p), "new", replace=False)
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["w7.txt"]  # no -kept- file, no --out words


def test_api_publish_replace_false_leaves_the_finished_file(tmp_path):
    tmp, out = tmp_path / "p5.tmp", tmp_path / "p5.txt"
    tmp.write_text("new")
    out.write_text("old")
    with pytest.raises(FileExistsError, match=r"publish\(path=\.\.\.\) .*p5\.txt: exists and replace=False.*p5\.tmp"):
        publish(str(tmp), str(out), replace=False)
    assert out.read_text() == "old" and tmp.read_text() == "new"


def test_a_command_keeps_its_result_beside_a_file_created_meanwhile(tmp_path):
    tmp, out = tmp_path / "r.tmp", tmp_path / "r.json"
    tmp.write_text("mine")
    out.write_text("theirs")
    with pytest.raises(FileExistsError, match=r"--out .*r\.json: was created by another command"):
        publish(str(tmp), str(out), replace=False, flag="--out")
    kept = [n for n in os.listdir(tmp_path) if "-kept-" in n]
    assert out.read_text() == "theirs" and len(kept) == 1 and (tmp_path / kept[0]).read_text() == "mine"


def test_a_symbolic_link_is_written_through(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    os.symlink("x.json", tmp_path / "w3link.json")
    write_atomic(str(tmp_path / "w3link.json"), '{"a":1}')
    assert os.path.islink(tmp_path / "w3link.json") and (tmp_path / "x.json").read_text() == '{"a":1}'


def test_publish_never_replaces_a_dataset_with_a_text(tmp_path):
    d = tmp_path / "d.h5"
    with h5py.File(d, "w") as f:
        f["x"] = np.zeros(3)
    before = d.read_bytes()
    tmp = tmp_path / "p6.tmp"
    tmp.write_text("a text")
    with pytest.raises(ValueError, match=r"d\.h5: is an HDF5.*not replaced"):
        publish(str(tmp), str(d))
    assert d.read_bytes() == before and tmp.exists()
    with h5py.File(tmp_path / "n.h5", "w") as f:  # a dataset replaces a dataset
        f["y"] = np.ones(2)
    publish(str(tmp_path / "n.h5"), str(d))
    with h5py.File(d) as f:
        assert "y" in f


def test_a_dangling_link_gets_its_target_created(tmp_path):
    """Round 14 (a4, a5): a dangling link was replaced by a plain file; with replace=False a '-kept-' file
    was left with words of a race that did not happen."""
    os.symlink("nowhere.json", tmp_path / "dang.json")
    write_atomic(str(tmp_path / "dang.json"), "hi")
    assert os.path.islink(tmp_path / "dang.json") and (tmp_path / "nowhere.json").read_text() == "hi"
    os.symlink("nowhere2.json", tmp_path / "dang2.json")
    write_atomic(str(tmp_path / "dang2.json"), "hi2", replace=False)
    assert (tmp_path / "nowhere2.json").read_text() == "hi2" and not [n for n in os.listdir(tmp_path) if "-kept-" in n]


def test_a_file_with_nul_bytes_is_named_so(tmp_path):
    """Round 14 (a6): a UTF-16 text was refused as 'a binary file of unknown kind' with no reason."""
    p = tmp_path / "u16.txt"
    p.write_text("hello", encoding="utf-16")
    with pytest.raises(ValueError, match="holds NUL bytes: binary data, or a text in UTF-16.*remove it first"):
        write_atomic(str(p), "new")
