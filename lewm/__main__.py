import os
import resource  # loaded now: under a tight ulimit -v it could not be loaded to say so
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


def _check_cwd() -> None:
    """Exit with one line when the current folder no longer exists (deleted, or its file system gone, while a
    shell was in it; was: "Intel oneMKL FATAL ERROR: Cannot load .../libtorch_cpu.so." from inside ``import
    torch``, exit 2, or Python's FileNotFoundError from ``os.getcwd``)."""
    try:
        os.getcwd()
    except OSError as e:
        pwd = os.environ.get("PWD")
        where = f" ({pwd})" if pwd else ""
        sys.stderr.write(f"error: the current folder{where} no longer exists ({e.strerror or e}: deleted or "
                         f"unmounted while this shell was in it); cd to an existing folder and run the command "
                         f"again (nothing was written)\n")
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


def _out_of_memory(e: BaseException) -> bool:
    """A failed allocation: MemoryError, or an extension's SystemError "returned NULL without setting an
    exception" or an ImportError "failed to map segment from shared object" under an address-space limit
    (``ulimit -v``), where a library's allocation failed."""
    if isinstance(e, MemoryError):
        return True
    limited = resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
    return limited and (isinstance(e, SystemError) and ("without setting an exception" in str(e) or
                                                          "without exception set" in str(e)) or
                        isinstance(e, ImportError) and "failed to map segment" in str(e))


def _say_out_of_memory(started: bool) -> int:
    """One line, exit 2 (the machine's limit, as the commands' own out-of-memory line; was a MemoryError /
    SystemError traceback from the imports, exit 1)."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    limit = f" (the address-space limit, ulimit -v, is {soft // 2**20} MB)" if soft != resource.RLIM_INFINITY else ""
    then = ("the command stopped (its temporary files removed); raise the limit and run it again" if started else
            "nothing was written; raise the limit (or free memory) and run it again")
    line = f"error: not enough memory to start: Python could not load its modules{limit}; {then}\n" if not started \
        else f"error: out of memory{limit}: a library could not allocate; {then}\n"
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass
    return 2


from ._std_streams import reopen_closed  # noqa: E402

reopen_closed()  # 2>&- / >&-: devnull in their place, before any file takes their descriptor (round 27)
_check_cwd()
_check_tqdm_env()
_install_startup_handlers()

try:
    from . import _late_signals  # noqa: E402
    from .cli import main  # noqa: E402  (after the check: the commands import torch, which imports tqdm)
    _late_signals.PROCESS[0] = True
    _rc = main()
except (MemoryError, SystemError, ImportError) as _e:
    if not _out_of_memory(_e):
        raise
    sys.exit(_say_out_of_memory("_late_signals" in globals() and _late_signals.RUNNING[0]))
_late_signals.finish(_rc)
