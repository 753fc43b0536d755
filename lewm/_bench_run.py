"""What ``python -m lewm bench`` runs around the measurements of :mod:`lewm.bench`: the models of
``bench plan`` (every ``--checkpoint`` loaded, so checked, before any is timed) and the rows measured
before a Ctrl-C / SIGTERM / SIGHUP (kept: printed and written to ``--json``, marked ``"interrupted": true``)."""
from __future__ import annotations

import argparse
import contextlib

import torch


def plan_models(a: argparse.Namespace, dev: torch.device):
    """``(model, cfg, source)`` for each ``--checkpoint`` (loaded) or ``--preset`` (seed-0 random init)."""
    from .checkpoint import load
    if a.checkpoint:  # all loaded (checked) first: a bad last one threw the earlier ones' timings away
        loaded = [load(src, "cpu")[:2] for src in a.checkpoint]
        return [(model.to(dev), cfg, src) for (model, cfg), src in zip(loaded, a.checkpoint)]
    return _random_models(a.preset, dev)


def _random_models(presets: list[str], dev: torch.device):
    """A seed-0 random initialisation of each preset's model on ``dev``, made when it is benchmarked."""
    from .config import get_preset
    from .model import LeWM
    for name in presets:
        cfg = get_preset(name)
        torch.manual_seed(0)
        yield LeWM(cfg.model).to(dev), cfg, name


class _Stop:
    """What stopped a benchmark early (:func:`keep_rows`): nothing, Ctrl-C, or SIGTERM / SIGHUP."""

    def __init__(self):
        self.by = None

    @property
    def marks(self) -> dict:
        """The JSON's marks of a partial result (as ``eval``'s): ``"interrupted": true`` and the signal."""
        from .faults import Terminated
        if self.by is None:
            return {}
        return {"interrupted": True, **({"signal": self.by.name} if isinstance(self.by, Terminated) else {})}

    def exit_code(self, rows: int) -> int:
        from .faults import Terminated, say
        if self.by is None:
            return 0
        sig = self.by.name if isinstance(self.by, Terminated) else None
        say(f"{f'terminated ({sig})' if sig else 'interrupted'} after {rows} row(s): the table above (and --json) "
            f"holds those only (\"interrupted\": true)")
        return self.by.exit_code if sig else 130


@contextlib.contextmanager
def keep_rows(rows: list):
    """Ctrl-C, SIGTERM or SIGHUP once ``rows`` holds a measured row ends the measuring, not the command:
    the rows are printed and written (was: ``interrupted`` and no table, no --json). Before any row: raised."""
    from .faults import Terminated
    stop = _Stop()
    try:
        yield stop
    except (KeyboardInterrupt, Terminated) as e:
        if not rows:
            raise
        stop.by = e
