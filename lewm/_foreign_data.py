"""Episode files written by other tools (round 25): what :func:`lewm.episode_file.validate_file` says about a layout that is
plausible but not the lab's, so that the one line names what was found and how to convert it.

Decisions (docs/reliability_round25.md):

* **Pixels** other than uint8 RGB ``(N, S, S, 3)`` are refused with a recipe for the layout found: float pixels are
  ambiguous (in [0, 1], in 0..255, or already normalised as the official release takes float pixels), channels-first,
  grey, RGBA and 16-bit frames would each need a conversion of every frame on every read.
* **Integer actions** are accepted (their float32 values are exact; a velocity or a motor count of another tool).
* **Keys** are case-sensitive; a missing key is named with the file's near match (``Pixels``, ``actions``,
  ``observations``) or, for the episode index, with what it holds.
* **Compression filters** this h5py cannot decode (blosc, zstd, lz4 ... of ``hdf5plugin``) are named before any read:
  the first read was h5py's "can't open directory (/usr/local/lib/plugin)", without the file or the key.

A leaf module: the standard library, numpy and (inside the functions) h5py only.
"""
from __future__ import annotations

import contextlib
import os
import re

import numpy as np

_WANT = "the lab reads RGB frames as uint8 (N, S, S, 3) with values 0..255"


def pixels_problem(path, dtype, shape) -> str | None:
    """The one-line message for a ``pixels`` dataset of ``dtype`` / ``shape`` that is not uint8 (N, S, S, 3), with the
    conversion for the layout found, or None when it is the lab's layout."""
    dtype, shape = np.dtype(dtype), tuple(shape)
    if dtype == np.uint8 and len(shape) == 4 and shape[-1] == 3:
        return None
    chw = len(shape) == 4 and shape[1] in (1, 3, 4) and shape[-1] not in (1, 3, 4)
    hwc_last = shape[-1] if len(shape) == 4 and not chw else None
    steps = []
    if chw:
        steps.append(("channels first", "x = x.transpose(0, 2, 3, 1)"))
    if len(shape) == 3 or (shape[1] if chw else hwc_last) == 1:
        steps.append(("grey", "x = np.repeat(x.reshape(*x.shape[:3], 1), 3, axis=-1)" if len(shape) == 4 else
                      "x = np.repeat(x[..., None], 3, axis=-1)"))
    elif (shape[1] if chw else hwc_last) == 4:
        steps.append(("RGBA", "x = x[..., :3]"))
    if dtype.kind == "f":
        steps.append(("float (ambiguous: in [0, 1], in 0..255, or normalised)",
                      "x = (x * 255).round().clip(0, 255).astype(np.uint8) if its values are in [0, 1], "
                      "x.round().clip(0, 255).astype(np.uint8) if in 0..255"))
    elif dtype == np.uint16:
        steps.append(("16-bit", "x = (x >> 8).astype(np.uint8)"))
    elif dtype != np.uint8:
        steps.append(("not uint8", "x = x.astype(np.uint8) after scaling its values to 0..255"))
    if not steps or len(shape) not in (3, 4):
        return (f"{path}: key 'pixels' must be uint8 (N, S, S, 3), got {dtype} {shape}; {_WANT}")
    what = ", ".join(w for w, _ in steps)
    how = "; ".join(h for _, h in steps)
    return (f"{path}: key 'pixels' is {what} ({dtype} {shape}) but {_WANT}; convert it (x = f['pixels'][:]; {how}; "
            f"then write x as 'pixels') or re-collect the file")


_ALIASES = {
    "pixels": ("obs", "observation", "observations", "image", "images", "frames", "rgb", "pixel"),
    "action": ("actions", "act", "acts", "control", "controls"),
    "ep_len": ("ep_lens", "episode_len", "episode_lens", "episode_length", "episode_lengths", "lengths"),
    "ep_offset": ("ep_offsets", "ep_start", "ep_starts", "episode_start", "episode_starts", "offsets"),
}
_INDEX_HELP = ("'ep_len' / 'ep_offset' are each episode's number of frames and first row (1-D whole numbers; one "
               "episode of N frames: ep_len = [N], ep_offset = [0])")


def missing_keys_message(path, names, missing: list[str], expected) -> str:
    """The one line for REQUIRED keys absent from a file whose top-level names are ``names``: the file's near match
    of each (another case, a plural, a group of the same name) and, for the episode index, what it holds."""
    near = []
    lower = {n.lower(): n for n in names}
    for k in missing:
        hit = lower.get(k.lower()) or next((lower[a] for a in _ALIASES.get(k, ()) if a in lower), None)
        if hit is not None:
            near.append((hit, k))
    msg = f"{path}: missing dataset key(s) {missing}; expected {list(expected)}"
    if near:
        has = ", ".join(f"{hit!r} for {k!r}" for hit, k in near)
        msg += (f"; it has {has}: keys are case-sensitive and named as the lab's layout, rename them (with h5py: "
                f"f.move({near[0][0]!r}, {near[0][1]!r}))")
    if {"ep_len", "ep_offset"} & set(missing):
        msg += f"; {_INDEX_HELP}"
    return msg


def _plugins() -> None:
    """Register the filters of ``hdf5plugin`` when it is installed (blosc, zstd, lz4, bitshuffle ...)."""
    with contextlib.suppress(Exception):
        import hdf5plugin  # noqa: F401


def storage_problem(path, f, keys) -> str | None:
    """The first of ``keys`` in the open file ``f`` whose values cannot be read as stored, as a one-line message, or
    None: an HDF5 compression filter this h5py cannot decode (a read was h5py's "Can't synchronously read data (can't
    open directory (/usr/local/lib/plugin) ...)", after the work had started, naming neither the file nor the key),
    or a virtual dataset whose source file is missing (read as its fill value: all-black frames, trained on without
    a word), or rows whose storage was never written (:func:`_unwritten_problem`)."""
    import h5py
    _plugins()
    for key in keys:
        ds = f.get(key) if key in f else None
        if not isinstance(ds, h5py.Dataset):
            continue
        if bad := _virtual_source_problem(path, ds, key) or _unwritten_problem(path, ds, key):
            return bad
        try:
            plist = ds.id.get_create_plist()
            filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
        except Exception:  # noqa: BLE001 (a virtual or external dataset: no filter list to read)
            continue
        for code, _flags, _vals, name in filters:
            if not h5py.h5z.filter_avail(code):
                label = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
                return (f"{path}: key {key!r} is compressed with HDF5 filter {code}"
                        f"{f' ({label})' if label else ''}, which this h5py cannot decode; pip install hdf5plugin "
                        f"(the lab loads it when installed), or rewrite the file without it: h5repack -f NONE "
                        f"{path} plain.h5")
    return None


def _virtual_source_problem(path, ds, key) -> str | None:
    """A virtual dataset's first source file that does not exist (HDF5 looks for a relative one beside ``path``)."""
    import os
    try:
        if not ds.is_virtual:
            return None
        sources = ds.virtual_sources()
    except Exception:  # noqa: BLE001 (this h5py cannot list them: nothing to say)
        return None
    here = os.path.dirname(os.path.abspath(path))
    for src in sources:
        name = src.file_name
        if name == ".":  # the file itself
            continue
        full = name if os.path.isabs(name) else os.path.join(here, name)
        if not os.path.isfile(full):
            return (f"{path}: key {key!r} is a virtual dataset whose source file {name} (dataset {src.dset_name}) "
                    f"does not exist; its frames would read as the fill value (blank): restore {full}, or write "
                    f"the data into the file itself")
    return None


def _unwritten_problem(path, ds, key) -> str | None:
    """Rows of ``ds`` whose storage HDF5 never allocated: a chunked dataset with fewer chunks written than its shape
    needs, or a contiguous one never written at all. Such rows read as the fill value (black frames, zero actions):
    a writer that stopped early, or a file declared larger than its data, was trained on without a word, and 10^9
    rows declared in an 11 kB file were scanned for hours (round 28, S1). Metadata only: nothing is read."""
    import math
    try:
        if ds.is_virtual or ds.external or ds.size == 0:
            return None
        if ds.chunks is None:
            written, needed = (0 if ds.id.get_storage_size() == 0 else 1), 1
        else:
            needed = math.prod(-(-n // c) for n, c in zip(ds.shape, ds.chunks))
            if needed <= _COUNTED_CHUNKS:
                written = ds.id.get_num_chunks()  # walks the chunk index: seconds for 10^9 declared chunks
            else:  # rows spread over the file, the last included: one index lookup each
                step = max(1, ds.shape[0] // _SAMPLED_CHUNKS)
                rows = sorted({*range(0, ds.shape[0], step), ds.shape[0] - 1})
                zero = (0,) * (ds.ndim - 1)
                lost = sum(ds.id.get_chunk_info_by_coord((r - r % ds.chunks[0], *zero)).byte_offset is None
                           for r in rows)
                if lost:
                    rows = f"{lost} of {len(rows)} storage chunks sampled along its rows were never"
                    return _unwritten_line(path, key, ds.shape[0], rows)
                return None
    except Exception:  # noqa: BLE001 (an older HDF5 without the chunk count: nothing to say)
        return None
    if written >= needed:
        return None
    rows = f"only {written} of its {needed} storage chunks were" if ds.chunks else "its storage was never"
    return _unwritten_line(path, key, ds.shape[0], rows)


_COUNTED_CHUNKS, _SAMPLED_CHUNKS = 1_000_000, 256  # chunk indexes counted in full up to this size, else sampled


def _unwritten_line(path, key, n_rows, rows) -> str:
    return (f"{path}: key {key!r} declares {n_rows} rows but {rows} written; the unwritten rows would read as "
            f"the fill value (blank frames, zero actions): the file was cut off while being written, or declared "
            f"larger than its data; re-collect it, or rewrite it with only the written rows")


def held_for_writing(path, e: BaseException) -> str | None:
    """The one line for h5py's refusal to open ``path`` because a writer has it (``e``), or None for another error:
    a writer's HDF5 lock (errno 11), or the "open for write" mark of an SWMR writer (or of a writer that crashed;
    was "not a readable HDF5 file (... may use <h5clear file> ...)", advice that corrupts a live writer's file)."""
    msg = str(e)
    if "unable to lock file" in msg:
        return f"{path}: another process has the file open for writing (HDF5 lock); wait for it to finish, or read a copy"
    if "already open for write" in msg:
        return (f"{path}: another process has the file open for writing (an HDF5 SWMR writer), or a writer that "
                f"crashed left it marked open; wait for it to finish, or read a copy; if no writer runs any more, "
                f"clear the mark: h5clear -s {path}")
    return None


_TO_DO = "give an .h5 episode file (the Data page or python -m lewm collect writes one)"


def unreadable_h5(path, e: BaseException) -> str:
    """The one line for a file h5py cannot open (``e``), saying what the file is and what to do (round 26: the lab's
    pages showed "not a readable HDF5 file (Unable to synchronously open file (file signature not found))" for an
    empty file, a checkpoint saved as .h5, a text file and a copy cut short alike)."""
    if held := held_for_writing(path, e):  # a writer's lock (errno 11), an SWMR writer's or a crash's mark
        return held
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return f"{path}: not a readable HDF5 file ({msg}); check its permissions, or {_TO_DO}"
    start = "not a readable HDF5 file: it is"
    if not head:
        return f"{path}: {start} empty (0 bytes), a copy or collection that did not finish; copy it again, or {_TO_DO}"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        if m := re.search(r"stored_eof = (\d+)", msg):
            return (f"{path}: {start} cut short ({size:,} of the {int(m.group(1)):,} bytes it declares), an unfinished "
                    f"copy or download; copy it again, or collect it again")
        return f"{path}: {start} a damaged HDF5 file ({msg[:160]}); copy it again, or collect it again"
    if head.startswith(b"PK\x03\x04"):
        return (f"{path}: {start} a zip file (by its look a torch checkpoint, .pt), not HDF5; pick it as a checkpoint "
                f"(the lab's sidebar, or --checkpoint), and as data {_TO_DO}")
    if head.startswith(b"\x1f\x8b"):
        return f"{path}: {start} gzip-compressed; decompress it first (gunzip, or python -m gzip -d FILE)"
    try:
        head.decode("utf-8")
        text = b"\x00" not in head
    except UnicodeDecodeError:
        text = False
    return f"{path}: {start} {'a text file' if text else 'a binary file of another format'}, not HDF5; {_TO_DO}"
