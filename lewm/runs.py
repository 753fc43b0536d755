"""Run folders and files on disk: safe names, never overwriting, reading a run's metrics back.

Every training run and collected file gets its own fresh name (created exclusively), so several
browser sessions or commands can work side by side without touching each other's files.
"""
from __future__ import annotations

import glob
import json
import os
import re
import uuid

import numpy as np

from .progress import downsample_indices


def slugify(text: str, max_len: int = 80) -> str:
    """Filesystem-safe short name: letters, digits, '-', '_', '.'."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return (s or "run")[:max_len]


def unique_dir(root: str, name: str) -> str:
    """Create and return a new folder ``root/<name>[-N]`` (exclusive: never reuses an existing one)."""
    os.makedirs(root, exist_ok=True)
    base = slugify(name)
    for i in range(1000):
        path = os.path.join(root, base if i == 0 else f"{base}-{i}")
        try:
            os.makedirs(path)  # raises if it exists: another session (or run) owns it
            return path
        except FileExistsError:
            continue
    path = os.path.join(root, f"{base}-{uuid.uuid4().hex[:8]}")
    os.makedirs(path)
    return path


def unique_file(path: str) -> str:
    """``path`` if no such file exists (nor a collect's temporary ``path.<pid>.tmp``), else
    ``stem-N.ext`` for the first free N."""
    def free(p: str) -> bool:
        return not os.path.exists(p) and not glob.glob(glob.escape(p) + ".*tmp")

    if free(path):
        return path
    stem, ext = os.path.splitext(path)
    for i in range(1, 10_000):
        p = f"{stem}-{i}{ext}"
        if free(p):
            return p
    return f"{stem}-{uuid.uuid4().hex[:8]}{ext}"


def read_metrics(out_dir: str, max_points: int = 2000) -> dict[str, np.ndarray]:
    """A run folder's ``metrics.jsonl`` as column arrays (downsampled); empty dict if none."""
    path = os.path.join(out_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    recs = []
    with open(path) as f:  # bytes that are not UTF-8: a UnicodeDecodeError the run page shows as "unreadable"
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written
            if not isinstance(rec, dict):  # a list or a number on a line was an AttributeError
                raise ValueError(f"{path}: a line holds {type(rec).__name__} {line.strip()[:40]!r}, expected a JSON "
                                 "object of metrics per line")
            # numbers only: "0.5" (a string) or true were plotted as 0.5 and 1.0
            rec = {k: v for k, v in rec.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if not (isinstance(rec.get("step"), float) and not np.isfinite(rec["step"])):  # 1e400: a point at inf
                recs.append(rec)
    if not recs:
        return {}
    idx = downsample_indices(len(recs), max_points)
    keys = sorted({k for r in recs for k in r})
    return {k: np.asarray([recs[i].get(k, np.nan) for i in idx], np.float64) for k in keys}
