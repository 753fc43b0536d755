"""``report.html``: one self-contained page (plotly.js embedded once, no network) with the summary
lines and every figure of the report, in the order the sections ran. ``plotly_js`` (a path relative
to the page, or a URL) loads plotly.js from there instead: the shipped reports share one copy
(``checkpoints/plotly.min.js``) rather than carrying 4.8 MB each."""
from __future__ import annotations

import html
from typing import Any

from .summary import check_keys, clean, summary_text

Section = tuple[str, str, Any]
"""(heading, a sentence under it or "", a plotly Figure)."""

_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 12px}"
          "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}")


def _check_sections(sections) -> None:
    """``sections`` is a list of (heading, sentence, plotly Figure), checked before the page is built (was: an
    AttributeError 'NoneType' object has no attribute 'to_html', a ValueError unpacking a pair)."""
    from plotly.basedatatypes import BaseFigure
    where = "render_html(sections=...)"
    if isinstance(sections, (str, bytes, dict)) or not isinstance(sections, (list, tuple)):
        raise TypeError(f"{where} must be a list of (heading, sentence, plotly Figure), got {type(sections).__name__}")
    for i, sec in enumerate(sections):
        if not isinstance(sec, (list, tuple)) or len(sec) != 3:
            raise TypeError(f"{where}: section {i} must be a (heading, sentence, plotly Figure) triple, got {sec!r:.60}")
        title, text, fig = sec
        if not isinstance(title, str) or not (text is None or isinstance(text, str)):
            raise TypeError(f"{where}: section {i}'s heading and sentence must be strings, got "
                            f"{type(title).__name__} and {type(text).__name__}")
        if not isinstance(fig, BaseFigure):
            raise TypeError(f"{where}: section {i}'s figure must be a plotly Figure, got {type(fig).__name__}")


def render_html(rep: dict, sections: list[Section], plotly_js: str | None = None) -> str:
    """The page for the report ``rep`` (the ``report.json`` content) and its figures; plotly.js
    embedded, or loaded from ``plotly_js``."""
    from plotly.offline import get_plotlyjs
    check_keys(rep, ("checkpoint", "data", "collapse", "sigreg"), "render_html")
    _check_sections(sections)
    ck, data = rep["checkpoint"], rep["data"]
    script = (f"<script type='text/javascript'>{get_plotlyjs()}</script>" if plotly_js is None else
              f"<script type='text/javascript' src='{html.escape(plotly_js, quote=True)}'></script>")
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>LeWM report</title>",
             f"<style>{_STYLE}</style>",
             f"{script}</head><body>",
             "<h1>LeWM diagnostics</h1>",
             f"<p>{html.escape(str(ck['path']))} (step {ck['step']}, preset {html.escape(str(ck['preset']))}) "
             f"on {html.escape(str(data['path']))}</p>",
             f"<pre>{html.escape(summary_text(clean(rep)))}</pre>"]
    for title, text, fig in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>" + (f"<p>{html.escape(text)}</p>" if text else ""))
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(path: str, rep: dict, sections: list[Section], plotly_js: str | None = None, *,
               replace: bool = True) -> None:
    """Write :func:`render_html` to ``path`` as UTF-8 (through a temporary file published with
    :func:`lewm.faults.write_atomic`: a reader never sees half a page). ``replace=False``: a ``path``
    another command created meanwhile is kept (this page goes to ``report-kept-PID.html``, FileExistsError)."""
    from ..faults import write_atomic
    write_atomic(path, render_html(rep, sections, plotly_js), replace=replace, flag="--out")
