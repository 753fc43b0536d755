"""Round 18 (F3): the argument checks of lewm.diagnostics.probes / grid_warp / landscape: one named error
at the entry instead of sklearn's, numpy's (MemoryError, AxisError, "len() of unsized object") or the shared
state grid's IndexError, and no silent result (a name split letter by letter, a grid of one point)."""
import numpy as np
import pytest
import torch

from lewm import diagnostics as dg
from lewm.envs import make

from _known_worlds import _DotCentroid

torch.set_num_threads(1)
Z = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
Y = Z[:, :2] * 3 + 0.1 * np.random.default_rng(1).standard_normal((50, 2))
G = np.repeat(np.arange(10), 5)


@pytest.fixture(scope="module")
def env():
    return make("two_room", image_size=32)


@pytest.fixture(scope="module")
def fitted():
    return dg.probe(Z, Y, groups=G)


@pytest.mark.parametrize("call, err, pattern", [
    # Q10: sklearn's InvalidParameterError
    (lambda: dg.probe(Z, Y, kind="mlp", max_iter=0), ValueError, r"^probe\(max_iter=\.\.\.\) must be >= 1, got 0"),
    (lambda: dg.probe(Z, Y, kind="mlp", max_iter=2.5), TypeError, r"^probe\(max_iter=\.\.\.\) must be a whole number"),
    (lambda: dg.probe(Z, Y, kind="mlp", mlp_hidden=(0,)), ValueError, r"^probe\(mlp_hidden\[0\]=\.\.\.\) must be >= 1"),
    (lambda: dg.probe(Z, Y, kind="mlp", mlp_hidden=64), TypeError, r"^probe\(mlp_hidden=\.\.\.\) must be a tuple"),
    (lambda: dg.probe(Z, Y, kind="mlp", mlp_hidden=(10**5, 10**5)), ValueError,
     r"^probe\(mlp_hidden=\.\.\.\) \(100000, 100000\) gives 10_001_200_002 weights .*GiB"),
    # Q12, Q21: "len() of unsized object", sklearn's "dim 3"
    (lambda: dg.probe(Z, None), TypeError, r"^probe\(state=\.\.\.\) must be \(N,\) or \(N, Q\) numbers, got None"),
    (lambda: dg.probe(Z, Y.reshape(50, 1, 2)), ValueError, r"^probe\(state=\.\.\.\) must be .*got shape \(50, 1, 2\)"),
    (lambda: dg.probe(Z, [["a", "b"]] * 50), ValueError, r"^probe\(state=\.\.\.\) must be"),
    # Q14: 'ab' was split into the names ('a', 'b')
    (lambda: dg.probe(Z, Y, state_names="ab"), TypeError, r"^probe\(state_names=\.\.\.\) must be a list of names.*one string"),
    (lambda: dg.probe(Z, Y, state_names=["x", 1]), TypeError, r"^probe\(state_names=\.\.\.\) must be strings, got 1"),
    # Q18: "type str doesn't define __round__", float(None)
    (lambda: dg.probe(Z, Y, test_fraction="0.2"), TypeError, r"^probe\(test_fraction=\.\.\.\) must be a number in \(0, 1\)"),
    (lambda: dg.probe(Z, Y, test_fraction=None), TypeError, r"^probe\(test_fraction=\.\.\.\) must be a number"),
    (lambda: dg.probe(Z, Y, test_fraction=float("nan")), ValueError, r"^probe\(test_fraction=\.\.\.\) must be in \(0, 1\)"),
    (lambda: dg.split_indices(10, test_fraction="0.2"), TypeError, r"^split_indices\(test_fraction=\.\.\.\) must be a number"),
    # Q25: numpy's "'<' not supported between instances of 'NoneType'"
    (lambda: dg.probe(Z, Y, groups=[None] * 50), ValueError, r"^probe\(groups=\.\.\.\) must be episode ids .*got None"),
    (lambda: dg.split_indices(4, groups=[1.0, np.nan, 2.0, 3.0]), ValueError, r"^split_indices\(groups=\.\.\.\) must be episode ids"),
    (lambda: dg.split_indices(4, groups=np.array([1, "a", 2, "b"], object)), ValueError, r"a mix of numbers and strings"),
    # Q31: "got multiple values for keyword argument 'seed'"
    (lambda: dg.probe_spread(Z, Y, splits=2, seed=3), TypeError, r"^probe_spread takes no seed: .*seeds 0, 1, 2"),
    # Q35, Q43: AxisError, int(None), a 7 TiB MemoryError
    (lambda: dg.split_indices(10.7), TypeError, r"^split_indices\(n=\.\.\.\) must be a whole number, got 10.7"),
    (lambda: dg.split_indices(None), TypeError, r"^split_indices\(n=\.\.\.\) must be a whole number, got None"),
    (lambda: dg.split_indices(10**12), ValueError, r"^split_indices\(n=\.\.\.\) must be <= 100_000_000 rows .*TiB"),
    # Q37: numpy's "expected non-negative integer" / "SeedSequence expects int"
    (lambda: dg.split_indices(10, seed=-1), ValueError, r"^split_indices\(seed=\.\.\.\) must be >= 0, got -1"),
    (lambda: dg.probe(Z, Y, seed=-1), ValueError, r"^probe\(seed=\.\.\.\) must be >= 0, got -1"),
    (lambda: dg.probe(Z, Y, seed=1.5), TypeError, r"^probe\(seed=\.\.\.\) must be a whole number, got 1.5"),
    (lambda: dg.probe(Z, Y, kind="mlp", seed=2**40), ValueError, r"^probe\(seed=\.\.\.\) must be in \[0, 4294967295\]"),
    # U14 same root: numpy's unnamed "could not convert string to float"
    (lambda: dg.pearson_r(["a", "b"], ["c", "d"]), ValueError, r"^pearson_r\(pred=\.\.\.\) must be .*numbers"),
    (lambda: dg.r2_score_cols(np.ones(3), None), TypeError, r"^r2_score_cols\(true=\.\.\.\) must be .*numbers, got None"),
    (lambda: dg.readout_angle(["a"], ["b"]), ValueError, r"^readout_angle\(w1=\.\.\.\) must be \(D,\) numbers"),
    # G4: "len() of unsized object"
    (lambda: dg.linear_readout(Z, None), TypeError, r"^linear_readout\(targets=\.\.\.\) must be \(N,\) or \(N, C\) numbers, got None"),
    (lambda: dg.linear_readout(Z, 5.0), ValueError, r"^linear_readout\(targets=\.\.\.\) must be .*got shape \(\)"),
    # W12: "object of type 'NoneType' has no len()", "'int' object has no attribute 'spearman'"
    (lambda: dg.landscape_summary(None), TypeError, r"^landscape_summary\(ls=\.\.\.\) must be a list of GoalLandscape"),
    (lambda: dg.landscape_summary([1, 2]), TypeError, r"^landscape_summary\(ls=\.\.\.\) must be a list of GoalLandscape, item 0 is a int"),
])
def test_probe_and_readout_arguments_are_one_named_error(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_probe_predict_checks_width_and_finiteness(fitted):
    """Q22, Q23: sklearn's "X has 4 features, but StandardScaler is expecting 8" / "Input X contains NaN"."""
    with pytest.raises(ValueError, match=r"^ProbeResult\.predict\(z=\.\.\.\): the latents have 4 dims, the probe was fitted on 8"):
        fitted.predict(Z[:, :4])
    with pytest.raises(ValueError, match=r"^ProbeResult\.predict\(z=\.\.\.\): the latents hold NaN/inf \(1 of 1 rows\)"):
        fitted.predict(np.full((1, 8), np.nan))
    assert fitted.predict(Z[:3]).shape == (3, 2) and fitted.predict(Z[:0]).shape == (0, 2)


def test_valid_numpy_and_torch_arguments_still_work():
    """No regression: numpy ints/floats, torch states, string / object episode ids, name arrays."""
    a = dg.probe(Z, Y, state_names=np.array(["x", "y"]), seed=np.int64(2), test_fraction=np.float32(0.3), groups=G)
    assert a.names == ("x", "y") and all(type(n) is str for n in a.names)
    b = dg.probe(Z, torch.tensor(Y), groups=[f"ep{i}" for i in G])
    c = dg.probe(Z, Y, groups=np.array([f"ep{i}" for i in G], object))
    np.testing.assert_array_equal(b.r2, c.r2)
    m = dg.probe(Z, Y, kind="mlp", mlp_hidden=[8], max_iter=np.int64(5))
    assert m.r2.shape == (2,)
    tr, te = dg.split_indices(np.int64(10), 0.2, np.int64(0), groups=np.repeat(np.arange(5), 2))
    assert len(tr) + len(te) == 10
    assert dg.probe_spread(Z, Y, splits=2, groups=G, test_fraction=0.3).pearson.shape == (2, 2)


@pytest.mark.parametrize("kw, err, pattern", [
    # G15: numpy linspace's "'float' object cannot be interpreted as an integer", None compared with 3
    (dict(n=3.5), TypeError, r"^state_grid_warp\(n=\.\.\.\) must be a whole number, got 3.5"),
    (dict(n=None), TypeError, r"^state_grid_warp\(n=\.\.\.\) must be a whole number, got None"),
    (dict(n=2), ValueError, r"^state_grid_warp\(n=\.\.\.\) must be >= 3, got 2"),
    # G22: a 74.5 GiB MemoryError
    (dict(n=10**5), ValueError, r"^state_grid_warp\(n=\.\.\.\) must be <= \d+ at 32x32 pixels: .*TiB"),
    # G19: the env's valid_states message
    (dict(n=3, base_state=[1, 2, 3]), ValueError,
     r"^state_grid_warp\(base_state=\.\.\.\) must have the env's 2 state components \(agent_x, agent_y\), got 3"),
    # G28: an IndexError in the shared grid
    (dict(n=3, lo=[10], hi=[50]), ValueError, r"^state_grid_warp\(lo=\.\.\.\) must give one value per grid dim \(2: agent_x, agent_y\), got shape \(1,\)"),
    (dict(n=3, hi=5.0), ValueError, r"^state_grid_warp\(hi=\.\.\.\) must give one value per grid dim"),
    (dict(n=3, lo=[10, np.inf]), ValueError, r"^state_grid_warp\(lo=\.\.\.\) must be finite"),
    (dict(n=3, lo=[100, 100], hi=[100, 150]), ValueError, r"^state_grid_warp\(lo=\.\.\., hi=\.\.\.\) must have lo < hi"),
    (dict(n=3, dims=None), None, None),
])
def test_state_grid_warp_arguments(env, kw, err, pattern):
    if err is None:
        assert dg.state_grid_warp(_DotCentroid(), env, **kw).latents.shape[:2] == (3, 3)
        return
    with pytest.raises(err, match=pattern):
        dg.state_grid_warp(_DotCentroid(), env, **kw)


def test_state_grid_warp_and_landscape_need_an_env():
    """G25: "'NoneType' object has no attribute 'reset'"."""
    with pytest.raises(TypeError, match=r"^state_grid_warp\(env=\.\.\.\) must be an environment \(lewm\.envs\.make\(\.\.\.\)\), got NoneType"):
        dg.state_grid_warp(_DotCentroid(), None, n=3)
    with pytest.raises(TypeError, match=r"^goal_cost_landscape\(env=\.\.\.\) must be an environment .*got str without"):
        dg.goal_cost_landscape(_DotCentroid(), "two_room", [100, 100], n=3)


@pytest.mark.parametrize("goal, kw, err, pattern", [
    # W5, W17: None read as one component, numpy's "could not convert string to float"
    (None, {}, TypeError, r"^goal_cost_landscape\(goal_state=\.\.\.\) must be the env's 2 state numbers, got None"),
    ("ab", {}, TypeError, r"^goal_cost_landscape\(goal_state=\.\.\.\) must be the env's 2 state numbers, got 'ab'"),
    ([["a", "b"]], {}, ValueError, r"^goal_cost_landscape\(goal_state=\.\.\.\) must be"),
    # W15: "list indices must be integers or slices, not tuple"
    ([100, 100], dict(cache=[]), TypeError, r"^goal_cost_landscape\(cache=\.\.\.\) must be a dict .*got list"),
    # W16: a 3x3 grid of one state, Spearman NaN with scipy's warning only
    ([100, 100], dict(lo=[50, 50], hi=[50, 50]), ValueError,
     r"^goal_cost_landscape\(lo=\.\.\., hi=\.\.\.\) must have lo < hi in each grid dim \(agent_x, agent_y\)"),
    # G22 same root
    ([100, 100], dict(n=10**5), ValueError, r"^goal_cost_landscape\(n=\.\.\.\) must be <= \d+ at 32x32 pixels"),
    ([100, 100], dict(n=3.5), ValueError, r"^goal_cost_landscape: n \(grid points per side.*must be a whole number >= 3, got 3.5"),
    ([100, 100], dict(base_state=[1, 2, 3]), ValueError, r"^goal_cost_landscape\(base_state=\.\.\.\) must have the env's 2"),
])
def test_goal_cost_landscape_arguments(env, goal, kw, err, pattern):
    kw = {"n": 3, **kw}
    with pytest.raises(err, match=pattern):
        dg.goal_cost_landscape(_DotCentroid(), env, goal, **kw)


def test_goal_cost_landscape_valid_inputs(env):
    cache = {}
    a = dg.goal_cost_landscape(_DotCentroid(), env, torch.tensor([100.0, 100.0]), n=np.int64(5), cache=cache,
                               lo=np.array([30, 30]), hi=(190, 190), base_state=[[100.0, 100.0]])
    assert a.cost.shape == (5, 5) and np.isfinite(a.spearman) and len(cache) == 1
    s = dg.landscape_summary(iter([a]))
    assert s["goals"] == 1 and s["spearman"] == pytest.approx(a.spearman)
