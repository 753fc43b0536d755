"""Round 26, the lab's pages with foreign-but-plausible files (docs/reliability_round26.md): a broken link in the data
folder was also "no longer exists" (S1); an empty, cut-short, checkpoint-or-text file as data said h5py's "file
signature not found" (S2); an empty or cut-short checkpoint "EOFError" / "[Errno 22] Invalid argument" (S3); a lab
model's bare state_dict was called official weights, and the folder the tip asked for failed with
"... match no rule of lewm.official.KEY_RULES" (S4). Every page opens with one st.error and the user's files intact."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys

import pytest
import torch

pytest.importorskip("streamlit")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "app"))

from lewm import checkpoint  # noqa: E402
from lewm.config import get_preset  # noqa: E402
from lewm.data import DataError, open_h5  # noqa: E402
from lewm.errors import CheckpointError  # noqa: E402
from lewm.model import LeWM  # noqa: E402


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    cfg = get_preset("cpu-tiny")
    torch.manual_seed(0)
    return checkpoint.save(str(tmp_path_factory.mktemp("ck") / "last.pt"), LeWM(cfg.model), cfg, step=1)


def _errors(at) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


_KEYS = {"data": "data_browse", "train": "train_data", "collapse": "collapse_data"}


# -- S1: a broken link in the data folder is not "no longer exists" --------------------------------------------------
@pytest.mark.parametrize("page", ["data", "train", "collapse"])
@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_s1_a_broken_link_is_named_once(link, page, lab_app):
    make, runs, _ = lab_app
    p = os.path.join(runs, "data", "odd.h5")
    os.symlink(p + ".nowhere" if link == "dangling" else p, p)
    at = make(page)
    at.selectbox(key=_KEYS[page]).set_value(p).run()
    errs = _errors(at)
    assert any("odd.h5: a symbolic link" in e for e in errs), errs
    warns = [w.value for w in at.warning]
    assert not any("no longer exists" in w for w in warns), warns  # was beside the error: the file is there
    assert os.path.islink(p)


# -- S2: an unreadable dataset says what the file is and what to do --------------------------------------------------
def _zip(p):
    torch.save({"a": 1}, p)


def _text(p):
    with open(p, "w") as f:
        f.write("episode,x,y\n1,2,3\n")


def _empty(p):
    open(p, "wb").close()


@pytest.mark.parametrize("make_file,words", [
    (_empty, "it is empty (0 bytes), a copy or collection that did not finish; copy it again, or give an .h5"),
    (_zip, "it is a zip file (by its look a torch checkpoint, .pt), not HDF5; pick it as a checkpoint"),
    (_text, "it is a text file, not HDF5; give an .h5 episode file"),
])
def test_s2_foreign_files_as_data_say_what_they_are(make_file, words, tmp_path):
    p = str(tmp_path / "odd.h5")
    make_file(p)
    with pytest.raises(DataError) as e:
        open_h5(p)
    assert str(e.value).startswith(f"{p}: not a readable HDF5 file: ") and words in str(e.value), str(e.value)
    assert "file signature not found" not in str(e.value)


def test_s2_a_cut_short_dataset_on_every_data_page(syn_h5, lab_app):
    make, runs, _ = lab_app
    p = os.path.join(runs, "data", "cut.h5")
    with open(syn_h5, "rb") as a, open(p, "wb") as b:
        b.write(a.read()[:40000])
    before = _sha(p)
    want = f"cut.h5: not a readable HDF5 file: it is cut short (40,000 of the {os.path.getsize(syn_h5):,} bytes"
    for page in ("data", "train"):
        at = make(page)
        at.selectbox(key=_KEYS[page]).set_value(p).run()
        errs = _errors(at)
        assert any(want in e and "copy it again" in e for e in errs), (page, errs)
    assert _sha(p) == before


# -- S3: an empty or cut-short checkpoint says so and what to do -----------------------------------------------------
def test_s3_empty_and_cut_short_checkpoints(tiny_ckpt, tmp_path):
    empty, cut = str(tmp_path / "empty.pt"), str(tmp_path / "cut.pt")
    open(empty, "wb").close()
    with open(tiny_ckpt, "rb") as a, open(cut, "wb") as b:
        b.write(a.read()[:5000])
    with pytest.raises(CheckpointError, match=r"empty\.pt: not a readable checkpoint, it is empty \(0 bytes\).*copy "
                                              r"it again, or pick another checkpoint"):
        checkpoint.load(empty)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(cut)
    assert "cut.pt: not a readable checkpoint, truncated or corrupted (5,000 bytes; torch: " in str(e.value)
    assert str(e.value).endswith("an unfinished copy or save; copy it again, or pick another checkpoint")


def test_s3_a_run_with_an_empty_last_pt_on_the_pages(lab_app):
    make, runs, _ = lab_app
    p = os.path.join(runs, "odd", "last.pt")
    os.makedirs(os.path.dirname(p))
    open(p, "wb").close()
    for page in ("dynamics", "planner"):
        errs = _errors(make(page, ckpt=p))
        assert errs == [f"{p}: not a readable checkpoint, it is empty (0 bytes): a copy or save that did not finish; "
                        f"copy it again, or pick another checkpoint"], errs
    assert os.path.getsize(p) == 0


def _upload_script():
    import os
    import streamlit as st
    import pickers

    class Up:  # what st.file_uploader returns
        name = "cut.pt"
        size = os.path.getsize(os.environ["R26_UPLOAD"])

        @staticmethod
        def getbuffer():
            with open(os.environ["R26_UPLOAD"], "rb") as f:
                return f.read()

    real = st.file_uploader
    st.file_uploader = lambda *a, **k: Up()
    try:
        pickers.sidebar_checkpoint()
    finally:
        st.file_uploader = real


def test_s3_a_cut_short_upload_is_named_and_deleted(tiny_ckpt, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    src = str(tmp_path / "src.pt")
    with open(tiny_ckpt, "rb") as a, open(src, "wb") as b:
        b.write(a.read()[:5000])
    before = _sha(src)
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("R26_UPLOAD", src)
    st.cache_resource.clear()
    at = AppTest.from_function(_upload_script, default_timeout=60)
    at.run()
    st.cache_resource.clear()
    errs = _errors(at)
    assert any(e.startswith("cut.pt: not loaded (not a readable checkpoint, truncated or corrupted (5,000 bytes") and
               "copy it again" in e and e.endswith("the upload was deleted.") for e in errs), errs
    assert not os.listdir(tmp_path / "runs" / "uploads") and _sha(src) == before


# -- S4: a lab model's bare state_dict is not called official weights ------------------------------------------------
def test_s4_a_bare_lab_state_dict_and_its_folder(lab_app, tmp_path):
    make, runs, _ = lab_app
    cfg = get_preset("cpu-tiny")
    sd = dict(LeWM(cfg.model).state_dict())
    bare = os.path.join(runs, "bare", "last.pt")
    os.makedirs(os.path.dirname(bare))
    torch.save(sd, bare)
    errs = _errors(make("dynamics", ckpt=bare))
    assert len(errs) == 1 and "a bare state_dict of" in errs[0] and "lewm.checkpoint.save" in errs[0], errs
    assert "looks like official" not in errs[0]  # was: the tip to open it as a release folder (a dead end, below)
    folder = str(tmp_path / "release")
    os.makedirs(folder)
    shutil.copy(bare, os.path.join(folder, "weights.pt"))
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(folder)
    msg = str(e.value)  # was "4 official key(s) match no rule of lewm.official.KEY_RULES: ..." (every name)
    assert "weight name(s) are not the official release's (predictor." in msg and "KEY_RULES" not in msg
    assert "not official LeWM weights (a lab model's bare state_dict? save it with lewm.checkpoint.save" in msg
