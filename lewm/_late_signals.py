"""A signal that arrives once a command's output is complete is reported, not raised.

Once a command's output is complete (``output_complete``), SIGTERM / SIGHUP / Ctrl-C are only recorded:
``after_the_end`` then ends with one line saying that the output is complete, exit 128 + N (was: "exported ...",
then exit 143 without a word when the signal came during the interpreter's teardown, or a Ctrl-C dropped, exit 0;
or "partial outputs were removed" after a complete one). ``finish`` ends ``python -m lewm`` with the signals
ignored, so that none falls into the interpreter's teardown (round 24, Q12).
"""
from __future__ import annotations

import signal
import sys
import threading

DONE = [False]  # the command's output is complete
LATE = [0]  # the signal recorded since (0: none)
RUNNING = [False]  # the command has started (its checks passed the start-up)
PROCESS = [False]  # set by ``python -m lewm``: the handlers stay until the process ends (``finish``)
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def _handler(signum, frame) -> None:
    if DONE[0]:
        LATE[0] = LATE[0] or int(signum)
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    from .faults import Terminated
    raise Terminated(signum)


class late_signals:
    """``python -m lewm``'s SIGTERM / SIGHUP handler outside ``terminate_as_exception`` (which puts it back at its
    end: was the start-up one, "stopped while starting up; nothing was written", after a finished command);
    ``restore()`` puts the caller's handlers back (except under ``python -m lewm``)."""

    def __init__(self):
        DONE[0], LATE[0], RUNNING[0] = False, 0, True
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            self.old = {s: signal.getsignal(s) for s in _SIGNALS}
            for s in _SIGNALS:
                if s != signal.SIGINT:
                    signal.signal(s, _handler)

    def restore(self) -> None:
        if PROCESS[0]:
            return
        for s, h in self.old.items():
            if h is not None:
                signal.signal(s, h)
        DONE[0], LATE[0] = False, 0


def output_complete(swallowed: bool = False) -> None:
    """The command's output is complete (published; its last line comes next): from here on a SIGTERM / SIGHUP /
    Ctrl-C is recorded, not raised. ``swallowed``: one arrived during the command, but its exception was swallowed
    (inside a ``__del__``) and the command went on to the end."""
    from .faults import _LAST_SIGNAL
    if swallowed:
        LATE[0] = LATE[0] or _LAST_SIGNAL[0]
    DONE[0] = True
    if threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            signal.signal(s, _handler)


def after_the_end(rc: int, signum: int = 0) -> int:
    """The exit code of a command that returned ``rc``: after a signal recorded once its output was complete,
    one line saying so and 128 + N (a failed command keeps its code and its own line)."""
    LATE[0] = signum = LATE[0] or signum
    if not signum or rc != 0:
        return rc
    from .faults import say, signal_name
    if signum == signal.SIGINT:
        say("interrupted (Ctrl-C) after the command had finished: its output is complete")
    else:
        say(f"error: terminated ({signal_name(signum)}) after the command had finished: its output is complete, "
            f"nothing to run again")
    LATE[0] = -1  # said
    return 128 + signum


def finish(rc: int) -> None:
    """End ``python -m lewm`` with ``rc``: a signal recorded since the output was complete is reported, then the
    interpreter's teardown runs with SIGINT / SIGTERM / SIGHUP ignored (a signal there was dropped, or killed the
    process without a word). Before the output is complete, or with a non-daemon thread still running, the plain
    exit is kept."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    if not DONE[0] or any(t.is_alive() and not t.daemon for t in threading.enumerate()
                          if t is not threading.main_thread()):
        sys.exit(rc)
    for s in _SIGNALS:  # the output is complete: a signal from here on would only cut the teardown short
        signal.signal(s, signal.SIG_IGN)
    if LATE[0] > 0:
        rc = after_the_end(rc)
    sys.exit(rc)
