"""Argument checks of :func:`lewm.collect.run_episode`, :func:`lewm.collect.episode_rng` and
:func:`lewm.collect.collect` (the Python API): one clear line naming the argument before any work (round 23:
``run_episode(length=0)`` was an IndexError, ``10**9`` a MemoryError of 2.79 TiB, ``seed=1.7`` seed 1 silently,
``mix_random=5`` always random; ``collect(force="no")`` replaced the dataset, ``workers=2.7`` / ``"2"`` / ``-4``
were taken as 2 / 2 / 1, ``mix_random="0.5"`` a TypeError)."""
from __future__ import annotations

from . import _api_checks as api

SEED_HI = 2**63 - 1
"""The largest collection seed (stored in the file's attribute ``seed``; as ``collect --seed``)."""
MAX_EPISODE_LEN = 1_000_000
"""The longest episode in frames (as ``collect --episode-len``)."""
MAX_WORKERS = 1024
"""As ``collect --workers``."""


def check_episode_rng_args(seed, index, fn: str = "episode_rng") -> None:
    api.seed(fn, seed, hi=SEED_HI)
    api.whole(fn, "index", index, 0)


def check_run_episode_args(index, seed, length, mix_random) -> None:
    fn = "run_episode"
    check_episode_rng_args(seed, index, fn)
    api.whole(fn, "length", length, 1, MAX_EPISODE_LEN)
    api.number(fn, "mix_random", mix_random, 0.0, 1.0)


def check_collect_args(workers, seed, mix_random, progress, force, rename_if_taken) -> None:
    fn = "collect"
    api.whole(fn, "workers", workers, 0, MAX_WORKERS)  # 0 is 1 (round 5's decision)
    api.seed(fn, seed, hi=SEED_HI)
    api.number(fn, "mix_random", mix_random, 0.0, 1.0)
    for name, v in (("progress", progress), ("force", force), ("rename_if_taken", rename_if_taken)):
        api.flag(fn, name, v)  # "no" was truthy: force="no" replaced the dataset


def check_not_held(out, flag: str) -> None:
    """An existing HDF5 ``out`` that another process holds open for writing (its HDF5 lock) is not replaced: that
    writer's later work would go into the replaced file and be lost (round 25: ``collect --force`` replaced it)."""
    import os
    if not os.path.isfile(out):
        return
    with open(out, "rb") as f:
        if f.read(8) != b"\x89HDF\r\n\x1a\n":
            return
    import h5py
    from ._foreign_data import held_for_writing
    try:
        h5py.File(out, "r").close()
    except OSError as e:
        if held_for_writing(out, e):  # its lock, or an SWMR writer's mark
            raise ValueError(f"{flag} {out}: another process has the file open for writing (HDF5); replacing it "
                             f"would lose that writer's work: wait for it to finish, or choose another {flag}") from None
