"""The project's bar for an expected CLI failure: exactly one line ``error: ...`` on stderr, no traceback."""
from __future__ import annotations


def one_error_line(err: str) -> str:
    """The single ``error: ...`` line of ``err`` (progress bars and warnings aside); fails otherwise."""
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln and "Warning" not in ln
             and "warnings.warn" not in ln]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def one_error(capsys) -> str:
    """The single ``error: ...`` line of what the command wrote to stderr (notes and progress may surround it)."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def train_tiny(data, out, *extra) -> int:
    """``python -m lewm train`` of a cpu-tiny model on ``data`` into ``out`` (batch 4, one thread), its exit code."""
    from lewm.cli import main
    return main(["train", "--preset", "cpu-tiny", "--data", str(data), "--out", str(out), "--batch-size", "4",
                 "--threads", "1", "--set", "train.bn_recalibrate_batches=1", *extra])
