"""Command line: ``python -m lewm <command> ...``. Thin: parses arguments, calls library functions."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys

# name -> (module, add-arguments function, run function, one-line help)
COMMANDS = {
    "train": ("lewm.cli", "add_train_args", "run_train", "train a world model on an HDF5 episode file"),
    "collect": ("lewm.collect", "add_collect_args", "run_collect", "collect episodes from an environment into HDF5"),
    "eval": ("lewm.evaluate", "add_eval_args", "run_eval", "evaluate a checkpoint with MPC planning (paper protocol)"),
    "bench": ("lewm.bench", "add_bench_args", "run_bench", "benchmarks: train-step throughput, planning latency"),
    "export": ("lewm.cli", "add_export_args", "run_export", "export a training checkpoint for shipping (fp16, no optimizer state)"),
    "report": ("lewm.report", "add_report_args", "run_report", "diagnostics report (plots + JSON) for a checkpoint"),
}


def add_train_args(p: argparse.ArgumentParser) -> None:
    from .config import PRESETS, ModelConfig, SIGRegConfig, TrainConfig
    from .validate import arg_field, arg_int
    p.add_argument("--data", required=True, help="HDF5 episode file (see `python -m lewm collect`)")
    p.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS),
                   help="size preset (default cpu-small); its image size follows --data's unless "
                        "--set model.image_size=N pins it")
    p.add_argument("--out", required=True, help="output folder (last.pt, metrics.jsonl, config.json)")
    p.add_argument("--steps", type=arg_field(TrainConfig, "steps"), default=None,
                   help="optimisation steps (default: the preset's)")
    p.add_argument("--lambda", dest="lam", type=arg_field(SIGRegConfig, "weight"), default=None,
                   help="SIGReg weight (0 = off: watch it collapse)")
    p.add_argument("--lr", type=arg_field(TrainConfig, "lr"), default=None, help="peak learning rate")
    p.add_argument("--batch-size", type=arg_field(TrainConfig, "batch_size"), default=None)
    p.add_argument("--history", type=arg_field(ModelConfig, "history"), default=None,
                   help="predictor context in frames (Two-Room: 1)")
    p.add_argument("--latent-dim", type=arg_field(ModelConfig, "latent_dim"), default=None, help="latent dimension D")
    p.add_argument("--frameskip", type=arg_field(ModelConfig, "frameskip"), default=None)
    p.add_argument("--seed", type=arg_field(TrainConfig, "seed"), default=None)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument("--init", metavar="CKPT", help="continue another run's training checkpoint (weights, optimizer, "
                   "step) on --data up to --steps: a fine-tuning stage on other data")
    p.add_argument("--threads", type=arg_int(1, 1024), default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--workers", type=arg_field(TrainConfig, "num_workers"), default=None,
                   help="data loader worker processes (default 0: the main process; on GPUs try 4-8)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model parts (one-off compile time; for long GPU runs)")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="compute precision (default auto: bf16 autocast on CUDA GPUs and on CPUs with native bf16 "
                        "(avx512_bf16/AMX) for models at least cpu-small wide; fp32 elsewhere, where bf16 "
                        "training is slower; see lewm/precision.py)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override any config field, e.g. --set model.patch_size=8 --set sigreg.num_proj=512 "
                        "(repeatable; fields are listed in lewm/config.py)")


TRAIN_FLAGS = {  # flag -> (argparse destination, the config field it sets)
    "--history": ("history", "model.history"), "--latent-dim": ("latent_dim", "model.latent_dim"),
    "--frameskip": ("frameskip", "model.frameskip"), "--lr": ("lr", "train.lr"),
    "--batch-size": ("batch_size", "train.batch_size"), "--seed": ("seed", "train.seed"),
    "--workers": ("workers", "train.num_workers"), "--steps": ("steps", "train.steps"),
    "--compile": ("compile", "train.compile"), "--precision": ("precision", "train.precision"),
    "--lambda": ("lam", "sigreg.weight"),
}


def _flag_settings(a: argparse.Namespace) -> dict[str, dict]:
    """The config fields the training flags given set, by section: ``{"train": {"lr": 0.001}}``."""
    out: dict[str, dict] = {}
    for dest, key in TRAIN_FLAGS.values():
        v = getattr(a, dest)
        if v is not None and v is not False:  # not given (--compile: store_true)
            section, _, name = key.partition(".")
            out.setdefault(section, {})[name] = v
    return out


def _check_flags_agree_with_set(a: argparse.Namespace, cfg) -> None:
    """A field given both by its flag and by ``--set`` with another value is refused, naming both
    (was: --steps won over --set train.steps, --set won over the other flags, without a word)."""
    for flag, (dest, key) in TRAIN_FLAGS.items():
        v = getattr(a, dest)
        section, _, name = key.partition(".")
        final = getattr(getattr(cfg, section), name)
        if v is not None and v is not False and _pinned(a.overrides, key) and final != v:
            given = flag if v is True else f"{flag} {v}"
            raise ValueError(f"{given} and --set {key}={final} give {key} two values; give it once")


def _run_env(prev: str) -> str | None:
    """The environment of the checkpoint a run resumes or continues (None: not recorded). An official release folder
    is read by ``train`` itself (``checkpoint.load``; was: "a folder with no last.pt or model.pt inside")."""
    from . import checkpoint, official
    if official.is_official(prev):
        return None
    raw = checkpoint.read_raw(prev)
    from ._foreign_ckpt import config_of
    env = config_of(raw, prev).get("env")
    return env if isinstance(env, str) and env else None


def _pinned(overrides: list[str], key: str) -> bool:
    """Whether ``--set key=...`` is among ``overrides`` (the user pinned that field)."""
    return any(o.partition("=")[0].strip() == key for o in overrides)


def run_train(a: argparse.Namespace) -> int:
    """Also the entry point of data-parallel runs: ``torchrun --nproc_per_node N -m lewm train ...``
    (``--batch-size`` is the global batch; every rank takes batch/N)."""
    from . import faults
    rank, _, _ = faults.torchrun_env()  # RANK / WORLD_SIZE / LOCAL_RANK checked once, before any work
    import torch
    from . import validate
    from .config import apply_set_overrides, follow_data_image_size, get_preset, image_size_note
    from .devices import resolve_device, set_threads
    from .model import parameter_count
    from .train import train
    cfg = get_preset(a.preset).with_overrides(**_flag_settings(a))
    # the preset follows the data's image size (a 64-px file of another tool trains as is) unless
    # --set model.image_size pins it
    pinned = _pinned(a.overrides, "model.image_size")
    size = validate.data_image_size(a.data) if os.path.isfile(a.data) else None
    items = list(a.overrides)
    if size is not None and not pinned and _pinned(items, "model.patch_size"):
        # a patch size given with --set is checked against the data's image size, not the preset's
        items = [f"model.image_size={size}"] + items
        if rank == 0:
            print(image_size_note(cfg, size, a.data))
    cfg = apply_set_overrides(cfg, items)  # --set section.field=value
    _check_flags_agree_with_set(a, cfg)
    if size is not None:
        cfg, note = follow_data_image_size(cfg, size, a.data, pinned=pinned)
        if note and rank == 0:
            print(note)
    # everything is checked before any work: the device, the output folder, the data (and, in
    # train(), the environment of a run resumed or continued from a checkpoint)
    validate.check_train_memory(cfg, resolve_device(a.device), params=parameter_count(cfg.model))
    validate.check_out_dir(a.out)
    prev = os.path.join(a.out, "last.pt") if not a.no_resume and os.path.exists(os.path.join(a.out, "last.pt")) else a.init
    if a.init and prev != a.init and rank == 0:  # was: --init ignored without a word
        print(f"note: --init {a.init} ignored: {a.out} already holds last.pt, which this run resumes (the same "
              f"command resumes an interrupted stage); pass --no-resume to start over from --init, or choose "
              f"another --out", file=sys.stderr)
    env = _run_env(prev) if prev is not None else None  # resuming or continuing: data of the run's environment
    # an action size pinned with --set must be the data's (else training would silently take the data's)
    validate.check_dataset(a.data, image_size=cfg.model.image_size, env=env,
                           action_dim=cfg.model.action_dim if _pinned(a.overrides, "model.action_dim") else None,
                           who=f"the run in {prev}" if env else f"--preset {a.preset} --set model.action_dim")
    set_threads(a.threads)
    with _ctrl_c_stops_after_the_step() as stop:
        res = train(cfg, a.data, a.out, steps=a.steps, device=a.device, resume=not a.no_resume, init=a.init,
                    stop_event=stop)
    m = res.metrics
    if rank != 0:  # torchrun: rank 0 reports
        return 0
    if res.stopped:
        import signal
        signum = getattr(stop, "signum", signal.SIGINT)
        why = "hangup (SIGHUP: the terminal closed)" if signum == getattr(signal, "SIGHUP", None) else "interrupted"
        if res.checkpoint:
            faults.say(f"{why} at step {res.step}: saved {res.checkpoint}; the same command resumes from it")
        else:  # stopped before the first step: nothing was trained, nothing saved (round 23, P11)
            faults.say(f"{why} before the first training step: nothing was saved in {a.out}")
        return 128 + int(signum)  # 130 (Ctrl-C), 129 (SIGHUP)
    shown = [f"{label} {m[key]:{fmt}}" for label, key, fmt in
             (("loss", "loss", ".4f"), ("pred", "pred_loss", ".4f"), ("sigreg", "sigreg", ".4f"),
              ("eff.rank", "effective_rank", ".1f")) if key in m]  # a metric not logged is left out, not "nan"
    print(f"done: step {res.step}  {'  '.join(shown)}  -> {res.checkpoint}")
    target = a.steps if a.steps is not None else cfg.train.steps
    from ._range_edges import warmup_note
    if (note := warmup_note(cfg.train, target)) is not None:  # was: a schedule that never reached train.lr, unsaid
        print(f"note: {note}", file=sys.stderr)
    if res.step < target and cfg.train.time_budget_s:
        print(f"note: stopped at step {res.step} of {target}: train.time_budget_s="
              f"{cfg.train.time_budget_s:g} s ran out; the same command with a larger budget continues", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _ctrl_c_stops_after_the_step():
    """A single-process training run: the first Ctrl-C sets the yielded event, so the trainer stops
    at the next step boundary and saves ``last.pt`` (no step since the last checkpoint is lost; a
    save inside an optimizer step could not be trusted); a second Ctrl-C interrupts at once. SIGHUP
    (the terminal closed, the ssh session dropped: it killed the run with no line and no save) stops
    the same way; the event's ``signum`` says which signal stopped it. Under torchrun, or off the
    main thread, yields None (Ctrl-C interrupts as usual, SIGHUP as SIGTERM)."""
    import signal
    import threading
    from .faults import say, torchrun_env
    if torchrun_env()[1] > 1 or threading.current_thread() is not threading.main_thread():
        yield None
        return
    stop = threading.Event()
    hup = getattr(signal, "SIGHUP", None)

    def first(signum, frame):
        stop.signum = signum
        stop.set()
        signal.signal(signal.SIGINT, previous)
        print("\nCtrl-C: stopping after this step and saving last.pt (Ctrl-C again to abort now)", file=sys.stderr)

    def hangup(signum, frame):  # a repeated SIGHUP changes nothing: the save goes on
        if not stop.is_set():
            stop.signum = signum
        stop.set()
        with contextlib.suppress(RuntimeError):  # a reentrant write to stderr: the final line says it
            say("\nSIGHUP: stopping after this step and saving last.pt")

    previous = signal.signal(signal.SIGINT, first)
    previous_hup = signal.signal(hup, hangup) if hup is not None else None
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
        if hup is not None:
            signal.signal(hup, previous_hup)


def add_export_args(p: argparse.ArgumentParser) -> None:
    from .validate import arg_int
    p.add_argument("--checkpoint", required=True, help="training checkpoint (e.g. runs/x/last.pt)")
    p.add_argument("--out", required=True, help="destination file (refuses to overwrite unless --force)")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights (default: fp16, half the size)")
    p.add_argument("--data", default=None,
                   help="HDF5 file the model was trained on: re-estimate the BatchNorm running statistics "
                        "on it before exporting (checkpoints from before train.bn_recalibrate_batches need this)")
    p.add_argument("--bn-batches", type=arg_int(1, 100_000), default=None,
                   help="training batches for --data (default 32; at most one pass over its windows)")
    p.add_argument("--threads", type=arg_int(1, 1024), default=None, help="torch CPU threads")
    p.add_argument("--force", action="store_true")


def run_export(a: argparse.Namespace) -> int:
    from . import checkpoint, validate
    from .runs import CHECKPOINT
    if a.bn_batches is not None and not a.data:  # was: ignored without a word
        raise ValueError(f"--bn-batches {a.bn_batches} needs --data (the training file to re-estimate the BatchNorm "
                         f"statistics on); add --data or drop --bn-batches")
    validate.check_out_file(a.out, force=a.force, inputs={"--checkpoint": a.checkpoint, "--data": a.data},
                            writes=CHECKPOINT)
    from .runs import CHECKPOINT, check_out_suffix
    check_out_suffix(a.out, "--out", CHECKPOINT)  # x.h5 / x.json: a checkpoint under another kind's name
    model, cfg, meta = checkpoint.load(a.checkpoint)
    if a.data:
        validate.check_dataset(a.data, env=cfg.env, image_size=cfg.model.image_size,
                               action_dim=cfg.model.action_dim, who=f"checkpoint {a.checkpoint}")
    metrics = dict(meta["metrics"] or {})
    if a.data:
        from .devices import set_threads
        from .train import recalibrate_from_data
        set_threads(a.threads)
        frames = recalibrate_from_data(model, cfg, a.data, batches=a.bn_batches or 32)
        metrics["bn_recalibration_frames"] = frames
        print(f"BatchNorm statistics re-estimated on {frames} frames of {a.data}")
    # without --force, an --out another export wrote meanwhile is refused, not overwritten
    checkpoint.save(a.out, model, cfg, meta["step"], metrics, half=not a.fp32, replace=a.force)
    from ._late_signals import output_complete
    output_complete()  # written: a signal from here on no longer says "partial outputs were removed"
    print(f"exported step {meta['step']} -> {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")
    return 0


class UsageError(ValueError):
    """A command line that argparse refused (one line, without the usage block; a ValueError, so that
    :func:`run_script` reports a script's refused command line like any other bad input)."""


class _StoreOnce(argparse._StoreAction):
    """argparse's ``store``, except that an option taking one value given twice is refused
    (``--out a.h5 --out b.h5``: argparse kept the last and dropped the first without a word).
    Append-style options (``--set``, ``action="append"``) and flags are not concerned."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string is not None:
            given = namespace.__dict__.setdefault(_GIVEN, {})
            if id(self) in given:
                shown = lambda v: " ".join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
                parser.error(f"{option_string} given twice ({given[id(self)][0]} {shown(given[id(self)][1])}, then "
                             f"{option_string} {shown(values)}): it takes one value; give it once")
            given[id(self)] = (option_string, values)
        super().__call__(parser, namespace, values, option_string)


_GIVEN = "_lewm_options_given"  # the namespace's record of the single-valued options seen (removed after parsing)


class Parser(argparse.ArgumentParser):
    """argparse, except that a refused command line raises :class:`UsageError` (one line) instead
    of printing the usage block and exiting: ``main`` reports it like any other input error; and a
    single-valued option given twice is refused (:class:`_StoreOnce`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)  # the default action (argument groups share the registry)
        self.register("action", "store", _StoreOnce)

    def parse_known_args(self, args=None, namespace=None):
        try:
            namespace, extras = super().parse_known_args(args, namespace)
        except UsageError as e:  # argparse names missing required arguments before unknown options
            if getattr(e, "lewm_checked", False) or "arguments are required" not in str(e):
                raise
            e.lewm_checked = True  # the parser it came from looked: its parents do not
            unknown = _unknown_options(self, sys.argv[1:] if args is None else list(args))
            if unknown:
                new = UsageError(f"unrecognized arguments: {' '.join(unknown)} (see: {self.prog} --help)")
                new.lewm_checked = True
                raise new from None
            raise
        namespace.__dict__.pop(_GIVEN, None)  # a sub-command's parser drops it before its values are copied up
        return namespace, extras

    def error(self, message: str):
        # "argument --episodes: must be >= 1, got 0" -> "--episodes must be >= 1, got 0"
        if message.startswith("argument "):
            flag, _, rest = message[len("argument "):].partition(": ")
            message = f"{flag.split('/')[-1]} {rest}" if rest else message
            if rest == "expected one argument":  # '--data -x.h5': argparse takes the name for an option
                f = flag.split('/')[-1]
                message += f" (a value that begins with '-', such as a file -x.h5, goes as {f}=-x.h5 or {f} ./-x.h5)"
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _unknown_options(parser: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """The options among ``args`` that ``parser`` does not know (whole names, ``--x=v`` or an unambiguous prefix
    are known); negative numbers and what follows ``--`` are values."""
    import re
    known, out = parser._option_string_actions, []
    for arg in args:
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or re.fullmatch(r"-\d+|-\d*\.\d+([eE][-+]?\d+)?", arg):
            continue
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
        if name in known or (parser.allow_abbrev and arg.startswith("--")
                             and any(k.startswith(name) for k in known if k.startswith("--"))):
            continue
        out.append(arg)
    return out


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: ``warning: <message>`` on one line (was: Python's format, the source
    file, line number and the source line of the ``warnings.warn`` call)."""
    text = " ".join(ln.strip() for ln in str(message).splitlines() if ln.strip())
    return f"warning: {text or category.__name__}\n"


def _use_ctrl_c_handler() -> None:
    """Put Python's own Ctrl-C handler back in place of ``python -m lewm``'s start-up one (one line while torch
    is imported), so that the command's Ctrl-C unwinds it (its temporary files removed)."""
    import signal
    import threading
    if threading.current_thread() is threading.main_thread() and \
            getattr(signal.getsignal(signal.SIGINT), "lewm_startup", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m lewm`` (warnings as one line ``warning: ...``, see :func:`_main`)."""
    import warnings
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return _main(argv)
    finally:
        warnings.formatwarning = previous
        from ._std_streams import after
        after()  # a pipe closed by its reader (| head): printing stopped, the command went on (round 27)


def _main(argv: list[str] | None = None) -> int:
    """``python -m lewm``. An expected failure (bad input, unusable file, divergence, disk full)
    is one line ``error: ...`` on stderr and exit code 2; an unexpected one is a traceback (a bug)."""
    tolerant_output()
    parser = Parser(prog="python -m lewm", description="LeWM Lab: LeWorldModel in a box.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = {}
    for name, (mod, add, run, help_) in COMMANDS.items():
        if importlib.util.find_spec(mod) is None:
            continue  # a command whose module is not installed is simply not listed
        m = importlib.import_module(mod)
        sp = sub.add_parser(name, help=help_, description=help_)
        getattr(m, add)(sp)
        handlers[name] = getattr(m, run)
    from . import faults
    from .checkpoint import CheckpointError
    from .data import DataError
    from .train import TrainingDiverged
    # bad input, unusable files, divergence, a taken folder, the machine's limits (OSError: disk
    # full, no permission): one line. Anything else is a bug and keeps its traceback.
    expected = (CheckpointError, DataError, TrainingDiverged, faults.RunLocked, ValueError, OSError)
    try:
        a = parser.parse_args(argv)
    except UsageError as e:
        return faults.report_error(e)
    if not a.command:  # was: the help and exit 0, so a script's empty $CMD passed for success
        parser.print_help(sys.stderr)
        print("error: no COMMAND given: write one of the commands above, e.g. `python -m lewm collect --help`",
              file=sys.stderr)
        return 2
    _use_ctrl_c_handler()
    from . import _out_locks
    for dest, flag in OUT_FLAGS.get(a.command, ()):  # a file a running training writes (round 24, Q6)
        try:
            _out_locks.check_not_training_output(getattr(a, dest, None), flag)
        except ValueError as e:
            return faults.report_error(e)
    from . import _late_signals
    late = _late_signals.late_signals()  # after the command: a signal says the output is complete (Q12)
    if a.command in ("train", "bench"):  # large activations without page faults at every step (lewm/allocator.py)
        from .allocator import keep_freed_memory
        keep_freed_memory()
    rc = None
    try:
        with faults.terminate_as_exception():  # SIGTERM unwinds like Ctrl-C: temp files, workers, locks cleaned
            rc = int(handlers[a.command](a) or 0)
            _late_signals.output_complete(swallowed=faults.TERMINATE.is_set())  # one swallowed inside a __del__
        return _late_signals.after_the_end(rc)
    except expected as e:
        return faults.report_error(e)
    except (MemoryError, RuntimeError) as e:  # out of memory: the machine's limit; any other one is a bug
        if not faults.is_out_of_memory(e):
            raise
        print(f"error: out of memory: the machine (or GPU) could not allocate the tensors this command needs; "
              f"lower {_memory_flags(a)} (nothing was written)", file=sys.stderr)
        return 2
    except Warning as e:  # PYTHONWARNINGS=error / -W error: a warning raised as an exception (was a traceback)
        print(f"error: {faults.one_line(e)} (a warning, made an error by PYTHONWARNINGS=error or -W error)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if rc is not None or _late_signals.DONE[0]:
            return _late_signals.after_the_end(rc or 0, 2)
        faults.say("interrupted")
        return 130
    except faults.Terminated as e:
        if rc is not None or _late_signals.DONE[0]:  # the command had finished: its output is complete
            return _late_signals.after_the_end(rc or 0, e.signum)
        if e.said:  # the trainer said what it saved
            return e.exit_code
        why = ": the terminal closed" if e.name == "SIGHUP" else ""
        after = TERMINATED_AFTER.get(a.command, "partial outputs were removed; run the same command again")
        faults.say(f"error: terminated ({e.name}{why}); {after}")
        return e.exit_code  # 143 (SIGTERM), 129 (SIGHUP)
    finally:
        late.restore()  # an in-process caller gets its handlers back (python -m lewm keeps recording)


OUT_FLAGS = {"export": (("out", "--out"),), "eval": (("out", "--out"),), "collect": (("out", "--out"),),
             "bench": (("json", "--json"),)}  # command -> its output files: (argparse destination, flag)

TERMINATED_AFTER = {  # command -> what a SIGTERM / SIGHUP left (was: "a training run resumes" after a collect)
    "train": "partial outputs were removed; the same command resumes from the last checkpoint",
    "collect": "nothing was written (its temporary file was removed); run it again"}


OOM_FLAGS = {  # command -> what to lower when it runs out of memory (its own flags)
    "train": "--batch-size, or the model (--preset, --latent-dim) or image size",
    "eval": "--samples (or --horizon)", "bench train": "--batch (or --presets: a smaller model)",
    "bench plan": "--samples (or --horizon)", "report": "--max-frames (or --episodes)",
    "collect": "--workers or --image-size", "export": "--bn-batches"}


def _memory_flags(a: argparse.Namespace) -> str:
    """The flags of the command ``a`` that lower its memory (was: "--batch-size" for bench train, whose flag is --batch)."""
    name = f"{a.command} {getattr(a, 'bench_what', '')}".strip()
    return OOM_FLAGS.get(name, OOM_FLAGS.get(a.command, "the batch, sample count, model or image size"))


def tolerant_output() -> None:
    """stdout and stderr never fail on a character their encoding lacks (``PYTHONIOENCODING=ascii``, an
    ASCII terminal, ``LC_ALL=C`` with ``PYTHONUTF8=0``): it is written as ``?``, an undecodable file name's bytes as
    they were (was: ``error: 'ascii' codec can't encode character`` before any work, or after a finished report,
    which then exited 2). Streams with another error handler (backslashreplace) are left as they are."""
    from ._std_streams import ESCAPE_OR_REPLACE, install
    install()  # a broken pipe on stdout (| head) ends the printing, not the command (lewm/_std_streams.py)
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) in ("strict", "surrogateescape"):  # LC_ALL=C, PYTHONUTF8=0
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors=ESCAPE_OR_REPLACE)


def run_script(fn) -> int:
    """The bar of ``python -m lewm`` for a script in ``scripts/``: ``sys.exit(run_script(main))`` makes an
    expected failure of ``main()`` (a missing or foreign file, a bad argument) one line ``error: ...`` and exit
    code 2, where it was a traceback; anything else keeps its traceback (a bug)."""
    from . import faults
    from .checkpoint import CheckpointError
    from .data import DataError
    tolerant_output()
    try:
        return int(fn() or 0)
    except (CheckpointError, DataError, ValueError, OSError) as e:
        return faults.report_error(e)
