import os
import sys

# tqdm's parameters that TQDM_<NAME> environment variables set, and the type tqdm converts them to
# when it is imported (by torch, before any command runs)
_TQDM_NUMBERS = {"mininterval": float, "maxinterval": float, "miniters": float, "smoothing": float, "delay": float,
                 "total": float, "ncols": int, "nrows": int, "position": int, "initial": int, "unit_divisor": int}


def _check_tqdm_env() -> None:
    """Exit with one line for a TQDM_* number that tqdm cannot read (was: a ValueError traceback
    from inside ``import torch``)."""
    for name, kind in _TQDM_NUMBERS.items():
        raw = os.environ.get(f"TQDM_{name.upper()}")
        if raw is None:
            continue
        try:
            kind(raw)
        except ValueError:
            sys.stderr.write(f"error: environment variable TQDM_{name.upper()}={raw!r} is not "
                             f"{'a whole number' if kind is int else 'a number'} (tqdm reads it for its progress "
                             f"bars); set it to one, e.g. TQDM_{name.upper()}={'1' if kind is int else '30'}, "
                             f"or unset it\n")
            sys.exit(2)


def _exit_during_startup(signum, frame) -> None:
    """SIGTERM / SIGHUP before the command has started (torch's imports take seconds): one line, exit
    128 + signal, nothing was written yet (was: only the shell's 'Hangup'). The command installs its
    own handlers (lewm.faults.terminate_as_exception) once it runs."""
    import signal
    sys.stderr.write(f"error: stopped by {signal.Signals(signum).name} while starting up; nothing was written\n")
    os._exit(128 + int(signum))


def _interrupted_during_startup(signum, frame) -> None:
    """Ctrl-C before the command has started (while torch is imported): one line, exit 130 (was: a
    KeyboardInterrupt traceback through importlib). ``lewm.cli.main`` puts Python's own Ctrl-C handler back
    before the command runs, so a later Ctrl-C unwinds it (temporary files removed) as before."""
    sys.stderr.write("interrupted while starting up; nothing was written\n")
    os._exit(130)


_interrupted_during_startup.lewm_startup = True  # recognised (and replaced) by lewm.cli.main


def _install_startup_handlers() -> None:
    import signal
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_during_startup)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not a caller's own (or ignored) SIGINT
        signal.signal(signal.SIGINT, _interrupted_during_startup)


_check_tqdm_env()
_install_startup_handlers()

from .cli import main  # noqa: E402  (after the check: the commands import torch, which imports tqdm)

sys.exit(main())
