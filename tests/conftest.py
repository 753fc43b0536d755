import os

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def syn_h5(tmp_path_factory):
    """A small synthetic dot dataset in the HDF5 layout (32 px, 2-D actions, xy state)."""
    from lewm.synthetic import write_synthetic_h5
    return write_synthetic_h5(str(tmp_path_factory.mktemp("data") / "syn.h5"), episodes=12, length=40, image_size=32)
