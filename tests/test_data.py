"""lewm.data: the window dataset (blocked actions, the streaming path), the split by episode, clear errors on
bad files."""
import pytest
import torch

from lewm.data import DataError, WindowDataset


def test_window_dataset_blocks_actions(syn_h5):
    import h5py
    ds = WindowDataset(syn_h5, history=2, frameskip=3, split="all")
    it = ds[0]
    assert it["pixels"].shape == (3, 3, 32, 32) and it["pixels"].dtype == torch.uint8
    assert it["actions"].shape == (2, 6)
    with h5py.File(syn_h5) as f:
        raw = f["action"][0:6]
        px = f["pixels"][[0, 3, 6]]
    want = ds.action_stats.normalize(raw).reshape(2, 6)
    torch.testing.assert_close(it["actions"], torch.from_numpy(want).float())
    assert (it["pixels"].permute(0, 2, 3, 1).numpy() == px).all()
    # streaming path gives the same item as the in-RAM path
    ds2 = WindowDataset(syn_h5, history=2, frameskip=3, split="all", max_ram_bytes=0)
    assert not ds2.in_memory
    for k in ("pixels", "actions", "state"):
        torch.testing.assert_close(ds2[5][k], ds[5][k])


def test_split_is_by_episode(syn_h5):
    tr = WindowDataset(syn_h5, 1, 5, split="train", val_fraction=0.25)
    va = WindowDataset(syn_h5, 1, 5, split="val", val_fraction=0.25)
    assert set(tr.episodes).isdisjoint(va.episodes) and len(va.episodes) == 3
    shared = WindowDataset(syn_h5, 1, 5, split="val", val_fraction=0.25, share=tr)
    assert shared._ram is tr._ram and shared.action_stats is tr.action_stats
    assert (shared.starts == va.starts).all()


def test_bad_files_give_clear_errors(tmp_path, syn_h5):
    import h5py
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["pixels"] = torch.zeros(4, 8, 8, 3, dtype=torch.uint8).numpy()
        f["ep_len"] = [4]
        f["ep_offset"] = [0]
    with pytest.raises(DataError, match=r"bad\.h5.*missing.*action"):
        WindowDataset(str(bad), 1, 1)
    with pytest.raises(DataError, match="no such"):
        WindowDataset(str(tmp_path / "nope.h5"), 1, 1)
    with pytest.raises(DataError, match="model expects 64x64"):
        WindowDataset(syn_h5, 1, 1, image_size=64)
    with pytest.raises(DataError, match="long enough"):
        WindowDataset(syn_h5, 10, 5)
    nan = tmp_path / "nan.h5"
    import shutil
    shutil.copy(syn_h5, nan)
    with h5py.File(nan, "a") as f:
        f["action"][3] = float("nan")
    with pytest.raises(DataError, match="row 3"):
        WindowDataset(str(nan), 1, 1)
