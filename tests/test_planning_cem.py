"""lewm.planning.cem: records and bounds, and a small bounded run's stored plan."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from lewm.planning import PlannerConfig, cem
from _quadratic import K, P, TARGET, quadratic


def test_cem_records_and_bounds():
    lo, hi = -torch.full((K,), 0.5), torch.full((K,), 0.5)
    cfg = PlannerConfig(iterations=25, num_samples=300, topk=30, min_std=1e-3)
    res = cem(quadratic, P, K, cfg, bounds=(lo, hi), generator=torch.Generator().manual_seed(1), record=True)
    r = res.iterations[-1]
    assert r.candidates.shape == (300, P, K) and r.elite_idx.shape == (30,)
    assert (r.candidates >= -0.5 - 1e-6).all() and (r.candidates <= 0.5 + 1e-6).all()
    # elites really are the lowest-cost candidates, and the mean candidate is always included
    assert set(r.elite_idx.tolist()) == set(torch.argsort(r.costs)[:30].tolist())
    torch.testing.assert_close(r.candidates[0], res.iterations[-2].mean)
    # constrained optimum of a separable quadratic = the target clipped to the box
    torch.testing.assert_close(res.actions, TARGET.clamp(-0.5, 0.5), atol=0.06, rtol=0)


def test_cem_small_bounded_run_reproduces_stored_plan():
    """Five iterations, 50 samples, a box: every number of the plan as stored before the split."""
    lo, hi = -torch.full((K,), 0.5), torch.full((K,), 0.5)
    res = cem(quadratic, P, K, PlannerConfig(iterations=5, num_samples=50, topk=5), bounds=(lo, hi),
              generator=torch.Generator().manual_seed(3))
    want = [-0.13850067555904388, -0.312029093503952, -0.38446933031082153, -0.46487292647361755,
            0.4430277347564697, 0.22049836814403534, -0.01610780879855156, 0.2779025137424469,
            0.005150817334651947, 0.4482432007789612, 0.468198299407959, -0.46883273124694824]
    np.testing.assert_allclose(res.actions.flatten().numpy(), want, rtol=0, atol=1e-6)
    assert res.cost == pytest.approx(0.8659707307815552, rel=1e-6)


def test_cem_early_stop_settles_at_the_known_minimum_in_fewer_iterations():
    """stop_tol: the loop ends once an update moves the mean by less than the tolerance; the plan still sits at
    the quadratic's known minimum (the target, inside the box), and tol 0 runs every iteration as before."""
    cfg = PlannerConfig(iterations=60, num_samples=300, topk=30, min_std=0.01)
    full = cem(quadratic, P, K, cfg, generator=torch.Generator().manual_seed(1))
    assert len(full.iterations) == 60
    from dataclasses import replace
    early = cem(quadratic, P, K, replace(cfg, stop_tol=0.01), generator=torch.Generator().manual_seed(1))
    n = len(early.iterations)
    assert 2 <= n < 60
    moved = (early.iterations[-1].mean - early.iterations[-2].mean).abs().max()
    assert moved < 0.01  # it stopped because the mean had settled, not before
    assert all((b.mean - a.mean).abs().max() >= 0.01 for a, b in zip(early.iterations[:-2], early.iterations[1:-1]))
    torch.testing.assert_close(early.actions, TARGET, atol=0.05, rtol=0)  # at the known minimum
    # the same iterations as the full run up to the stop (same generator, same draws)
    torch.testing.assert_close(early.iterations[-1].mean, full.iterations[n - 1].mean)
    with pytest.raises(ValueError, match="stop_tol"):
        PlannerConfig(stop_tol=-0.1)


def test_plan_from_best_commits_to_one_of_two_modes():
    """Two equally good ways to the goal (a = +2 or a = -2): the elites split between them, their mean
    lies near 0 (cost ~4), and 'best' returns a candidate at one of the minima instead."""
    def cost(a):  # (N, 1, 1) -> (N,)
        x = a[:, 0, 0]
        return torch.minimum((x - 2) ** 2, (x + 2) ** 2)

    cfg = PlannerConfig(num_samples=400, topk=40, iterations=1, init_std=3.0)
    g = lambda: torch.Generator().manual_seed(0)
    by_mean = cem(cost, 1, 1, cfg, generator=g())
    by_best = cem(cost, 1, 1, replace(cfg, plan_from="best"), generator=g())
    assert by_mean.cost > 1.0  # the mean of the split elites stands between the modes
    assert by_best.cost < 0.05 and abs(abs(float(by_best.actions[0, 0])) - 2) < 0.25
    assert abs(float(cost(by_best.actions[None])) - by_best.cost) < 1e-6  # the cost is the returned plan's


def test_plan_from_best_is_never_worse_than_the_mean():
    def cost(a):  # (N, 3, 2) -> (N,): a bowl at 0.5
        return ((a - 0.5) ** 2).sum((1, 2))

    for seed in range(5):
        cfg = PlannerConfig(num_samples=50, topk=5, iterations=3)
        m = cem(cost, 3, 2, cfg, generator=torch.Generator().manual_seed(seed))
        b = cem(cost, 3, 2, replace(cfg, plan_from="best"), generator=torch.Generator().manual_seed(seed))
        assert b.cost <= m.cost + 1e-6


def test_plan_from_is_checked():
    with pytest.raises(ValueError, match="plan_from"):
        PlannerConfig(plan_from="median")
