"""lewm.figures.projections: SIGReg histograms and the spectrum carry the data."""
import numpy as np
import plotly.graph_objects as go

from lewm import figures as fg
from lewm import diagnostics as dg
from _figures import RNG


def test_projections_carry_histograms_and_spectrum():
    view = dg.sigreg_view(RNG.normal(size=(2, 64, 3)), num_dirs=8, seed=0)  # (T, B, D)
    f = fg.fig_sigreg_hist(view, title="t", max_dirs=4)
    bars = [t for t in f.data if isinstance(t, go.Bar)]
    assert len(bars) == 4
    for k, b in enumerate(bars):
        assert np.allclose(b.y, view.histograms[k])
    assert np.allclose(f.data[1].y, view.reference_pdf) and f.data[1].name == "N(0,1)"
    assert f"SIGReg {view.value:.2f}" in f.layout.title.text
    assert f.layout.annotations[0].text == f"u1: EP = {view.statistic[0]:.2f}"
    d = {"histograms": view.histograms, "statistic": view.statistic, "bin_edges": view.bin_edges, "grid": view.grid,
         "reference_pdf": view.reference_pdf, "sigreg": view.value, "step": 7}
    assert "step 7" in fg.fig_sigreg_hist(d).layout.title.text  # the trainer's dict view
    assert "waiting" in fg.fig_sigreg_hist(None).layout.title.text
    ev = np.array([2.0, 0.5, 0.0])
    f = fg.fig_spectrum([("run", ev, "#000")], "spec")
    assert np.array_equal(f.data[0].x, [1, 2, 3]) and np.allclose(f.data[0].y, [2.0, 0.5, 1e-12])
    assert f.layout.yaxis.type == "log" and f.layout.title.text == "spec"
