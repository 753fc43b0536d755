import os
import sys

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def syn_h5(tmp_path_factory):
    """A small synthetic dot dataset in the HDF5 layout (32 px, 2-D actions, xy state)."""
    from lewm.synthetic import write_synthetic_h5
    return write_synthetic_h5(str(tmp_path_factory.mktemp("data") / "syn.h5"), episodes=12, length=40, image_size=32)


@pytest.fixture
def one_thread():
    """Tiny convolutions run far faster on one thread than on two busy ones."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _keep_main_module():
    """AppTest leaves its script module as sys.modules['__main__'] (from_function: a temporary file), and
    multiprocessing's spawn re-imports __main__ in every worker that later tests start: restore it."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def lab_app(tmp_path, monkeypatch):
    """The whole lab (``app/lab.py``) on an empty runs folder with a ``data/`` inside, the shipped Two-Room
    agent as its default checkpoint: ``(make(page, ckpt=...) -> AppTest, runs, monkeypatch)``."""
    pytest.importorskip("streamlit")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "app"))
    from _lab_assets import lab_pages
    runs = str(tmp_path / "runs")
    os.makedirs(os.path.join(runs, "data"))
    with lab_pages(os.path.join(root, "app", "lab.py"), runs, monkeypatch,
                   os.path.join(root, "checkpoints", "two_room", "model.pt")) as make:
        yield make, runs, monkeypatch
