"""lewm.synthetic: the dot is drawn where the state says, the walk follows the actions, and the file
has the HDF5 layout (validated by lewm.data)."""
import h5py
import numpy as np

from lewm.data import validate_file
from lewm.synthetic import dot_frames, write_synthetic_h5


def test_dot_is_drawn_at_the_state():
    cols, rows = np.array([3, 8]), np.array([11, 8])
    xy = np.stack([(cols + 0.5) / 16, (rows + 0.5) / 16], 1)  # on pixel centres: x is the column, y the row
    f = dot_frames(xy, 16)
    assert f.shape == (2, 16, 16, 3) and f.dtype == np.uint8 and (f[..., 0] == 255).all()  # red on white
    for k in range(2):
        assert np.unravel_index(np.argmin(f[k, :, :, 1]), (16, 16)) == (rows[k], cols[k])
        assert f[k, rows[k], cols[k], 1] == 0 and f[k, 0, 15 - cols[k], 1] > 200  # full red at the centre, white far off
    # the Gaussian profile: one pixel away, 255 * (1 - exp(-d² / 2σ²)) with d = 1/16, σ = 0.08
    want = 255 * (1 - np.exp(-(1 / 16) ** 2 / (2 * 0.08 ** 2)))
    assert abs(int(f[1, 8, 9, 1]) - want) <= 1


def test_walk_follows_the_actions_and_the_file_validates(tmp_path):
    p = write_synthetic_h5(str(tmp_path / "s.h5"), episodes=3, length=10, image_size=16, seed=1, speed=0.04)
    info = validate_file(p)
    assert info["num_episodes"] == 3 and info["env"] == "synthetic_dot" and info["image_size"] == 16
    with h5py.File(p) as f:
        a, s, px = f["action"][:], f["state"][:], f["pixels"][:]
        assert list(f["ep_len"][:]) == [10] * 3 and list(f["ep_offset"][:]) == [0, 10, 20]
    for e in range(3):
        a_e, s_e = a[10 * e:10 * e + 10], s[10 * e:10 * e + 10]
        assert np.isnan(a_e[-1]).all()  # no action after the last frame
        np.testing.assert_allclose(s_e[1:], np.clip(s_e[:-1] + 0.04 * a_e[:-1], 0.1, 0.9), atol=1e-6)
    np.testing.assert_array_equal(px[:10], dot_frames(s[:10], 16))


def test_dot_frames_refuses_bad_arguments():
    import pytest
    xy = np.full((2, 2), 0.5)
    for kw, match in (({"size": 0}, r"dot_frames: size must be in \[1, 4096\], got 0"),
                      ({"size": 2.5}, r"dot_frames: size must be a whole number"),
                      ({"sigma": 0}, r"dot_frames: sigma must be >= 1e-06, got 0"),
                      ({"sigma": float("nan")}, r"dot_frames: sigma must be a finite number")):
        with pytest.raises(ValueError, match=match):
            dot_frames(xy, **{"size": 8, **kw})
    with pytest.raises(ValueError, match=r"dot_frames: xy must be \(L, 2\) numbers .* \(2,\)"):
        dot_frames(np.zeros(2), 8)
    with pytest.raises(ValueError, match=r"dot_frames: xy holds NaN/inf"):
        dot_frames(np.array([[0.5, np.nan]]), 8)
    assert dot_frames([[0.5, 0.5]], 8).shape == (1, 8, 8, 3)  # a list is fine


def test_write_synthetic_h5_refuses_bad_paths(tmp_path):
    import pytest
    for bad in ("", "  ", str(tmp_path) + "/", None):
        with pytest.raises(ValueError, match="write_synthetic_h5: path must be a new HDF5 file name"):
            write_synthetic_h5(bad, episodes=1, length=4, image_size=8)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"write_synthetic_h5: cannot write .*afile/d\.h5"):
        write_synthetic_h5(str(tmp_path / "afile" / "d.h5"), episodes=1, length=4, image_size=8)
    assert validate_file(write_synthetic_h5(tmp_path / "ok.h5", episodes=1, length=4, image_size=8))["num_episodes"] == 1
