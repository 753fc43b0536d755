"""lewm.figures.imagination: the start-frame scrubber restyles exactly the records it was given."""
import numpy as np
import pytest

from lewm.figures import ImaginedStart, fig_imagination_scrubber, imagined_starts
from lewm.figures.imagination import GAP, shown_steps, strip


def _record(start: int, P: int, rng) -> ImaginedStart:
    shown = shown_steps(P, 3)
    return ImaginedStart(start=start, frames=start + 2 + 2 * np.arange(P), actual_xy=rng.normal(size=(P, 2)),
                         imagined_xy=rng.normal(size=(P, 2)), error=rng.random(P), copy_error=rng.random(P) + 1,
                         real=[np.full((8, 8, 3), 10 * i, np.uint8) for i in shown],
                         nearest=[np.full((8, 8, 3), 200, np.uint8) for _ in shown], shown=shown)


def test_shown_steps_and_strip():
    assert shown_steps(10, 6).tolist() == [0, 2, 4, 5, 7, 9]
    assert shown_steps(2, 6).tolist() == [0, 1]
    s = strip([np.zeros((4, 4, 3), np.uint8)] * 2, slots=3, size=4)
    assert s.shape == (4, 3 * 4 + 2 * GAP, 3)
    assert (s[:, :4] == 0).all() and (s[:, 4:4 + GAP] == 255).all() and (s[:, 2 * (4 + GAP):] == 255).all()


def test_each_slider_stop_restyles_its_own_record():
    rng = np.random.default_rng(0)
    recs = [_record(0, 4, rng), _record(2, 3, rng), _record(4, 1, rng)]  # fewer steps near the end
    fig = fig_imagination_scrubber(rng.normal(size=(50, 2)), recs, slots=3, active=1)
    (sl,) = fig.layout.sliders
    assert [s.label for s in sl.steps] == ["0", "2", "4"] and sl.active == 1
    assert fig.layout.title.text == "Start frame 2/4"
    names = [fig.data[i].name for i in sl.steps[0].args[2]]
    for rec, st in zip(recs, sl.steps):
        restyle, relayout, idx = st.args
        by_name = {names[j]: {a: v[j] for a, v in restyle.items()} for j in range(len(idx))}
        np.testing.assert_allclose(by_name["actual (encoded)"]["x"], rec.actual_xy[:, 0])
        np.testing.assert_allclose(by_name["imagined (open loop)"]["y"], rec.imagined_xy[:, 1])
        np.testing.assert_allclose(by_name["imagined vs actual"]["y"], rec.error)
        assert by_name["imagined vs actual"]["x"] == list(range(1, len(rec.frames) + 1))
        assert relayout["title.text"] == f"Start frame {rec.start}/4"
        assert relayout["xaxis3.ticktext"][:len(rec.shown)] == [f"t = {rec.frames[i]}" for i in rec.shown]
    # the error axis holds every stop's curves
    assert fig.layout.yaxis2.range[1] >= max(float(r.copy_error.max()) for r in recs)
    with pytest.raises(ValueError, match="at least one"):
        fig_imagination_scrubber(np.zeros((3, 2)), [])


class _Map:
    method = "pca"

    def transform(self, z):
        return np.asarray(z)[:, :2] * 2.0


class _Near:
    def __init__(self, frames):
        self.frames = frames

    def query(self, z, k=1):
        class R:
            pass
        r = R()
        r.frames = np.stack([self.frames[int(round(v))] for v in np.asarray(z)[:, 0]])[:, None]  # (M, 1, S, S, 3)
        return r


def test_imagined_starts_places_each_start_on_the_map_with_its_frames():
    from lewm.diagnostics import OpenLoopResult
    pix = np.arange(20, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)  # frame t is all t
    res = []
    for s, P in ((0, 3), (2, 2)):
        fr = s + 1 + np.arange(P)
        z = np.stack([fr, fr * 0 + s], 1).astype(float)  # (P, 2): the "latent" names the frame
        res.append(OpenLoopResult(context_frames=np.array([s]), frames=fr, actual=z, predicted=z + 0.1,
                                  error=np.zeros(P), copy_error=np.ones(P), cosine=np.ones(P)))
    out = imagined_starts(res, _Map(), _Near(pix), pix, slots=6)
    assert [r.start for r in out] == [0, 2]
    np.testing.assert_allclose(out[0].actual_xy, res[0].actual * 2.0)
    np.testing.assert_allclose(out[1].imagined_xy, res[1].predicted * 2.0)
    assert [int(f[0, 0, 0]) for f in out[1].real] == [3, 4]  # the real frames at the imagined steps
    assert [int(f[0, 0, 0]) for f in out[1].nearest] == [3, 4]  # nearest to latent "3.1", "4.1"
