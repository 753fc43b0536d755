"""lewm.paths: output and input paths refused before any work, with one line naming the flag."""
import os

import pytest

from lewm.paths import check_in_file, check_out_dir, check_out_file


@pytest.mark.parametrize("bad", ["~/c27.h5", "~", "~root/x.h5"])
def test_a_literal_tilde_is_refused(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"--out ~.*literal '~'"):
        check_out_file(bad)
    with pytest.raises(ValueError, match=r"literal '~'"):
        check_out_dir(bad)
    assert os.listdir(tmp_path) == []  # no folder named '~'


def test_tilde_inside_a_name_is_fine(tmp_path, monkeypatch):
    assert check_out_file(str(tmp_path / "a~b.h5")) == str(tmp_path / "a~b.h5")
    monkeypatch.chdir(tmp_path)  # round 14 (a3): unquoted ~x.h5 is left as it is by the shell: a file name
    assert check_out_file("~x.h5") == "~x.h5" and check_out_file("~nosuchuser/x.h5".replace("/", "_")) is not None


def test_out_file_refusals(tmp_path):
    os.symlink("nowhere", tmp_path / "link.h5")
    with pytest.raises(ValueError, match="symbolic link"):
        check_out_file(str(tmp_path / "link.h5"))
    with pytest.raises(ValueError, match="is a folder"):
        check_out_file(str(tmp_path))
    with pytest.raises(ValueError, match="does not exist"):
        check_out_file(str(tmp_path / "no" / "x.h5"))
    with pytest.raises(ValueError, match="begins or ends with a space"):
        check_out_file(str(tmp_path / "x.h5 "))


def test_in_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data .*: no such file"):
        check_in_file(str(tmp_path / "x.h5"), "--data")
    with pytest.raises(ValueError, match="is a folder"):
        check_in_file(str(tmp_path), "--data")
