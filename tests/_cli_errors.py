"""The project's bar for an expected CLI failure: exactly one line ``error: ...`` on stderr, no traceback."""
from __future__ import annotations


def one_error_line(err: str) -> str:
    """The single ``error: ...`` line of ``err`` (progress bars and warnings aside); fails otherwise."""
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln and "Warning" not in ln
             and "warnings.warn" not in ln]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]
