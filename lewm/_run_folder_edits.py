"""A run folder edited by hand between commands (round 27): what a training must not start over.

A training that finds no ``last.pt`` in its ``out`` starts a fresh run there, and a fresh run removes the
earlier ``metrics.jsonl`` and ``step_N.pt`` snapshots (right after a run that never reached its first
checkpoint, or with ``--no-resume``). When ``last.pt`` was deleted or moved by hand, those files are the
record of a run that did checkpoint: the same command then deleted them and trained from step 0 over them
(round 27, L1). :func:`check_no_orphaned_run` refuses that case before any work.
"""
from __future__ import annotations

import json
import os
import re


def snapshot_names(out: str) -> list[str]:
    """The ``step_N.pt`` entries of a run folder, by step (any kind of entry; [] when it cannot be listed)."""
    try:
        names = os.listdir(out)
    except OSError:
        return []
    return sorted((n for n in names if re.fullmatch(r"step_\d+\.pt", n)), key=lambda n: int(n[5:-3]))


def _snapshots(out: str) -> list[str]:
    return [n for n in snapshot_names(out) if os.path.isfile(os.path.join(out, n))]


def _last_logged_step(path: str) -> int | None:
    """The largest ``step`` of a metrics log's lines (None: no such file, or no readable line)."""
    best = None
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    step = json.loads(line).get("step")
                except (ValueError, AttributeError):
                    continue
                if isinstance(step, int) and not isinstance(step, bool):
                    best = step if best is None else max(best, step)
    except (OSError, ValueError):
        return None
    return best


def _ckpt_every(out: str, default: int) -> int:
    """The run's ``train.ckpt_every`` from its ``config.json`` (``default`` when unreadable)."""
    try:
        with open(os.path.join(out, "config.json")) as f:
            v = json.load(f)["train"]["ckpt_every"]
        return v if isinstance(v, int) and v >= 1 else default
    except (OSError, ValueError, KeyError, TypeError):
        return default


def check_no_orphaned_run(out: str, ckpt_every: int) -> None:
    """Before a training that would start fresh in ``out`` (no ``last.pt`` there, resuming asked for): refuse,
    naming the files, when ``out`` holds the record of a run that had written a checkpoint, i.e. ``step_N.pt``
    snapshots, or a ``metrics.jsonl`` whose steps reach that run's ``train.ckpt_every`` (its ``config.json``'s,
    else ``ckpt_every``). A log shorter than that is a run stopped before its first checkpoint: started over."""
    if not os.path.isdir(out) or os.path.lexists(os.path.join(out, "last.pt")):
        return
    snaps = _snapshots(out)
    metrics = os.path.join(out, "metrics.jsonl")
    step = _last_logged_step(metrics) if os.path.isfile(metrics) else None
    checkpointed = step is not None and step >= _ckpt_every(out, ckpt_every)
    if not snaps and not checkpointed:
        return
    held = []
    if step is not None:
        held.append(f"metrics.jsonl (up to step {step})")
    if snaps:
        held.append(", ".join(snaps[:3]) + (f" and {len(snaps) - 3} more" if len(snaps) > 3 else ""))
    raise ValueError(f"train(out=...) {out}: holds an earlier run's {' and '.join(held)} but no last.pt (deleted "
                     f"or moved?): a new run there would delete them and start from step 0; put its last.pt back "
                     f"to resume it, choose another out folder, or pass --no-resume (train(resume=False)) to start "
                     f"over, deleting them")


def check_log_is_the_runs(metrics_path: str, meta: dict, src: str) -> None:
    """Before a resume: the ``metrics.jsonl`` line at the checkpoint's step must be the one the checkpoint saved
    (its ``loss``). Another run's log copied over this one's was kept up to the step and continued, one log of
    two runs without a word (round 27, L2). Nothing to compare (no such line, no loss saved): no check."""
    import math
    saved = meta.get("metrics") or {}
    step, loss = meta.get("step"), saved.get("loss")
    if not isinstance(loss, (int, float)) or saved.get("step") != step or not os.path.isfile(metrics_path):
        return
    try:
        with open(metrics_path, errors="replace") as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if isinstance(d, dict) and d.get("step") == step and isinstance(d.get("loss"), (int, float)):
                    if math.isclose(d["loss"], loss, rel_tol=1e-6, abs_tol=1e-12) or d["loss"] != d["loss"]:
                        return
                    raise ValueError(f"{metrics_path}: its step {step} line (loss {d['loss']:.6g}) is not the one "
                                     f"{src} saved at that step (loss {loss:.6g}): the log is another run's (copied "
                                     f"or swapped?); put this run's metrics.jsonl back, or move this one away (the "
                                     f"run then starts a new log at step {step + 1})")
    except OSError:
        return


def check_snapshot_slots(out: str, start: int, tc) -> None:
    """Before the first step: every ``step_N.pt`` the run will write (``tc.keep_snapshots``, N a multiple of
    ``tc.ckpt_every`` after ``start`` and before ``tc.steps``) is free, or a checkpoint. A folder or another
    file there stopped the run at that step with "save: ... pick another name", a name the user never chose
    (round 27, L3)."""
    if not tc.keep_snapshots:
        return
    for n in _snapshots(out) + [e for e in snapshot_names(out) if os.path.isdir(os.path.join(out, e))]:
        step = int(n[5:-3])
        if not (start < step < tc.steps and step % tc.ckpt_every == 0):
            continue
        p = os.path.join(out, n)
        if os.path.isdir(p):
            what = "a folder"
        else:
            try:
                with open(p, "rb") as f:
                    if f.read(4) == b"PK\x03\x04":  # a torch checkpoint (an earlier snapshot): replaced as before
                        continue
            except OSError:
                pass
            what = "a file that is not a checkpoint"
        raise ValueError(f"{p}: is {what}, where the run writes its step {step} snapshot (train.keep_snapshots, "
                         f"every train.ckpt_every={tc.ckpt_every} steps): move it away, or choose another out folder")


def note_config_edits(out: str, saved: dict, src: str) -> str | None:
    """Before a resume: a ``config.json`` that is no longer the one the run wrote (``saved``: the config its
    checkpoint stores) was edited by hand. A run's settings come from its checkpoint and the flags, and the file is
    written anew, so an edit (``"steps": 1000000000000``, a negative learning rate) was dropped without a word
    (round 28, J1). Returns the note to print (None: the file is missing, or as written)."""
    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        saved = json.loads(json.dumps(saved))  # as the file holds it (tuples as lists)
        with open(path, errors="replace") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = None
    tail = (f": a run's settings come from {src} and the flags, not from config.json, which is written anew now; "
            f"to change a setting give its flag or --set SECTION.FIELD=VALUE")
    if not isinstance(doc, dict):
        return f"note: {path} is not the JSON object the run wrote (edited by hand?){tail}"
    changed = []
    for sec in sorted(set(saved) | set(doc)):
        a, b = saved.get(sec), doc.get(sec)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += [f"{sec}.{k} {a.get(k, '(none)')!r} -> {b.get(k, '(none)')!r}"
                        for k in sorted(set(a) | set(b)) if a.get(k, ...) != b.get(k, ...)]
        elif a != b:
            changed.append(f"{sec} {_short(a)} -> {_short(b)}")
    if not changed:
        return None
    more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
    return f"note: {path} was edited since the run wrote it ({', '.join(changed[:4])}{more}){tail}"


def _short(v) -> str:
    text = "(none)" if v is None else repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
