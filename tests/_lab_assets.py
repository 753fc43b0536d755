"""Tiny assets for the lab tests: a 32 px Two-Room dataset, a synthetic dataset and a cpu-tiny checkpoint."""
from __future__ import annotations

import contextlib
import os


def make_lab_assets(root: str) -> dict[str, str]:
    """Create (once) in ``root``: data/tr32.h5 (12 Two-Room episodes, 32 px), data/syn32.h5 (synthetic
    dot, 32 px), ckpt/last.pt (cpu-tiny, history 1, 30 steps on tr32) and bad.pt (not a checkpoint)."""
    from lewm.collect import collect
    from lewm.config import get_preset
    from lewm.synthetic import write_synthetic_h5
    from lewm.train import train

    data = os.path.join(root, "data")
    os.makedirs(data, exist_ok=True)
    tr = os.path.join(data, "tr32.h5")
    syn = os.path.join(data, "syn32.h5")
    ck_dir = os.path.join(root, "ckpt")
    bad = os.path.join(root, "bad.pt")
    if not os.path.exists(tr):
        collect("two_room", 12, tr, image_size=32, workers=1, seed=0, progress=False)
    if not os.path.exists(syn):
        write_synthetic_h5(syn, episodes=12, length=40, image_size=32)
    if not os.path.exists(os.path.join(ck_dir, "last.pt")):
        import torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a 42k-parameter model: one thread is fastest on a busy machine
        try:
            cfg = get_preset("cpu-tiny").with_overrides(model={"history": 1})
            train(cfg, tr, ck_dir, steps=30, progress=False, resume=False)
        finally:
            torch.set_num_threads(threads)
    if not os.path.exists(bad):
        with open(bad, "wb") as f:
            f.write(b"this is not a checkpoint\n" * 10)
    return {"tr": tr, "syn": syn, "ckpt": os.path.join(ck_dir, "last.pt"), "bad": bad, "root": root}


def stop_server(proc, log) -> None:
    """Stop a test's lab server (terminate, then kill after 15 s) and close its log file."""
    import subprocess
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


LAB_SETTINGS = ("LEWM_LAB_CHECKPOINT", "LEWM_LAB_DATA", "LEWM_ALLOWED_DIRS", "LEWM_LAB_THREADS", "LEWM_LAB_DEVICE")
"""The lab's environment variables a test must not inherit from the shell."""


@contextlib.contextmanager
def lab_pages(app: str, runs: str, monkeypatch, default_ckpt: str):
    """Point the lab at ``runs`` (its settings unset, Streamlit's caches cleared) and give
    ``make(page, ckpt=default_ckpt) -> AppTest`` that opens ``app_pages/<page>.py`` with that checkpoint;
    on exit the caches are cleared and torch's thread count restored (the lab sets it)."""
    import streamlit as st
    import torch
    from streamlit.testing.v1 import AppTest
    threads = torch.get_num_threads()
    monkeypatch.setenv("LEWM_LAB_RUNS", runs)
    for v in LAB_SETTINGS:
        monkeypatch.delenv(v, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()

    def make(page: str, ckpt: str = default_ckpt) -> AppTest:
        at = AppTest.from_file(app, default_timeout=120)
        at.query_params["ckpt"] = ckpt
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        return at
    try:
        yield make
    finally:
        st.cache_resource.clear()
        torch.set_num_threads(threads)


def page_with_setting(lab_app, name: str, value: str, page: str):
    """The lab's ``page`` opened after the environment variable ``name`` was set to ``value`` (the cached
    settings cleared first); it must open without an exception box. Returns the AppTest."""
    import streamlit as st
    make, _, monkeypatch = lab_app
    monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    at = make(page)
    assert not at.exception, [e.value for e in at.exception]
    return at


def make_lab_assets_one_thread(root: str) -> dict[str, str]:
    """:func:`make_lab_assets` with torch on one thread (the suite's other process keeps the other core)."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return make_lab_assets(root)
    finally:
        torch.set_num_threads(n)


def seconds_until_threads_end(name: str, limit_s: float, poll_s: float = 0.1) -> float:
    """Wait (at most ``limit_s``) until no thread called ``name`` is alive; the seconds it took."""
    import threading
    import time
    t0 = time.time()
    while any(t.name == name for t in threading.enumerate()) and time.time() - t0 < limit_s:
        time.sleep(poll_s)
    return time.time() - t0
