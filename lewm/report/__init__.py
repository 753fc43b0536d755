"""``python -m lewm report``: every diagnostic of :mod:`lewm.diagnostics` on one checkpoint.

Writes into ``--out``:

- ``report.json``  the numbers (effective rank, SIGReg, probe table, open-loop errors,
  straightness, surprise spikes and p-values, decoder loss, goal-cost landscape, how a grid of
  true states is warped in latent space (``grid_warp``), timings);
- ``report.html``  every figure, built by :mod:`lewm.figures` (the same functions the app draws
  with), in one self-contained interactive page (plotly.js embedded, works offline).

Modules, read in this order:

- :mod:`.data_source`  which episodes: ``--data``, the checkpoint's ``reference.h5``, or
  held-out episodes collected now;
- :mod:`.build`        :func:`make_report`, the library entry (the app can run it in a job):
  the sections one after the other, numbers into the JSON and figures into the page;
- :mod:`.summary`      :func:`summary_text` (terminal lines) and the JSON cleaning;
- :mod:`.html`         the page;
- :mod:`.cli`          :func:`add_report_args` / :func:`run_report`, which ``lewm.cli`` dispatches to.
"""
from .build import MIN_FRAMES, make_report, pick_episodes
from .cli import add_report_args, run_report
from .summary import summary_text

__all__ = ["MIN_FRAMES", "add_report_args", "make_report", "pick_episodes", "run_report", "summary_text"]
