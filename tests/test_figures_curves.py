"""lewm.figures.curves: the loss and series figures carry the series."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_curves_carry_the_series():
    hist = {"step": np.arange(5), "loss": RNG.random(5), "pred_loss": RNG.random(5), "sigreg": np.zeros(0)}
    f = fg.fig_losses(hist, lam=0.1)
    assert [t.name for t in f.data] == ["total loss", "prediction MSE"]  # an empty series is left out
    assert np.array_equal(_trace(f, "total loss").y, hist["loss"]) and np.array_equal(f.data[0].x, hist["step"])
    assert f.layout.title.text == "Losses (λ = 0.1)" and f.layout.yaxis.type == "log"
    y = RNG.random(4)
    f = fg.fig_series([("rank", np.arange(4), y, "#123456")], "Rank", "r", ref=2.0, ref_name="max")
    assert np.array_equal(_trace(f, "rank").y, y) and f.layout.yaxis.title.text == "r"
    assert f.layout.shapes[0].y0 == 2.0 and f.layout.xaxis.title.text == "step"
