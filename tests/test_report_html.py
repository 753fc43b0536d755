"""lewm.report.html: report.html is one self-contained page."""
import os

import numpy as np

from _report import assert_self_contained


def test_report_html_is_one_self_contained_page(tmp_path):
    import plotly.graph_objects as go

    from lewm.report.html import write_html
    rep = {"checkpoint": {"path": "m<1>.pt", "step": 1, "preset": "cpu-tiny"}, "data": {"path": "d.h5"},
           "collapse": {"effective_rank": 1.5, "latent_dim": 2, "top1_fraction": 0.5, "mean_cosine": 0.0,
                        "mean_std": np.float32(1.0)}, "sigreg": {"value": float("nan")}}
    figs = [("First", "a sentence", go.Figure(go.Scatter(x=[1, 2], y=[3.25, 4.5]))),
            ("Second", "", go.Figure(go.Bar(x=["a"], y=[7.75])))]
    write_html(str(tmp_path / "r.html"), rep, figs)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert html.count("Plotly.newPlot") == 2 and "<h2>First</h2><p>a sentence</p>" in html and "<h2>Second</h2>" in html
    assert "3.25" in html and "7.75" in html  # the figures' data
    assert "m&lt;1&gt;.pt" in html and "SIGReg n/a" in html  # escaped path, NaN as n/a
    assert not [p for p in os.listdir(tmp_path) if p != "r.html"]  # no temporary file left
