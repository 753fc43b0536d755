"""lewm.diagnostics.collapse.collapse_verdict and lewm.diagnostics.examples.demo_latents: the verdict
on constructed numbers, and the example clouds through the meters and the SIGReg view."""
import pytest

from lewm.diagnostics import collapse_meters, collapse_verdict, demo_latents, sigreg_view


def test_collapse_verdict():
    assert collapse_verdict(0.01, 5.0, 16) == (True, "collapsed to a point: latent std 0.010 (target 1)")
    assert collapse_verdict(0.8, 1.2, 16) == (True, "collapsed to a line: effective rank 1.20 of 16")
    assert collapse_verdict(0.9, 10.0, 16) == (False, "spread out: std 0.90, effective rank 10.0 of 16")
    assert collapse_verdict(float("nan"), 10.0, 16) == (False, "no data yet")


@pytest.mark.parametrize("kind", ["gaussian", "collapsed", "line", "scaled"])
def test_demo_latents_tell_the_sigreg_story(kind):
    z = demo_latents(kind, n=512, dim=8)
    v = sigreg_view(z, num_dirs=4, seed=0)
    if kind == "gaussian":
        assert v.value < 2
    else:
        assert v.value > 5


def test_demo_latents_through_the_verdict():
    verdict = {k: collapse_verdict(m.mean_std, m.effective_rank, 16)[0]
               for k in ("gaussian", "collapsed", "line")
               for m in [collapse_meters(demo_latents(k, n=1024, dim=16))]}
    assert verdict == {"gaussian": False, "collapsed": True, "line": True}
    with pytest.raises(ValueError, match="unknown demo latents"):
        demo_latents("spiral")
