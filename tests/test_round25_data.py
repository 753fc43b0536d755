"""Round 25: episode files of other tools handed to the lab (docs/reliability_round25.md, roots R1-R8).

Every refusal is one line naming the file and the key, what was found and what to do, exit 2, the input unchanged
(checksums); integer actions are accepted (R3)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from _cli_errors import one_error_line
from lewm import checkpoint
from lewm.cli import main
from lewm.config import get_preset
from lewm.data import DataError, WindowDataset, load_episode
from lewm.model import LeWM



def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def arrays(syn_h5):
    with h5py.File(syn_h5, "r") as f:
        return {k: f[k][:] for k in f}, dict(f.attrs)


def _write(path, arrays, *, drop=(), kw=None, attrs=None, **edits):
    data, at = arrays
    data = {**data, **edits}
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            if k not in drop:
                f.create_dataset(k, data=v, **(kw or {}).get(k, {}))
        for k, v in (at if attrs is None else attrs).items():
            f.attrs[k] = v
    return str(path)


def _train_fails(path, tmp_path, capsys) -> str:
    before = _sha(path)
    rc = main(["train", "--data", path, "--preset", "cpu-tiny", "--out", str(tmp_path / "run"), "--steps", "2",
               "--threads", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and path in line and _sha(path) == before, line
    assert not os.path.exists(tmp_path / "run" / "last.pt")
    return line


# -- R1: a compression filter this h5py cannot decode ----------------------------------------------------------------
def _unknown_filter_file(path, arrays) -> str:
    """An lzf-compressed 'pixels' whose filter id is patched to one no library registers (as a blosc or zstd file
    reads without hdf5plugin)."""
    _write(path, arrays, kw={"pixels": dict(chunks=(4, 32, 32, 3), compression="lzf")})
    b = bytearray(open(path, "rb").read())
    at = b.index(b"lzf")
    i = b.rindex((32000).to_bytes(2, "little"), at - 16, at)
    b[i:i + 2] = (32123).to_bytes(2, "little")
    open(path, "wb").write(b)
    return str(path)


def test_r1_unknown_filter_is_named_before_any_read(arrays, tmp_path, capsys):
    p = _unknown_filter_file(tmp_path / "blosc.h5", arrays)
    line = _train_fails(p, tmp_path, capsys)  # was: "Can't synchronously read data (can't open directory ...)"
    assert "key 'pixels' is compressed with HDF5 filter 32123" in line and "hdf5plugin" in line
    assert "h5repack" in line and "/usr/local/lib/plugin" not in line
    with pytest.raises(DataError, match="HDF5 filter 32123"):  # the API, streamed or not, and load_episode
        WindowDataset(p, 1, 1, max_ram_bytes=0)
    with pytest.raises(DataError, match="HDF5 filter 32123"):
        load_episode(p, 0)


def test_r1_known_filters_still_read(arrays, tmp_path):
    p = _write(tmp_path / "gz9.h5", arrays, kw={"pixels": dict(chunks=(1, 32, 32, 3), compression="gzip",
                                                               compression_opts=9, shuffle=True),
                                                "action": dict(compression="lzf", fletcher32=True)})
    ds = WindowDataset(p, 1, 1, max_ram_bytes=0)
    assert ds.get_batch(np.arange(2))["pixels"].shape == (2, 2, 3, 32, 32)


def test_r1_virtual_dataset_with_a_lost_source_is_refused(arrays, tmp_path, capsys):
    """Its frames read as the fill value: a run trained on blank frames without a word (eff.rank 1.0)."""
    data, _ = arrays
    src = _write(tmp_path / "src.h5", arrays)
    lay = h5py.VirtualLayout(shape=data["pixels"].shape, dtype=np.uint8)
    lay[:] = h5py.VirtualSource("src.h5", "pixels", shape=data["pixels"].shape)
    p = str(tmp_path / "vds.h5")
    _write(p, arrays, drop=("pixels",))
    with h5py.File(p, "a") as f:
        f.create_virtual_dataset("pixels", lay, fillvalue=0)
    assert WindowDataset(p, 1, 1).info["num_frames"] == len(data["pixels"])  # with its source: read as usual
    os.remove(src)
    line = _train_fails(p, tmp_path, capsys)
    assert "virtual dataset whose source file src.h5" in line and "does not exist" in line


# -- R2: pixels in another layout: refused with the conversion -------------------------------------------------------
@pytest.mark.parametrize("name,make,words", [
    ("float01", lambda px: px.astype(np.float32) / 255, ["float (ambiguous", "(x * 255).round()"]),
    ("float255", lambda px: px.astype(np.float32), ["float (ambiguous", "x.round().clip(0, 255)"]),
    ("chw", lambda px: np.ascontiguousarray(px.transpose(0, 3, 1, 2)), ["channels first", "transpose(0, 2, 3, 1)"]),
    ("grey", lambda px: px[..., 0], ["grey", "np.repeat(x[..., None], 3, axis=-1)"]),
    ("grey1", lambda px: px[..., :1], ["grey", "np.repeat("]),
    ("rgba", lambda px: np.concatenate([px, px[..., :1]], -1), ["RGBA", "x[..., :3]"]),
    ("uint16", lambda px: px.astype(np.uint16) * 257, ["16-bit", "(x >> 8).astype(np.uint8)"]),
])
def test_r2_foreign_pixels_say_how_to_convert(name, make, words, arrays, tmp_path, capsys):
    p = _write(tmp_path / f"{name}.h5", arrays, pixels=make(arrays[0]["pixels"]))
    line = _train_fails(p, tmp_path, capsys)  # was: "key 'pixels' must be uint8 (N, S, S, 3), got ..." only
    assert "key 'pixels' is" in line and "uint8 (N, S, S, 3)" in line and "convert it" in line
    for w in words:
        assert w in line, (w, line)


def test_r2_eval_reads_only_the_states_of_such_a_file(arrays, tmp_path, monkeypatch):
    """eval --data draws start and goal states only: pixels it never reads (float, or behind a filter this h5py lacks)
    were refused (float) or, once checked, would be (the filter); the file's states are checked alone."""
    from lewm import _eval_files
    data, at = arrays
    at = {**at, "env": "two_room"}
    p = _write(tmp_path / "f.h5", (data, at), pixels=data["pixels"].astype(np.float32) / 255)
    _eval_files.check_eval_data(p, "two_room", 2, "the evaluation")  # was: "key 'pixels' must be uint8 ..."
    q = _unknown_filter_file(tmp_path / "blosc.h5", (data, at))
    _eval_files.check_eval_data(q, "two_room", 2, "the evaluation")
    with pytest.raises(DataError, match="states have 2 numbers"):  # the states are still checked
        _eval_files.check_eval_data(p, "two_room", 3, "the evaluation")


# -- R3: integer actions are numbers: accepted ----------------------------------------------------------------------
def test_r3_integer_actions_train_and_match_their_float_values(arrays, tmp_path, capsys):
    data, _ = arrays
    ints = np.nan_to_num(data["action"] * 10).round().astype(np.int64)
    pi = _write(tmp_path / "int.h5", arrays, action=ints)
    pf = _write(tmp_path / "float.h5", arrays, action=ints.astype(np.float32))
    a, b = WindowDataset(pi, 1, 1, split="all"), WindowDataset(pf, 1, 1, split="all")
    np.testing.assert_array_equal(a.action_stats.mean, b.action_stats.mean)
    assert a.get_batch(np.arange(5))["actions"].equal(b.get_batch(np.arange(5))["actions"])
    before = _sha(pi)
    assert main(["train", "--data", pi, "--preset", "cpu-tiny", "--out", str(tmp_path / "run"), "--steps", "2",
                 "--threads", "1"]) == 0  # was: "key 'action' must be float (N, A), got int64"
    assert _sha(pi) == before and os.path.isfile(tmp_path / "run" / "last.pt")


def test_r3_boolean_actions_are_still_refused(arrays, tmp_path, capsys):
    p = _write(tmp_path / "b.h5", arrays, action=arrays[0]["action"] > 0)
    assert "key 'action' must be numbers (N, A), got bool" in _train_fails(p, tmp_path, capsys)


# -- R4: missing keys: the near match, the episode index explained --------------------------------------------------
def test_r4_keys_in_another_case_are_named(arrays, tmp_path, capsys):
    data, at = arrays
    renamed = {("Pixels" if k == "pixels" else "actions" if k == "action" else k): v for k, v in data.items()}
    p = _write(tmp_path / "case.h5", (renamed, at))
    line = _train_fails(p, tmp_path, capsys)
    assert "missing dataset key(s) ['pixels', 'action']" in line
    assert "'Pixels' for 'pixels', 'actions' for 'action'" in line and "f.move('Pixels', 'pixels')" in line


def test_r4_a_missing_episode_index_says_what_it_holds(arrays, tmp_path, capsys):
    p = _write(tmp_path / "noidx.h5", arrays, drop=("ep_len", "ep_offset"))
    line = _train_fails(p, tmp_path, capsys)
    assert "missing dataset key(s) ['ep_len', 'ep_offset']" in line and "ep_len = [N], ep_offset = [0]" in line


# -- R5: no usable episode: one line, not a warning and an error ----------------------------------------------------
def test_r5_only_tiny_episodes_is_one_line(arrays, tmp_path, capsys):
    data, _ = arrays
    n, L = 200, 3
    rows = np.arange(n * L) % len(data["pixels"])
    p = _write(tmp_path / "tiny.h5", arrays, pixels=data["pixels"][rows], action=np.nan_to_num(data["action"][rows]),
               state=data["state"][rows], ep_len=np.full(n, L), ep_offset=np.arange(n) * L)
    line = _train_fails(p, tmp_path, capsys)  # one_error_line: was a "skipped 190 episode(s)" warning first
    assert "no episode is long enough for one window" in line
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API: the error alone
        with pytest.raises(DataError, match="no episode is long enough"):
            WindowDataset(p, 1, 5)


# -- R7: report: states of another width than the env's, before any work --------------------------------------------
def test_r7_report_checks_the_state_width_before_encoding(arrays, tmp_path, capsys):
    data, at = arrays
    cfg = get_preset("cpu-tiny")
    cfg = type(cfg).from_dict({**cfg.to_dict(), "env": "two_room"})
    ck = checkpoint.save(str(tmp_path / "m.pt"), LeWM(cfg.model), cfg, step=1)
    st3 = np.concatenate([data["state"], data["state"][:, :1]], 1)
    p = _write(tmp_path / "tr3.h5", arrays, state=st3, attrs={**at, "env": "two_room", "state_names": "a,b,c"})
    before = _sha(p)
    rc = main(["report", "--checkpoint", ck, "--data", p, "--out", str(tmp_path / "rep"), "--quick", "--threads", "1"])
    line = one_error_line(capsys.readouterr().err)  # was: "two_room: probe_quantities: states must be (N, 2)" late
    assert rc == 2 and f"{p}: states have 3 numbers (key 'state')" in line and "has 2" in line and _sha(p) == before
    assert not os.path.exists(tmp_path / "rep" / "report.json")


# -- R8: inputs that do not exist: why ------------------------------------------------------------------------------
def test_r8_a_quoted_tilde_and_a_link_loop_are_named(tmp_path, capsys):
    rc = main(["train", "--data", "~/no-such-r25.h5", "--preset", "cpu-tiny", "--out", str(tmp_path / "r")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "literal '~'" in line and "$HOME/no-such-r25.h5" in line
    rc = main(["eval", "--checkpoint", "~/no-such-r25.pt", "--episodes", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "literal '~'" in line
    os.symlink("b.h5", tmp_path / "a.h5")
    os.symlink("a.h5", tmp_path / "b.h5")
    rc = main(["train", "--data", str(tmp_path / "a.h5"), "--preset", "cpu-tiny", "--out", str(tmp_path / "r")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "symbolic link loop" in line
    with pytest.raises(DataError, match="symbolic link loop"):  # was h5py's errno-40 message
        WindowDataset(str(tmp_path / "a.h5"), 1, 1)


# -- a file another process is writing: not replaced by collect --force, named when read ------------------------------
_HOLDERS = {
    "lock": "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); time.sleep(60)",
    "swmr": ("import h5py, sys, time; s = h5py.File(sys.argv[2], 'r'); f = h5py.File(sys.argv[1], 'w', libver='latest')\n"
             "for k in s: f.create_dataset(k, data=s[k][:], maxshape=(None,) + s[k].shape[1:], chunks=True)\n"
             "for k, v in s.attrs.items(): f.attrs[k] = v\n"
             "f.close(); f = h5py.File(sys.argv[1], 'a', libver='latest'); f.swmr_mode = True\n"
             "print('open', flush=True); time.sleep(60)"),
}


@pytest.mark.parametrize("mode", sorted(_HOLDERS))
def test_a_file_open_for_writing_is_not_replaced_and_is_named(mode, syn_h5, tmp_path, capsys):
    p = str(tmp_path / "held.h5")
    with open(syn_h5, "rb") as a, open(p, "wb") as b:
        b.write(a.read())
    holder = subprocess.Popen([sys.executable, "-c", _HOLDERS[mode], p, syn_h5], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        before, inode = _sha(p), os.stat(p).st_ino  # the writer's open marks the file: read it after
        rc = main(["collect", "--env", "two_room", "--episodes", "1", "--image-size", "16", "--workers", "1",
                   "--episode-len", "10", "--no-progress", "--out", p, "--force"])
        line = one_error_line(capsys.readouterr().err)  # was: replaced; the writer's later work went nowhere
        assert rc == 2 and "another process has the file open for writing" in line
        assert _sha(p) == before and os.stat(p).st_ino == inode
        rc = main(["train", "--data", p, "--preset", "cpu-tiny", "--out", str(tmp_path / "r"), "--steps", "2"])
        line = one_error_line(capsys.readouterr().err)  # SWMR was "not a readable HDF5 file (... <h5clear file> ...)"
        assert rc == 2 and "another process has the file open for writing" in line and "not a readable" not in line
    finally:
        holder.kill()
        holder.wait()


def test_a_data_file_named_with_a_leading_dash_says_how_to_pass_it(capsys):
    rc = main(["train", "--data", "-dash.h5", "--out", "x"])
    line = one_error_line(capsys.readouterr().err)  # was argparse's "--data expected one argument" alone
    assert rc == 2 and "--data=-x.h5 or --data ./-x.h5" in line
