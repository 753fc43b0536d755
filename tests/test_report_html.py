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


def test_report_html_can_load_plotly_from_a_shared_file(tmp_path):
    import plotly.graph_objects as go

    from lewm.report.html import write_html
    rep = {"checkpoint": {"path": "m.pt", "step": 1, "preset": "cpu-tiny"}, "data": {"path": "d.h5"},
           "collapse": {"effective_rank": 1.5, "latent_dim": 2, "top1_fraction": 0.5, "mean_cosine": 0.0,
                        "mean_std": 1.0}, "sigreg": {"value": 0.5}}
    write_html(str(tmp_path / "r.html"), rep, [("One", "", go.Figure(go.Scatter(x=[1], y=[2.5])))],
               plotly_js="../../plotly.min.js")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script type='text/javascript' src='../../plotly.min.js'></script>" in html
    assert len(html) < 100_000 and html.count("Plotly.newPlot") == 1  # the figure, not the library


ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_shipped_reports_are_html_and_json_drawn_by_the_figure_code():
    """Every shipped report folder holds report.json and a report.html that loads the one shared
    plotly.js (checkpoints/plotly.min.js, copied from the plotly package); no hand-drawn PNG is left."""
    import glob

    folders = sorted(glob.glob(os.path.join(ROOT, "checkpoints", "*", "report*")))
    assert len(folders) >= 3
    for d in folders:
        assert sorted(os.listdir(d)) == ["report.html", "report.json"], d
        html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
        assert "src='../../plotly.min.js'" in html and "Plotly.newPlot" in html, d
    shared = os.path.join(ROOT, "checkpoints", "plotly.min.js")
    assert os.path.getsize(shared) > 1_000_000 and b"plotly.js" in open(shared, "rb").read(300)
