"""scripts/doc_figures.py: the docs' PNGs come from the lab's Plotly figures through kaleido and the
system Chromium (issue 21 point 2). Skipped where either is missing."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.skipif(importlib.util.find_spec("kaleido") is None, reason="kaleido not installed"),
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Chromium")]


def _script():
    spec = importlib.util.spec_from_file_location("doc_figures", ROOT / "scripts" / "doc_figures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_lab_figure_becomes_a_png_of_the_asked_size(tmp_path):
    """A landscape figure (lewm.figures, as the report draws it) written as PNG: the asked size, and
    the heatmap's colours are in the picture (not a blank page)."""
    from PIL import Image

    from lewm import figures as fg
    from lewm.diagnostics.landscape import GoalLandscape
    _script().chromium()
    xs = ys = np.linspace(0.0, 100.0, 6)
    X, Y = np.meshgrid(xs, ys)
    cost = np.hypot(X - 50, Y - 50)  # (6, 6)
    L = GoalLandscape(xs=xs, ys=ys, cost=cost, true_dist=cost, goal=np.array([50.0, 50.0]), dims=(0, 1),
                      spearman=1.0, greedy_accuracy=1.0)
    out = tmp_path / "landscape.png"
    fg.fig_landscape(L).write_image(str(out), width=400, height=260, scale=1)
    img = np.asarray(Image.open(out).convert("RGB"))  # (H, W, 3)
    assert img.shape == (260, 400, 3)
    # viridis' dark end (#440154) and bright end (#fde725) both appear
    for rgb in ((0x44, 0x01, 0x54), (0xFD, 0xE7, 0x25)):
        assert (np.abs(img.astype(int) - rgb).sum(-1) < 40).any(), rgb
