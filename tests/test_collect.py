"""HDF5 collection: layout, determinism across worker counts, atomic output."""
import glob
import multiprocessing as mp
import os

import h5py
import numpy as np
import pytest

import lewm.collect as C
from lewm.envs import make

L, SIZE = 10, 32


def read_all(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][:] for k in f}, dict(f.attrs)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("col") / "tr.h5")
    C.collect("two_room", 3, out, image_size=SIZE, workers=2, seed=3, episode_len=L, progress=False,
              mix_random=0.5)
    return out


def test_layout_and_attrs(two_workers):
    d, attrs = read_all(two_workers)
    E, N = 3, 3 * L
    assert d["pixels"].shape == (N, SIZE, SIZE, 3) and d["pixels"].dtype == np.uint8
    assert d["action"].shape == (N, 2) and d["action"].dtype == np.float32
    assert d["state"].shape == (N, 2) and d["state"].dtype == np.float32
    assert d["ep_len"].dtype == np.int32 and d["ep_offset"].dtype == np.int64
    np.testing.assert_array_equal(d["ep_len"], [L] * E)
    np.testing.assert_array_equal(d["ep_offset"], np.concatenate([[0], np.cumsum(d["ep_len"])[:-1]]))
    assert d["ep_offset"][-1] + d["ep_len"][-1] == N
    last = d["ep_offset"] + d["ep_len"] - 1
    assert np.isnan(d["action"][last]).all()  # no action after the last frame
    inner = np.setdiff1d(np.arange(N), last)
    assert np.isfinite(d["action"][inner]).all() and np.abs(d["action"][inner]).max() <= 1
    assert d["goal_state"].shape == (E, 2) and d["ep_seed"].shape == (E,)
    assert attrs["env"] == "two_room" and attrs["image_size"] == SIZE and attrs["action_dim"] == 2
    assert attrs["state_names"] == "agent_x,agent_y" and attrs["policy"] == "expert"
    assert attrs["seed"] == 3 and attrs["lewm_format_version"] == 1 and attrs["episode_len"] == L
    assert not glob.glob(two_workers + "*tmp")


def test_pixels_match_states(two_workers):
    """Every stored frame is the rendering of the stored state (and consecutive states follow
    the stored actions through the dynamics)."""
    d, _ = read_all(two_workers)
    env = make("two_room", image_size=SIZE)
    for i in range(0, len(d["state"]), 7):
        diff = np.abs(env.render_state(d["state"][i]).astype(int) - d["pixels"][i].astype(int))
        assert diff.max() <= 1
    e0 = d["ep_offset"][1]
    env.reset(seed=int(d["ep_seed"][1]))
    np.testing.assert_array_equal(env.get_state(), d["state"][e0])
    for t in range(L - 1):
        env.step(d["action"][e0 + t])
        np.testing.assert_array_equal(env.get_state(), d["state"][e0 + t + 1])


def test_same_arrays_whatever_the_worker_count(two_workers, tmp_path):
    out = str(tmp_path / "one.h5")
    C.collect("two_room", 3, out, image_size=SIZE, workers=1, seed=3, episode_len=L, progress=False,
              mix_random=0.5)
    a, attrs_a = read_all(two_workers)
    b, attrs_b = read_all(out)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert attrs_a == attrs_b
    c, _ = read_all(C.collect("two_room", 3, str(tmp_path / "s4.h5"), image_size=SIZE, workers=1, seed=4,
                              episode_len=L, progress=False))
    assert not np.array_equal(c["state"], a["state"])


def test_other_envs_small(tmp_path):
    for name in ("pusht", "reacher"):
        out = C.collect(name, 2, str(tmp_path / f"{name}.h5"), image_size=SIZE, workers=1, episode_len=6,
                        progress=False, policy="random")
        d, attrs = read_all(out)
        env = make(name)
        assert d["state"].shape == (12, env.state_dim) and attrs["state_names"] == ",".join(env.state_names)
        assert np.isnan(d["action"][[5, 11]]).all() and np.isfinite(d["state"]).all()


def test_failure_leaves_no_file(tmp_path, monkeypatch):
    out = str(tmp_path / "fail.h5")
    real = C.run_episode

    def flaky(env, index, *a, **k):
        if index == 2:
            raise RuntimeError("boom")
        return real(env, index, *a, **k)

    monkeypatch.setattr(C, "run_episode", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        C.collect("two_room", 4, out, image_size=SIZE, workers=1, episode_len=L, progress=False)
    assert not os.path.exists(out) and not glob.glob(out + "*tmp")


def test_failure_with_workers_keeps_old_file_and_stops_workers(tmp_path, monkeypatch):
    out = tmp_path / "old.h5"
    with h5py.File(out, "w") as f:  # a dataset: --force replaces only a file of the same kind
        f["previous"] = np.arange(3)
    previous = out.read_bytes()
    real, calls = C._write_episode, []

    def flaky(f, ep, length):
        calls.append(ep["index"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. Ctrl-C mid-way
        return real(f, ep, length)

    monkeypatch.setattr(C, "_write_episode", flaky)
    with pytest.raises(KeyboardInterrupt):
        C.collect("two_room", 6, str(out), image_size=SIZE, workers=2, episode_len=L, progress=False, force=True)
    assert out.read_bytes() == previous  # the old file is untouched
    assert not glob.glob(str(out) + "*tmp")
    assert mp.active_children() == []


def test_stale_temporary_files_of_killed_collects_are_removed(tmp_path):
    import subprocess
    import sys
    out = str(tmp_path / "s.h5")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    users = [out + ".tmp", f"{out}.{dead.pid}.tmp"]  # a user's files, whatever their names: kept (round 13)
    for name in users:
        open(name, "w").write("partial")
    stale, live = (str(tmp_path / f".tmp-s.h5.{pid}") for pid in (dead.pid, os.getppid()))
    for name in (stale, live):
        open(name, "wb").close()  # what a killed (or a running) collect has made so far
    C.collect("two_room", 1, out, image_size=SIZE, workers=1, episode_len=L, progress=False)
    assert sorted(glob.glob(out + "*")) == sorted([out, *users])
    assert not os.path.exists(stale) and os.path.exists(live)  # a live collect's file stays


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="valid names"):
        C.collect("nope", 1, str(tmp_path / "x.h5"), progress=False)
    with pytest.raises(ValueError, match="policy"):
        C.collect("two_room", 1, str(tmp_path / "x.h5"), policy="smart", progress=False)
    assert not os.listdir(tmp_path)


def test_cli(tmp_path, capsys):
    out = str(tmp_path / "cli.h5")
    rc = C.collect_main(["--env", "reacher", "--episodes", "2", "--image-size", "16", "--out", out,
                         "--workers", "1", "--episode-len", "5", "--no-progress", "--policy", "random"])
    assert rc == 0 and "wrote" in capsys.readouterr().out
    d, attrs = read_all(out)
    assert d["pixels"].shape == (10, 16, 16, 3) and attrs["policy"] == "random"


def test_wall_slide_policy_pushes_into_the_wall_in_most_episodes(tmp_path):
    """Blocked moves at the wall (the env's own ``move`` disagrees with the free motion while the dot
    is next to the wall) are rare in random walks and common in the active wall-slide episodes."""
    from lewm.envs.policies import TwoRoomWallSlide, make_policy
    from lewm.envs.two_room import HI, LO, SPEED, ZONE_X
    out = C.collect("two_room", 40, str(tmp_path / "ws.h5"), policy="wall_slide", seed=3, workers=1, progress=False)
    rnd = C.collect("two_room", 40, str(tmp_path / "rnd.h5"), policy="random", seed=3, workers=1, progress=False)

    def blocked_fraction(path):
        with h5py.File(path) as f:
            S, A, L, O = f["state"][:], f["action"][:], f["ep_len"][:], f["ep_offset"][:]
        per_ep = []
        for o, n in zip(O, L):
            s, a, s2 = S[o:o + n - 1, :2], A[o:o + n - 1], S[o + 1:o + n, :2]
            free = np.clip(s + SPEED * a, LO, HI)  # (T, 2) motion without the wall
            near = (s[:, 0] > ZONE_X[0] - 10) & (s[:, 0] < ZONE_X[1] + 10)
            per_ep.append(float(((np.abs(s2 - free).max(1) > 0.5) & near).mean()))
        return np.array(per_ep)

    ws, rd = blocked_fraction(out), blocked_fraction(rnd)
    assert rd.mean() < 0.03 and ws.mean() > 5 * rd.mean()
    active = ws > 0.1  # wall-slide episodes spend a good part of their steps pushing into the wall
    assert 0.4 <= active.mean() <= 0.9  # about 65% of the episodes
    with pytest.raises(ValueError, match="two_room only"):
        make_policy(make("pusht"), "wall_slide", np.random.default_rng(0))
    assert isinstance(make_policy(make("two_room"), "wall_slide", np.random.default_rng(0)), TwoRoomWallSlide)
