"""lewm.episode_file: the layout's facts read back as written, one episode as its rows, errors naming the key."""
import numpy as np
import pytest

from lewm.episode_file import DataError, load_episode, validate_file


def test_facts_and_one_episode_are_the_files_rows(syn_h5):
    import h5py
    info = validate_file(syn_h5)
    with h5py.File(syn_h5) as f:
        assert info["num_frames"] == len(f["pixels"]) == int(f["ep_len"][:].sum())
        assert info["num_episodes"] == len(f["ep_len"]) == 12 and info["image_size"] == 32
        assert (info["ep_offset"] == f["ep_offset"][:]).all() and info["has_state"]
        off, n = int(f["ep_offset"][3]), int(f["ep_len"][3])
        px, act, st = f["pixels"][off:off + n], f["action"][off:off + n], f["state"][off:off + n]
    ep = load_episode(syn_h5, 3)
    assert (ep["pixels"] == px).all() and np.allclose(ep["state"], st)
    assert np.allclose(ep["action"], np.nan_to_num(act)) and np.isfinite(ep["action"]).all()  # last row NaN -> 0


def test_out_of_range_episode_and_wrong_image_size_name_the_key(syn_h5):
    with pytest.raises(DataError, match=r"episode 12 out of range \(file has 12; key 'ep_len'\)"):
        load_episode(syn_h5, 12)
    with pytest.raises(DataError, match=r"images are 32x32 but the model expects 64x64 \(key 'pixels'\)"):
        validate_file(syn_h5, image_size=64)
