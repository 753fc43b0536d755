"""lewm.diagnostics.probes: linear and MLP probes, grouped splits, correlation helpers and the spread over splits."""
import numpy as np
import pytest

from lewm import diagnostics as dg


def test_linear_probe_recovers_linearly_embedded_state():
    g = np.random.default_rng(0)
    state = g.uniform(-1, 1, size=(600, 3))
    z = np.concatenate([state @ g.normal(size=(3, 8)), g.normal(size=(600, 4))], 1) + 0.01 * g.normal(size=(600, 12))
    groups = np.repeat(np.arange(30), 20)
    res = dg.probe(z, state, ["a", "b", "c"], kind="linear", groups=groups, seed=0)
    assert res.n_test == 120 and res.n_train == 480
    assert (res.pearson > 0.999).all() and (res.r2 > 0.998).all()
    assert [r["quantity"] for r in res.table()] == ["a", "b", "c"]
    noise = dg.probe(g.normal(size=(600, 12)), state, kind="linear", seed=0)
    assert (noise.r2 < 0.1).all() and (np.abs(noise.pearson) < 0.3).all()


def test_mlp_probe_beats_linear_on_a_nonlinear_code():
    g = np.random.default_rng(1)
    ang = g.uniform(-np.pi, np.pi, 800)
    z = np.stack([np.cos(ang), np.sin(ang)], 1) + 0.01 * g.normal(size=(800, 2))
    target = (np.cos(2 * ang))[:, None]  # = cos² - sin²: quadratic in z, a linear probe gets ~0
    lin = dg.probe(z, target, kind="linear", seed=0)
    mlp = dg.probe(z, target, kind="mlp", seed=0, mlp_hidden=(64, 64))
    assert lin.r2[0] < 0.05
    assert mlp.r2[0] > 0.9 and mlp.pearson[0] > 0.95


def test_group_split_keeps_groups_apart():
    groups = np.repeat(np.arange(10), 7)
    tr, te = dg.split_indices(70, 0.3, seed=4, groups=groups)
    assert set(groups[tr]).isdisjoint(groups[te]) and len(set(groups[te])) == 3
    assert len(tr) + len(te) == 70


def test_pearson_and_r2_helpers_match_numpy():
    g = np.random.default_rng(5)
    a, b = g.normal(size=(50, 3)), g.normal(size=(50, 3))
    np.testing.assert_allclose(dg.pearson_r(a, b), [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(3)])
    from sklearn.metrics import r2_score
    np.testing.assert_allclose(dg.r2_score_cols(a, b), r2_score(b, a, multioutput="raw_values"))


def test_probe_spread_matches_single_probes_and_brackets_them():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (600, 2))  # (N, Q)
    z = np.c_[s @ np.array([[1.0, 0.3], [-0.2, 0.8]]), np.tanh(3 * s[:, 0])] + 0.3 * rng.normal(size=(600, 3))
    groups = np.repeat(np.arange(60), 10)
    sp = dg.probe_spread(z, s, ["a", "b"], "linear", splits=4, groups=groups)
    assert sp.pearson.shape == (4, 2) and sp.names == ("a", "b")
    for k in range(4):  # each row is exactly probe() with that split seed
        ref = dg.probe(z, s, ["a", "b"], "linear", seed=k, groups=groups)
        assert np.allclose(sp.pearson[k], ref.pearson) and np.allclose(sp.r2[k], ref.r2)
    summ = sp.summary()
    for q, n in enumerate(("a", "b")):
        assert summ[n]["min"] <= summ[n]["mean"] <= summ[n]["max"]
        assert summ[n]["mean"] == pytest.approx(sp.pearson[:, q].mean())
    assert np.ptp(sp.pearson[:, 0]) > 0  # other test episodes, other figures
    with pytest.raises(ValueError, match="splits"):
        dg.probe_spread(z, s, splits=0)
