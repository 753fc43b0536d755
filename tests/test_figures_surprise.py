"""lewm.figures.surprise: surprise traces and spike ratios."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_surprise_carries_traces_and_ratios():
    fr, err = np.arange(5), RNG.random(5)
    f = fg.fig_surprise_traces([("clean", fr, err, "#1f77b4"), ("teleport", fr, 2 * err, None)], at=2)
    assert np.array_equal(_trace(f, "teleport").y, 2 * err) and f.layout.shapes[0].x0 == 2
    assert f.layout.yaxis.type == "log"
    r = RNG.random(8) + 1
    f = fg.fig_surprise_spikes({"teleport": r}, {"teleport": 0.0039})
    assert np.array_equal(f.data[0].y, r) and f.data[0].name == "teleport (p=0.0039)"


def test_surprise_scrubber_restyles_each_perturbation_frame():
    from types import SimpleNamespace as NS

    from lewm.diagnostics import SurpriseTrace
    fr = np.arange(0, 30, 3)
    clean = np.r_[np.nan, RNG.random(9) + 0.1]
    px = RNG.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    stops = []
    for t, k in ((9, 2.0), (15, 5.0), (21, 9.0)):
        tele, col = clean.copy(), clean.copy()
        tele[fr == t] *= k
        col[fr == t] *= 2 * k
        stops.append(NS(t=t, teleport=SurpriseTrace(fr, tele), colour=SurpriseTrace(fr, col),
                        teleport_frame=px[0], colour_frame=px[1]))
    f = fg.fig_surprise_scrubber(fr, clean, px, stops, frameskip=3, colour_mode="gray")
    assert f.layout.title.text == "Perturbation at frame 15/21: teleport ×5.0, colour (gray) ×10.0 vs clean"
    steps = f.layout.sliders[0].steps
    assert [s.label for s in steps] == ["9", "15", "21"] and f.layout.sliders[0].active == 1
    assert steps[2].args[1]["title.text"] == "Perturbation at frame 21/21: teleport ×9.0, colour (gray) ×18.0 vs clean"
    restyle, idx = steps[0].args[0], steps[0].args[2]
    moved = {f.data[i].name: {a: v[j] for a, v in restyle.items() if v[j] is not None} for j, i in enumerate(idx)}
    assert np.allclose(moved["teleport"]["y"], stops[0].teleport.error, equal_nan=True)
    for name in ("teleport", "colour (gray)", "perturbation"):  # a restyle unsets what it leaves None
        assert {"x", "y"} <= set(moved[name]), name
    assert moved["teleport"]["x"] == fr.tolist()
    assert moved["perturbation"]["x"] == [9, 9] and "clean" not in moved  # the clean trace stays
    assert len({s.args[0]["source"][idx.index(4)] for s in steps}) == 3  # one frame strip per stop
    assert f.layout.yaxis.type == "log"
