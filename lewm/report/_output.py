"""Publishing a report's files into its folder: ``report.html`` and ``report.json`` through
:func:`lewm.faults.write_atomic` (never over a report another command wrote meanwhile), and the removal
of an earlier report's page that a report without html would leave beside its new JSON."""
from __future__ import annotations

import contextlib
import json
import os

from ..faults import write_atomic
from .html import write_html
from .summary import clean


def write_report(out: str, rep: dict, sections, plotly_js, replace: dict, say=print) -> None:
    """``report.html`` (``sections`` not None) and ``report.json``, each published with ``replace[name]``:
    one taken meanwhile by another report is kept as ``report-kept-PID.*`` and both are named in one
    FileExistsError. Without html, an earlier report's ``report.html`` (``--force``) is removed after the new
    ``report.json`` is written: it no longer matched it."""
    kept = []
    if sections is not None:
        try:
            write_html(os.path.join(out, "report.html"), rep, sections, plotly_js, replace=replace["report.html"])
        except FileExistsError as e:
            kept.append(str(e))
    try:
        write_atomic(os.path.join(out, "report.json"), json.dumps(clean(rep), indent=1), replace=replace["report.json"], flag="--out")
    except FileExistsError as e:
        kept.append(str(e))
    if kept:
        raise FileExistsError(" ".join(kept))
    if sections is None and replace.get("report.html"):  # --force (an earlier report.html without it was refused)
        _remove_stale_html(os.path.join(out, "report.html"), say)


def _remove_stale_html(path: str, say=print) -> None:
    """Remove ``path`` if it is a report.html this module wrote (a regular file whose page is titled
    'LeWM report'); any other file of that name is left, with a note."""
    if not os.path.lexists(path):
        return
    head = ""
    if os.path.isfile(path) and not os.path.islink(path):
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    if "<title>LeWM report</title>" in head:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        say(f"note: removed {path}: it was the earlier report's page (this report has no html)")
    else:
        say(f"note: {path} is not this report's page (this report has no html); it was left as it is")
