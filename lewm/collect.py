"""Collect episodes from an environment into one HDF5 file (DESIGN §5 layout).

Layout — flat datasets, every episode concatenated along axis 0 (N = total frames):

- ``pixels``  (N, S, S, 3) uint8, chunked by a few frames, gzip level 1
- ``action``  (N, A) float32: ``action[i]`` is applied after observing frame ``i``; the last row of
  every episode is NaN (no action follows the last frame — the reference convention)
- ``state``   (N, Q) float32: the env's true state at frame ``i`` (names in ``attrs["state_names"]``)
- ``ep_len`` (E,) int32, ``ep_offset`` (E,) int64
- per episode: ``goal_state`` (E, Q) float32 (PushT: NaN agent entries = "block pose only"),
  ``ep_seed`` (E,) int64 (the ``env.reset`` seed), ``ep_success`` (E,) bool (the env's success
  test fired at some frame), ``ep_random`` (E,) bool (episode used the random policy, see
  ``mix_random``)
- attrs: ``env``, ``image_size``, ``action_dim``, ``state_names`` (comma-joined), ``policy``,
  ``seed``, ``episode_len``, ``mix_random``, ``lewm_format_version`` = 1.

Episode ``i`` depends only on ``(seed, i)``, so the file's arrays are identical whatever the
number of workers. The file is written to ``.tmp-<name>.<pid>`` beside ``out`` (:func:`temp_name`: one
per process, so two collects into one file never mix) and renamed to ``out`` only when complete; on
any error, Ctrl-C or SIGTERM the temporary file is removed, and one left by a killed (``-9``) collect
is removed by the next collect into the same file (only a file so named, of a dead pid, that is an
HDF5 file or empty: never a user's ``out.tmp``). With ``force``, only the file that was there at the
start is replaced: one another command published meanwhile keeps this result beside it (``-kept-PID``).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback

import numpy as np

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def episode_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of episode ``index``: a function of ``(seed, index)`` only."""
    from ._collect_checks import check_episode_rng_args
    check_episode_rng_args(seed, index)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


def run_episode(env, index: int, seed: int, length: int, policy: str = "expert",
                mix_random: float = 0.0) -> dict:
    """Roll out episode ``index`` (``length`` frames, ``length - 1`` actions) and return its arrays."""
    from ._collect_checks import check_run_episode_args
    from .envs.policies import make_policy
    check_run_episode_args(index, seed, length, mix_random)
    rng = episode_rng(seed, index)
    env_seed = int(rng.integers(2**31 - 1))
    use_random = bool(rng.random() < mix_random)
    pol = make_policy(env, "random" if use_random else policy, rng)
    env.render_on_step = True
    obs, info = env.reset(seed=env_seed)
    if hasattr(pol, "reset"):
        pol.reset(env)
    S, A, Q = env.image_size, env.action_dim, env.state_dim
    pixels = np.empty((length, S, S, 3), np.uint8)
    action = np.full((length, A), np.nan, np.float32)
    state = np.empty((length, Q), np.float32)
    pixels[0], state[0] = obs, info["state"]
    success = bool(info["success"])
    for t in range(length - 1):
        a = np.asarray(pol(env), np.float32).reshape(A)
        action[t] = a
        obs, _, _, _, info = env.step(a)
        pixels[t + 1], state[t + 1] = obs, info["state"]
        success |= bool(info["success"])
    return {"index": int(index), "pixels": pixels, "action": action, "state": state,
            "goal_state": np.asarray(env.goal_state, np.float32), "seed": env_seed,
            "success": success, "random": use_random}


def _limit_threads() -> None:
    for k in _THREAD_VARS:
        os.environ[k] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _worker(env_name, env_kwargs, image_size, policy, seed, length, mix_random, start, end, q,
            parent_pid: int | None = None) -> None:
    """Process entry: episodes [start, end) → ("ep", dict) messages, then ("done", start). Ends
    with its parent (even on ``kill -9``): no orphaned workers."""
    try:
        if parent_pid is not None:
            from .faults import die_with_parent
            die_with_parent(parent_pid)
        _limit_threads()
        from .envs import make
        env = make(env_name, image_size=image_size, **env_kwargs)
        for i in range(start, end):
            q.put(("ep", run_episode(env, i, seed, length, policy, mix_random)))
        q.put(("done", start))
    except ValueError as e:  # bad input: the parent raises it as the one line it is, not a wrapped traceback
        q.put(("invalid", str(e)))
    except BaseException:  # report, then exit: the parent raises
        q.put(("error", f"worker for episodes [{start}, {end}) failed:\n{traceback.format_exc()}"))


def _write_episode(f, ep: dict, length: int) -> None:
    i = ep["index"]
    lo = i * length
    f["pixels"][lo:lo + length] = ep["pixels"]
    f["action"][lo:lo + length] = ep["action"]
    f["state"][lo:lo + length] = ep["state"]
    f["goal_state"][i] = ep["goal_state"]
    f["ep_seed"][i] = ep["seed"]
    f["ep_success"][i] = ep["success"]
    f["ep_random"][i] = ep["random"]


def check_dataset_name(out, flag: str) -> None:
    """A dataset's output name must not end like a file of another kind (``--out x.pt`` or ``x.json`` wrote an
    HDF5 dataset under a checkpoint's / a text's name): one line suggesting the .h5 name
    (:func:`lewm.runs.check_out_suffix`)."""
    from .runs import DATASET, check_out_suffix
    check_out_suffix(out, flag, DATASET)


def temp_name(out: str) -> str:
    """The temporary file of this process's write of the dataset ``out``: ``.tmp-<name>.<pid>`` in its folder
    (the lab's temporary prefix, the pid: recognisably a collect's own, never a user's ``out.tmp``)."""
    from .atomic import TMP_PREFIX
    folder, name = os.path.split(os.path.abspath(out))
    return os.path.join(folder, f"{TMP_PREFIX}{name}.{os.getpid()}")


def file_identity(path: str):
    """What tells the file at ``path`` from another one published there later (None: no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def publish_dataset(tmp: str, out: str, force: bool, start, rename: bool = False) -> str:
    """Publish the finished ``tmp`` as ``out``; return the path published. ``force`` replaces only the file that
    was there at the start (``start``: its :func:`file_identity`); one another command published meanwhile is
    kept, and this result goes beside it as ``-kept-PID`` (as without ``force``: a forced collect silently
    replaced another's fresh dataset). ``rename`` (without ``force``): a taken ``out`` is kept and this result
    is published under the next free name instead (the lab has no ``--force``: was "exists; pass --force")."""
    from .faults import publish
    if rename and not force:
        return _publish_to_a_free_name(tmp, out)
    if not (force and start is not None and file_identity(out) == start):
        force_raced = force and start is not None
        try:
            publish(tmp, out, replace=False, flag="--out")
        except FileExistsError as e:
            if not force_raced:
                raise
            root, ext = os.path.splitext(os.path.realpath(out) if os.path.islink(out) else out)
            raise FileExistsError(f"--out {out}: was replaced by another command while this one ran (--force "
                                  f"replaces only the file that was there at the start); not overwritten: this "
                                  f"result is in {root}-kept-{os.getpid()}{ext}") from e
        return out
    publish(tmp, out, replace=True, flag="--out")
    return out


def _publish_to_a_free_name(tmp: str, out: str) -> str:
    """``tmp`` published as ``out`` or, once that name is taken, the next free one beside it; the path written."""
    from ._api_checks import free_file
    from .atomic import publish
    target = out
    for _ in range(1000):
        try:
            publish(tmp, target, replace=False, flag=None)  # a Python call: refused while tmp stays where it is
            return target
        except FileExistsError:
            root, ext = os.path.splitext(target)
            kept = f"{root}-kept-{os.getpid()}{ext}"
            if not os.path.exists(tmp) and os.path.exists(kept):  # taken inside publish: the result went there
                return kept
            target = free_file(out, set())
    raise FileExistsError(f"collect: no free name beside {out} after 1000 tries; choose another --out")


@contextlib.contextmanager
def ctrl_c_flag():
    """Ctrl-C raises KeyboardInterrupt as usual and also sets the yielded event, which the loops poll
    (:func:`check_stop`): a KeyboardInterrupt raised inside a weakref callback or a ``__del__`` (h5py's
    object registry) was swallowed ("Exception ignored in ...") and the collect ran on to the end and
    published its file. Such a swallowed interrupt is not printed. Off the main thread, or under a
    SIGINT handler of the caller's own, the event is never set (Ctrl-C is the caller's)."""
    import signal
    import threading
    flag = threading.Event()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield flag
        return

    def handler(signum, frame):
        flag.set()
        raise KeyboardInterrupt

    def unraisable(u):  # swallowed: the flag is set and the loop raises it again
        if not (flag.is_set() and isinstance(u.exc_value, KeyboardInterrupt)):
            old_hook(u)

    old_hook = sys.unraisablehook
    signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = old_hook


def check_stop(flag) -> None:
    """Raise what a swallowed Ctrl-C (``flag`` of :func:`ctrl_c_flag`) or SIGTERM / SIGHUP asked for."""
    from .faults import check_terminated
    check_terminated()
    if flag is not None and flag.is_set():
        raise KeyboardInterrupt


def _split(n: int, k: int) -> list[tuple[int, int]]:
    """k contiguous, near-equal ranges covering [0, n)."""
    b = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(b[j]), int(b[j + 1])) for j in range(k) if b[j + 1] > b[j]]


def collect(env_name: str, episodes: int, out: str, image_size: int = 64, policy: str = "expert",
            workers: int = 2, seed: int = 0, episode_len: int | None = None, progress: bool = True,
            mix_random: float = 0.0, env_kwargs: dict | None = None, compression: str = "gzip",
            force: bool = False, rename_if_taken: bool = False) -> str:
    """Collect ``episodes`` episodes of ``episode_len`` frames (default: the env's
    ``max_episode_steps``) with ``policy`` (``"expert"``/``"random"``; a fraction ``mix_random`` of
    the episodes uses the random policy instead) into ``out``. ``compression``: 'gzip' (level 1, the
    default: ~3x smaller) or 'none' (a larger file that is written and read several times faster,
    for a machine with many cores and a short time, e.g. the GPU recipe). ``rename_if_taken`` (the lab,
    without ``force``): an ``out`` another process published meanwhile is kept and this result goes to the next
    free name beside it (:func:`publish_dataset`). Returns the path written (``out`` unless renamed)."""
    from tqdm.auto import tqdm

    from . import _collect_faults as _faults
    from .envs import make
    from .envs.policies import POLICY_KINDS, make_policy

    from ._collect_checks import check_collect_args, check_not_held
    check_collect_args(workers, seed, mix_random, progress, force, rename_if_taken)  # before any work (round 23)
    env_kwargs = dict(env_kwargs or {})
    if policy not in POLICY_KINDS:
        raise ValueError(f"unknown policy {policy!r}; valid: {', '.join(POLICY_KINDS)}")
    from .validate import Range, check_value
    check_value("episodes", episodes, Range(lo=1), int)  # 1.7 or True collected 1 episode silently
    if episode_len is not None:
        check_value("episode_len", episode_len, Range(lo=2), int)  # 2.5 collected 2 frames, 0 the default
    episodes, workers = int(episodes), max(1, int(workers))
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if not 8 <= int(image_size) <= 1024:
        raise ValueError(f"image_size must be in [8, 1024], got {image_size}")
    if compression not in ("gzip", "none"):
        raise ValueError(f"compression must be 'gzip' or 'none', got {compression!r}")
    if not 0.0 <= mix_random <= 1.0:
        raise ValueError(f"mix_random must be in [0, 1], got {mix_random}")
    env = make(env_name, image_size=image_size, **env_kwargs)  # validates the name early
    make_policy(env, policy, np.random.default_rng(0))  # and the policy's env (was: a worker's traceback)
    L = int(episode_len or env.max_episode_steps)
    if L < 2:
        raise ValueError(f"episode_len must be >= 2 frames, got {L}")
    S, A, Q, E = env.image_size, env.action_dim, env.state_dim, episodes
    N = E * L
    workers = min(workers, E)
    out = os.fspath(out)
    from .data import FORMAT_VERSION
    from .runs import DATASET
    from .validate import check_out_file
    start = file_identity(out)  # the file checked now is the only one --force replaces
    check_out_file(out, "out", make_parent=True, force=bool(force),  # never replaces a dataset unasked
                   writes=DATASET)
    check_dataset_name(out, "collect(out=...)")
    check_not_held(out, "--out")  # a writer's file replaced under it (its later work lost)
    _check_space(out, N * S * S * 3 // (3 if compression == "gzip" else 1))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = temp_name(out)
    if os.path.lexists(tmp):
        raise ValueError(f"--out {out}: {tmp} exists: another collect into {out} runs in this process")
    procs, bar, made = [], None, False
    t0 = time.perf_counter()
    with ctrl_c_flag() as stop:
        try:
            _remove_stale_tmp(out)
            with _faults.h5_temp(tmp, out) as f:  # a refused write: one line, HDF5 closed cleanly (was a segfault)
                made = True
                frame_bytes = S * S * 3
                rows = int(max(1, min(8, N, (64 << 10) // frame_bytes)))  # ~64 KB chunks, whole frames
                f.create_dataset("pixels", (N, S, S, 3), np.uint8, chunks=(rows, S, S, 3),
                                 **({"compression": "gzip", "compression_opts": 1} if compression == "gzip" else {}),
                                 shuffle=False)
                f.create_dataset("action", (N, A), np.float32, chunks=(min(N, 8192), A))
                f.create_dataset("state", (N, Q), np.float32, chunks=(min(N, 8192), Q))
                f.create_dataset("goal_state", (E, Q), np.float32)
                f.create_dataset("ep_seed", (E,), np.int64)
                f.create_dataset("ep_success", (E,), bool)
                f.create_dataset("ep_random", (E,), bool)
                f["ep_len"] = np.full(E, L, np.int32)
                f["ep_offset"] = np.arange(E, dtype=np.int64) * L
                f.attrs.update({
                    "env": env.name, "image_size": S, "action_dim": A, "state_dim": Q,
                    "state_names": ",".join(env.state_names), "policy": policy, "seed": int(seed),
                    "episode_len": L, "mix_random": float(mix_random), "lewm_format_version": FORMAT_VERSION,
                    "max_episode_steps": int(env.max_episode_steps), "created_by": "lewm.collect",
                })
                bar = tqdm(total=E, unit="ep", desc=f"collect {env.name}", disable=not progress, dynamic_ncols=True)
                f = {k: f[k] for k in ("pixels", "action", "state", "goal_state", "ep_seed", "ep_success",
                                       "ep_random")} | {"attrs": f.attrs}  # held: see h5_temp
                n_success = 0
                if workers == 1:
                    for i in range(E):
                        check_stop(stop)
                        ep = run_episode(env, i, seed, L, policy, mix_random)
                        _write_episode(f, ep, L)
                        n_success += ep["success"]
                        bar.update(1)
                else:
                    import multiprocessing as mp

                    from . import _collect_pool as pool
                    ctx = mp.get_context("spawn")
                    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
                    os.environ.update({k: "1" for k in _THREAD_VARS})  # children inherit 1 BLAS thread
                    try:  # a pipe per worker: a killed worker (the OOM killer) is seen at once (was: a hang)
                        started = pool.start(ctx, _worker, [(env.name, env_kwargs, S, policy, seed, L, mix_random,
                                                             lo, hi) for lo, hi in _split(E, workers)], procs)
                    finally:
                        for k, v in saved.items():
                            if v is None:
                                os.environ.pop(k, None)
                            else:
                                os.environ[k] = v
                    got = 0
                    # check_stop: a Ctrl-C / SIGTERM whose exception was swallowed (inside a __del__) still stops us
                    for kind, msg in pool.messages(started, poll=lambda: check_stop(stop)):
                        if kind == "error":
                            raise RuntimeError(msg)
                        if kind == "invalid":
                            raise ValueError(msg)
                        if kind == "done":
                            continue
                        _write_episode(f, msg, L)
                        n_success += msg["success"]
                        got += 1
                        bar.update(1)
                    if got != E:
                        raise RuntimeError(f"collect: received {got} of {E} episodes")
                    for p in procs:
                        p.join(timeout=10)
                f["attrs"]["success_rate"] = n_success / E
            bar.close()
            check_stop(stop)  # a Ctrl-C swallowed during the last episode: nothing is published
            # without force, refuse an --out another collect wrote meanwhile (was: the later one silently won);
            # with it, replace only the file that was there at the start
            with _faults.signals_held():  # a signal now is delivered once the published file is recorded
                out = publish_dataset(tmp, out, bool(force), start, rename=bool(rename_if_taken))
                _faults.record_written(out)
        except BaseException:
            f = None  # the held datasets (HDF5 ids) go now, not in the garbage collection at exit (a segfault)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            if bar is not None:
                bar.close()
            if made and os.path.exists(tmp):  # only its own temporary file
                os.remove(tmp)
            raise
    return out


def _remove_stale_tmp(out: str) -> None:
    """Remove the temporary files of killed collects into ``out``: ``.tmp-<name>.<pid>`` (:func:`temp_name`)
    whose process is gone (a live one belongs to a collect still running) and that is an HDF5 file or empty.
    Nothing else: ``out.tmp`` or ``out.123.tmp`` are a user's files (they were removed without a word)."""
    import re
    from .atomic import TMP_PREFIX
    from .faults import pid_alive
    folder, name = os.path.split(os.path.abspath(out))
    ours = re.compile(re.escape(TMP_PREFIX + name) + r"\.([0-9]{1,10})$")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for n in names:
        m, p = ours.match(n), os.path.join(folder, n)
        if not m or pid_alive(int(m.group(1))) or os.path.islink(p) or not os.path.isfile(p):
            continue
        try:
            with open(p, "rb") as f:
                head = f.read(8)
            if head in (b"", b"\x89HDF\r\n\x1a\n"):  # what h5py.File(tmp, "x") makes
                os.remove(p)
        except OSError:
            pass


def _check_space(out: str, need: int) -> None:
    """Refuse to start when the estimated file size (``need`` bytes) exceeds the free disk space."""
    import shutil
    from .validate import existing_ancestor
    try:
        free = shutil.disk_usage(existing_ancestor(os.path.dirname(os.path.abspath(out)))).free
    except OSError:
        return
    if need > free:
        unit, div = ("GiB", 2**30) if need >= 2**30 else ("MiB", 2**20)  # 0.00 GiB on a small disk said nothing
        raise ValueError(f"--out {out}: the file needs about {need / div:.2f} {unit} (estimate) but only "
                         f"{free / div:.2f} {unit} are free there; fewer --episodes, a smaller --image-size or "
                         f"another place")


# --------------------------------------------------------------------------------- CLI
def add_collect_args(p: argparse.ArgumentParser) -> None:
    from .env_names import env_key, spellings_help
    from .envs import list_envs
    from .envs.policies import POLICY_KINDS
    p.add_argument("--env", required=True, type=_env_arg,
                   help="environment: " + spellings_help(installed=list_envs()))
    from .validate import arg_float, arg_int
    p.add_argument("--episodes", type=arg_int(1, 10_000_000), required=True, help="number of episodes")
    p.add_argument("--out", required=True, help="output .h5 file (written atomically; an existing file is "
                   "refused unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--image-size", type=arg_int(8, 1024), default=64, help="rendered image size in pixels (default 64)")
    p.add_argument("--policy", default="expert", choices=POLICY_KINDS, help="data policy (default expert)")
    p.add_argument("--mix-random", type=arg_float(0, 1), default=0.0,
                   help="fraction of episodes collected with the random policy instead (default 0)")
    p.add_argument("--workers", type=arg_int(1, 1024), default=2, help="parallel worker processes (default 2)")
    p.add_argument("--seed", type=arg_int(0, 2**63 - 1), default=0, help="base seed: episode i depends on (seed, i) only")
    p.add_argument("--episode-len", type=arg_int(2, 1_000_000), default=None,
                   help="frames per episode (default: the env's max_episode_steps)")
    p.add_argument("--compression", default="gzip", choices=["gzip", "none"],
                   help="pixel compression (default gzip level 1; none = bigger, faster to write and read)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _env_arg(name: str) -> str:
    """``--env``: any spelling of an installed environment -> its canonical name; an optional one
    that is not installed says which package brings it."""
    from .env_names import CANONICAL_ENVS, env_key
    from .envs import list_envs
    from .envs.gym_pusht import INSTALL_HINT
    key = env_key(name)
    if key in list_envs():
        return key
    if key in CANONICAL_ENVS:
        raise argparse.ArgumentTypeError(f"{key}: {INSTALL_HINT}")
    raise argparse.ArgumentTypeError(f"unknown environment {name!r}; expected one of {', '.join(list_envs())}")


def run_collect(a: argparse.Namespace) -> int:
    from .runs import DATASET
    from .validate import check_out_file
    check_out_file(a.out, make_parent=True, force=a.force,  # an existing dataset is never replaced silently
                   writes=DATASET)
    check_dataset_name(a.out, "--out")
    from . import _collect_faults, faults
    t, _collect_faults.WRITTEN[:] = time.perf_counter(), []
    try:
        path = collect(a.env, a.episodes, a.out, image_size=a.image_size, policy=a.policy, workers=a.workers,
                       force=a.force, seed=a.seed, episode_len=a.episode_len, progress=not a.no_progress,
                       mix_random=a.mix_random, compression=a.compression)
        import h5py
        with h5py.File(path, "r") as f:
            n, rate = f["pixels"].shape[0], float(f.attrs["success_rate"])
        size = os.path.getsize(path)
        print(f"wrote {path}: {a.episodes} episodes, {n} frames, {size / 2**20:.1f} MiB, "
              f"success rate {rate:.2f}, {time.perf_counter() - t:.1f} s")
    except (KeyboardInterrupt, faults.Terminated) as e:  # after the publish: the file is complete (was: "nothing
        if (done := _collect_faults.published()) is None:  # was written" beside the complete file)
            raise
        sig = "SIGINT" if isinstance(e, KeyboardInterrupt) else e.name
        faults.say(f"error: {sig} arrived after {done} was written: it is complete ({a.episodes} episodes) and kept; "
                   f"nothing to run again")
        return 130 if isinstance(e, KeyboardInterrupt) else e.exit_code
    return 0


def collect_main(argv: list[str] | None = None) -> int:
    """``python -m lewm.collect ...`` = ``python -m lewm collect ...`` (the same checks, one-line errors)."""
    from .cli import main
    return main(["collect", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(collect_main())
