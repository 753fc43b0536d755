"""The process's standard streams when they are closed, or their reader went away (round 27).

- **Closed** (``2>&-``, ``>&-``, ``<&-``: a daemon, a cron line, a supervisor): Python sets ``sys.stderr`` to
  None, tqdm's first progress bar raised an AttributeError nobody could see, and the training ended with exit
  code 1 and its files removed; and the first file a command opened took descriptor 2, where a library's C
  messages then went (into a checkpoint). :func:`reopen_closed` points descriptors 0-2 that are closed at
  ``os.devnull`` (``python -m lewm`` does it first thing) and gives Python's None streams a devnull file.
- **Broken or full** (``| head -1``, a pager quit early, ``> /dev/full``): every command did its work, wrote
  its files, then failed on a print (or the interpreter's last flush) with "error: [Errno 32] Broken pipe" /
  "error: disk full ... (partial files were removed)" (none were) and exit code 2: finished work reported
  as failed. :func:`install` puts a thin wrapper on ``sys.stdout`` that drops what is printed once stdout
  fails (its descriptor is pointed at ``os.devnull``, so no later flush fails either); :func:`after` says
  so in one line on stderr. The command's exit code is its work's.
- **An encoding that lacks a character** (an ASCII terminal, ``LC_ALL=C`` with ``PYTHONUTF8=0``, whose streams use
  ``surrogateescape``): :data:`ESCAPE_OR_REPLACE` writes an undecodable file name's bytes back as they were and
  any other character it cannot encode as ``?`` (was: with ``surrogateescape``, ``error: 'ascii' codec can't
  encode character '\\u2014'`` on eval's planner line, exit 2, before any work).
"""
from __future__ import annotations

import codecs
import os
import sys

ESCAPE_OR_REPLACE = "lewm.escape_or_replace"
"""The error handler :func:`lewm.cli.tolerant_output` gives a stream that would fail on a character."""


def _escape_or_replace(e: UnicodeError):
    """``surrogateescape`` for the bytes of an undecodable name (\\udc80-\\udcff), ``?`` for anything else."""
    if not isinstance(e, UnicodeEncodeError):
        raise e
    bad = e.object[e.start:e.end]
    if all("\udc80" <= c <= "\udcff" for c in bad):
        return bytes(ord(c) - 0xDC00 for c in bad), e.end
    return "?" * len(bad), e.end


codecs.register_error(ESCAPE_OR_REPLACE, _escape_or_replace)


class PipeTolerantStdout:
    """``sys.stdout``, except that an OSError on write or flush (a broken pipe, a full device) ends the printing,
    not the command."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False
        self.why = ""

    def write(self, s):
        if not self.broken:
            try:
                return self._stream.write(s)
            except OSError as e:
                self._broke(e)
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if not self.broken:
            try:
                self._stream.flush()
            except OSError as e:
                self._broke(e)

    def _broke(self, e: OSError) -> None:
        self.broken = True
        self.why = "was closed by its reader (a pipe such as | head)" if isinstance(e, BrokenPipeError) else \
            f"could not be written ({e.strerror or e})"
        try:  # what is still buffered goes nowhere, so the interpreter's last flush does not fail
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def reopen_closed() -> None:
    """Descriptors 0, 1, 2 that are closed are pointed at ``os.devnull`` (so no file a command opens takes their
    number), and a None ``sys.stdin`` / ``sys.stdout`` / ``sys.stderr`` becomes a devnull file."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            except OSError:
                pass
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            try:
                setattr(sys, name, open(os.devnull, mode))
            except OSError:
                pass


def install() -> None:
    """Wrap ``sys.stdout`` once (a caller's own replacement of it is wrapped too; None, a closed stdout, is left)."""
    if sys.stdout is not None and not isinstance(sys.stdout, PipeTolerantStdout):
        sys.stdout = PipeTolerantStdout(sys.stdout)


def after() -> None:
    """After a command: flush what it printed; one line on stderr if its reader had closed the pipe."""
    out = sys.stdout
    if not isinstance(out, PipeTolerantStdout):
        return
    out.flush()
    if out.broken:
        out.broken = False  # said once
        try:
            sys.stderr.write(f"note: standard output {out.why}: what the command printed after that was dropped; "
                             f"its work and files are complete\n")
        except (OSError, ValueError, AttributeError):
            pass
