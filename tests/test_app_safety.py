"""Issue 16 point 5: typed paths confined to the lab's folders; broken files give st.error on every
page; failed uploads are deleted; the server binds 127.0.0.1 wherever it is started from."""
from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "app"))
import safety  # noqa: E402
from _lab_assets import lab_pages  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "checkpoints").mkdir()
    (root / "runs" / "data").mkdir(parents=True)
    (root / "data" / "ok.h5").write_bytes(b"x")
    (root / "runs" / "data" / "r.h5").write_bytes(b"x")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0")
    allowed = safety.allowed_dirs(str(root), str(root / "runs"))
    return root, outside, allowed


def test_confine_accepts_the_data_folders(tree):
    root, _, allowed = tree
    assert safety.confine("data/ok.h5", allowed, str(root)) == os.path.realpath(root / "data" / "ok.h5")
    assert safety.confine(str(root / "runs" / "data" / "r.h5"), allowed, str(root)).endswith("runs/data/r.h5")
    assert safety.confine("runs/data/../data/r.h5", allowed, str(root)).endswith("runs/data/r.h5")  # '..' inside


@pytest.mark.parametrize("typed", ["/etc/passwd", "../secret/passwd", "data/../../secret/passwd", "data/../README.md",
                                   "~/.bashrc", "/", "runs/../../secret/passwd"])
def test_confine_refuses_everything_else(tree, typed):
    root, _, allowed = tree
    with pytest.raises(safety.PathNotAllowed) as e:
        safety.confine(typed, allowed, str(root))
    msg = str(e.value)
    assert msg.startswith(typed) and "outside the folders" in msg and str(root / "data") in msg
    assert safety.ALLOWED_ENV in msg


def test_confine_follows_symlinks(tree):
    root, outside, allowed = tree
    os.symlink(outside / "passwd", root / "data" / "link.h5")  # a file link inside data/ pointing out
    os.symlink(outside, root / "data" / "dirlink")  # a folder link
    for typed in ("data/link.h5", "data/dirlink/passwd"):
        with pytest.raises(safety.PathNotAllowed, match="resolves to"):
            safety.confine(typed, allowed, str(root))
    os.symlink(root / "data" / "ok.h5", root / "runs" / "data" / "in.h5")  # a link that stays inside: fine
    assert safety.confine("runs/data/in.h5", allowed, str(root)) == os.path.realpath(root / "data" / "ok.h5")


def test_confine_prefix_is_not_a_folder(tree):
    root, _, allowed = tree
    (root / "data2").mkdir()
    (root / "data2" / "x.h5").write_bytes(b"x")
    with pytest.raises(safety.PathNotAllowed):
        safety.confine("data2/x.h5", allowed, str(root))  # 'data2' starts with 'data' but is not inside it
    with pytest.raises(safety.PathNotAllowed):
        safety.confine("", allowed, str(root))
    with pytest.raises(safety.PathNotAllowed):
        safety.confine("data/a\x00b", allowed, str(root))


def test_allow_list_from_the_environment_and_given_files(tree, monkeypatch):
    root, outside, _ = tree
    monkeypatch.setenv(safety.ALLOWED_ENV, os.pathsep.join([str(outside), ""]))
    given = str(root / "elsewhere" / "given.h5")
    dirs = safety.lab_allowed_dirs({"runs": str(root / "runs"), "checkpoints": [], "data": [given]}, str(root))
    assert os.path.realpath(outside) in dirs and os.path.realpath(root / "elsewhere") in dirs
    assert safety.confine(str(outside / "passwd"), dirs, str(root)) == os.path.realpath(outside / "passwd")
    assert safety.allowed_dirs(str(root), str(root / "runs"), extra="/") == \
        safety.allowed_dirs(str(root), str(root / "runs"))  # '/' never widens the list to the whole disk


def test_file_error_only_for_broken_files(tmp_path):
    import h5py
    from lewm.data import DataError
    assert safety.file_error(DataError("x.h5: missing key")) == "x.h5: missing key"
    assert safety.file_error(ZeroDivisionError()) is None  # a bug: shown, not hidden
    assert safety.file_error(ValueError("a bug")) is None  # not raised by the HDF5 reader
    p = tmp_path / "a.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.zeros(3)
    try:
        with h5py.File(p, "r") as f:
            f["missing"]
    except KeyError as e:
        msg = safety.file_error(e, ["runs/data/a.h5"])
    assert msg.startswith("`runs/data/a.h5`: the HDF5 file is damaged") and "KeyError" in msg


# ----------------------------------------------------------------------------- the pages (AppTest)
APP = os.path.join(ROOT, "app", "lab.py")
SHIPPED = os.path.join(ROOT, "checkpoints", "two_room", "model.pt")
DATA_KEYS = {"data": "data_browse", "train": "train_data", "collapse": "collapse_data", "latent": "latent_data",
             "dynamics": "dyn_data", "planner": "plan_data"}
PAGES = ["welcome", *DATA_KEYS]


def _broken_files(runs: str) -> dict[str, str]:
    """A junk and a truncated checkpoint (runs/<name>/last.pt), and a junk, a truncated and a corrupted
    (valid layout, damaged pixel chunks) copy of the shipped Two-Room reference set (runs/data/)."""
    rng = np.random.default_rng(0)
    out = {}
    for name, data in (("junk", b"not a checkpoint\n" * 50), ("trunc", open(SHIPPED, "rb").read()[:200_000])):
        os.makedirs(os.path.join(runs, f"{name}-ckpt"), exist_ok=True)
        out[f"{name}_ckpt"] = p = os.path.join(runs, f"{name}-ckpt", "last.pt")
        open(p, "wb").write(data)
        open(os.path.join(runs, f"{name}-ckpt", "metrics.jsonl"), "wb").write(  # the Train page lists the runs
            data[:300] if name == "junk" else b'{"step": 1, "loss": 0.5}\n[1, 2]\n\xff\xfe')
    ref = open(os.path.join(ROOT, "checkpoints", "two_room", "reference.h5"), "rb").read()
    bad = bytearray(ref)
    import h5py
    with h5py.File(os.path.join(ROOT, "checkpoints", "two_room", "reference.h5"), "r") as f:
        i = f["pixels"].id.get_chunk_info(0).byte_offset  # episode 0's first frames: every page reads them
    bad[i + 50:i + 2050] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    os.makedirs(os.path.join(runs, "data"), exist_ok=True)
    for name, data in (("junk", b"\x89HDF junk" * 100), ("trunc", ref[: len(ref) // 2]), ("corrupt", bytes(bad))):
        out[f"{name}_data"] = p = os.path.join(runs, "data", f"{name}.h5")
        open(p, "wb").write(data)
    return out


@pytest.fixture
def lab_broken(tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    runs = str(tmp_path / "runs")
    files = _broken_files(runs)
    with lab_pages(APP, runs, monkeypatch, SHIPPED) as make:
        yield make, files


def _clean(at, where):
    assert not at.exception, (where, [e.value for e in at.exception])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_broken_checkpoints_and_datasets(lab_broken, page):
    make, files = lab_broken
    for kind in ("junk_ckpt", "trunc_ckpt"):  # a broken checkpoint selected in the sidebar
        at = make(page, files[kind])
        _clean(at, (page, kind))
        if page in ("latent", "dynamics", "planner"):  # the pages that load it
            assert any(os.path.basename(os.path.dirname(files[kind])) in e.value for e in at.error), (page, kind)
        if page == "train":  # the newest run folder's damaged metrics.jsonl, listed under "Runs on disk"
            assert any("metrics.jsonl: unreadable" in e.value for e in at.error), [e.value for e in at.error]
    if page == "welcome":
        return
    at = make(page)
    _clean(at, (page, "shipped"))
    key = DATA_KEYS[page]
    for kind in ("junk_data", "trunc_data", "corrupt_data"):
        at.selectbox(key=key).set_value(files[kind]).run()
        _clean(at, (page, kind))
        errs = [e.value for e in at.error]
        if kind != "corrupt_data" or page in ("data", "latent", "dynamics", "planner"):  # pages that read frames
            assert any(os.path.basename(files[kind]) in e for e in errs), (page, kind, errs)


def test_typed_path_outside_the_data_folders_is_refused(lab_broken):
    make, files = lab_broken
    at = make("data")
    at.text_input(key="data_browse_path").set_value("/etc/passwd").run()
    _clean(at, "typed")
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and errs[0].startswith("/etc/passwd: outside the folders") and "runs" in errs[0]
    assert not at.metric  # nothing of the file was read
    at.text_input(key="data_browse_path").set_value("checkpoints/two_room/reference.h5").run()
    _clean(at, "typed ok")
    assert not at.error and at.metric[0].value == "two_room"


def test_failed_upload_is_deleted(tmp_path, monkeypatch):
    """The sidebar's upload: a junk .pt is written to runs/uploads/, fails to load, and is deleted."""
    pytest.importorskip("streamlit")
    import pickers  # noqa: F401 - the module under test, imported the way the app does
    uploads = tmp_path / "runs" / "uploads"
    monkeypatch.setenv("LEWM_LAB_RUNS", str(tmp_path / "runs"))
    from streamlit.testing.v1 import AppTest
    import streamlit as st
    st.cache_resource.clear()

    def script():
        import streamlit as st
        import pickers

        class Up:  # what st.file_uploader returns
            name, size = "evil.pt", 40

            @staticmethod
            def getbuffer():
                return b"not a checkpoint, not a zip\n" + b"\0" * 12

        real = st.file_uploader
        st.file_uploader = lambda *a, **k: Up()
        try:
            pickers.sidebar_checkpoint()
        finally:
            st.file_uploader = real  # the module is shared with the other tests of this process

    at = AppTest.from_function(script, default_timeout=60)
    at.run()
    st.cache_resource.clear()
    _clean(at, "upload")
    assert any("evil.pt" in e.value and "deleted" in e.value for e in at.error), [e.value for e in at.error]
    assert uploads.is_dir() and not list(uploads.glob("*"))  # written there, then deleted
    assert st.file_uploader.__name__ == "file_uploader"  # restored


def test_server_binds_loopback_without_usage_stats_from_any_folder(tmp_path):
    """`streamlit run /abs/path/app/lab.py` started in an unrelated folder (no .streamlit/ there):
    app/.streamlit/config.toml (read beside the main script) binds 127.0.0.1, no usage statistics."""
    import socket
    import subprocess
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "w+")
    env = {**os.environ, "HOME": str(tmp_path)}  # no ~/.streamlit either
    env = {k: v for k, v in env.items() if not k.startswith("STREAMLIT_")}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(port)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        t0, ok = time.time(), False
        while time.time() - t0 < 60 and not ok:
            time.sleep(0.5)
            try:
                ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
            except OSError:
                pass
        assert ok, open(tmp_path / "server.log").read()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    text = open(tmp_path / "server.log").read()
    assert f"started on 127.0.0.1:{port}" in text, text
    assert "usage statistics" not in text.lower(), text


def test_spawned_workers_do_not_run_the_lab():
    """A job's spawned worker imports the main script as __mp_main__ (multiprocessing's spawn): it
    must not run the lab (that logged "missing ScriptRunContext" 37 times per collect job)."""
    import subprocess
    code = ("import runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
            "print('streamlit' in sys.modules, 'common' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, APP], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"] and "ScriptRunContext" not in r.stderr, (r.stdout, r.stderr)


def test_a_fragment_turns_a_broken_file_into_one_error_on_its_own():
    """safety.fragment: a fragment re-runs without its page (so without the page's guard); a broken
    file read inside it is still one st.error naming the file, never a traceback, and the page's
    noted files are kept for the message."""
    pytest.importorskip("streamlit")
    import safety  # noqa: F401 - imported the way the app does
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st
        import safety
        from lewm.data import DataError

        safety.note_file("runs/page.h5")  # noted by the page before the fragment runs

        @safety.fragment
        def part():
            st.write("fragment ran")
            raise DataError("runs/broken.h5: missing key 'pixels' (expected an episode file of `lewm collect`)")

        part()
        st.write("after the fragment")

    at = AppTest.from_function(script, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["runs/broken.h5: missing key 'pixels' (expected an episode file of "
                                           "`lewm collect`)"]
    assert [m.value for m in at.markdown] == ["fragment ran", "after the fragment"]
    assert at.session_state["_safety_files"] == ["runs/page.h5"]  # the page's files survive the fragment's guard


def test_every_fragment_of_the_lab_is_guarded():
    """No bare ``@st.fragment`` in app/: each one is ``@safety.fragment`` (see the test above)."""
    import pathlib
    app = pathlib.Path(__file__).resolve().parents[1] / "app"
    bare = [str(p.relative_to(app)) for p in app.rglob("*.py") if "st.fragment" in p.read_text()
            and p.name != "safety.py"]
    assert not bare, bare
    assert sum(p.read_text().count("@safety.fragment") for p in app.rglob("*.py")) >= 9


# ----------------------------------------------------------------------------- round 5 (issue 16)
def test_planner_says_when_it_changes_what_was_typed(lab_broken):
    """Elites above Samples planned with fewer elites, and Coordinates outside the rooms were moved
    inside, both without a word: each is now a warning naming the field, the value and what is used."""
    make, _ = lab_broken
    at = make("planner")
    at.number_input(key="plan_samples").set_value(10).run()
    at.number_input(key="plan_topk").set_value(50).run()
    _clean(at, "elites")
    assert [w.value for w in at.warning] == ["Elites 50 is more than Samples 10: planning with 10 elites "
                                             "(Elites must be at most Samples)."]
    at.radio(key="plan_source").set_value("Coordinates").run()
    at.number_input(key="plan_s_agent_x").set_value(1e9).run()
    _clean(at, "coordinates")
    warns = [w.value for w in at.warning]
    assert any(w.startswith("Start agent_x = 1e+09 is outside the rooms (") and w.endswith("): using 203.")
               for w in warns), warns
    assert at.session_state["plan_start"][0] == 203.0


def test_train_form_refuses_a_batch_larger_than_the_data_before_starting(lab_broken, tmp_path):
    """A batch larger than the training windows started a worker that failed with the CLI's
    "--batch-size"; a typed folder showed h5py's multi-line errno 21."""
    from lewm.synthetic import write_synthetic_h5
    make, _ = lab_broken
    small = os.path.join(os.environ["LEWM_LAB_RUNS"], "data", "two-episodes.h5")
    write_synthetic_h5(small, episodes=2, length=20, image_size=32)
    at = make("train")
    at.text_input(key="train_data_path").set_value(small).run()
    at.number_input(key="train_batch").set_value(4096)
    at.number_input(key="train_steps").set_value(10)
    next(b for b in at.button if b.label == "Start training").click().run()
    _clean(at, "batch")
    errs = [e.value for e in at.error if "metrics.jsonl" not in e.value]  # the fixture's damaged run folder
    assert len(errs) == 1 and errs[0].startswith("Batch size 4096 is larger than the 15 training windows of ") \
        and errs[0].endswith("use at most 15, or more data."), errs
    assert "train_job" not in at.session_state  # no worker was started
    at = make("data")
    at.text_input(key="data_browse_path").set_value("checkpoints/two_room/").run()
    _clean(at, "folder")
    assert [e.value for e in at.error] == [os.path.join(ROOT, "checkpoints", "two_room") +
                                           ": is a folder, expected an HDF5 episode file (.h5) inside it"]
