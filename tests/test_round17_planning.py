"""Round 17 (hostile tester, session 18), lewm.planning: MPPI lost its plan to one NaN/inf candidate (P1), CEM
threw a plan away when only the final mean's cost was NaN (P2), a cost's odd return values were an IndexError
or taken silently (P3, P4), 2-D bounds and bounds overflowing float32 failed deep or blamed the model (P5, P6),
a tiny MPPI temperature gave NaN weights (P7), and run_episode(record_plans=True) failed on a cost_factory's
plain function (P8)."""
import sys

import numpy as np
import pytest
import torch

from lewm.config import get_preset
from lewm.envs import make
from lewm.model import LeWM
from lewm.planning import PlannerConfig, cem, mppi, run_episode

PC = PlannerConfig
SMALL = PC(num_samples=16, topk=4, iterations=3, horizon=2)


def q(a):
    return ((a - 0.5) ** 2).sum((1, 2))


def _gen():
    return torch.Generator().manual_seed(0)


def _finite_plan(res):
    return bool(torch.isfinite(res.actions).all()) and np.isfinite(res.cost)


def _nan_at_1(a):
    return torch.where(torch.arange(len(a)) == 1, float("nan"), q(a))


def _nan_half(a):
    return q(a).index_fill(0, torch.arange(0, len(a), 2), float("nan"))


def _neg_inf_at_1(a):
    return torch.where(torch.arange(len(a)) == 1, float("-inf"), q(a))


def _all_but_mean_inf(a):
    return torch.where(torch.arange(len(a)) == 0, q(a), float("inf"))


def _inf_near_0(a):
    c = -(a ** 2).sum((1, 2))
    return torch.where((a.abs() < 0.5).all(2).all(1), float("inf"), c)


@pytest.mark.parametrize("cost", [_nan_at_1, _nan_half, _neg_inf_at_1, _all_but_mean_inf])
def test_p1_mppi_gives_non_finite_candidates_no_weight(cost, recwarn):
    res = mppi(cost, 2, 2, PC(num_samples=16, topk=4, iterations=2, horizon=2), generator=_gen(), record=True)
    assert _finite_plan(res)
    for it in res.iterations:
        assert torch.isfinite(it.mean).all() and torch.isfinite(it.std).all()


def test_p1_mppi_weights_only_finite_candidates(monkeypatch):
    # an inf candidate (evaluate_cost made its NaN +inf) among finite ones: the update is the finite ones' alone
    mod = sys.modules["lewm.planning.mppi"]
    captured = {}
    orig = mod.sampling_planner

    def grab(update, *a, **k):
        captured["update"] = update
        return orig(update, *a, **k)

    monkeypatch.setattr(mod, "sampling_planner", grab)
    mppi(q, 1, 1, PC(num_samples=4, topk=1, iterations=1, horizon=1, temperature=0.5))
    cand = torch.tensor([[[0.0]], [[1.0]], [[2.0]], [[5.0]]])
    mean, std = captured["update"](cand, torch.tensor([0.0, 1.0, 2.0, float("inf")]), None)
    w = torch.softmax(-torch.tensor([0.0, 1.0, 2.0]) / (0.5 * 2.0), 0)
    want = (w * torch.tensor([0.0, 1.0, 2.0])).sum()
    torch.testing.assert_close(mean, want.reshape(1, 1))
    torch.testing.assert_close(std, (w * (torch.tensor([0.0, 1.0, 2.0]) - want) ** 2).sum().sqrt().reshape(1, 1))


def test_p1_mppi_with_bounds_and_inf_near_zero(recwarn):
    res = mppi(_inf_near_0, 2, 2, SMALL, bounds=(-1.0, 1.0), generator=_gen())
    assert _finite_plan(res) and float(res.actions.abs().max()) <= 1.0


def test_p1_all_non_finite_is_still_one_error():
    with pytest.raises(ValueError, match="cost_fn returned NaN/inf for all 16 candidates"):
        mppi(lambda a: torch.full((len(a),), float("nan")), 2, 2, SMALL)


def test_p2_final_mean_nan_falls_back_to_the_best_finite_candidate():
    with pytest.warns(UserWarning, match=r"final sampling mean's cost is nan .* lowest-cost finite candidate"):
        res = cem(_nan_half, 2, 2, SMALL, generator=_gen(), record=True)
    assert _finite_plan(res)
    best = min(float(it.costs[it.elite_idx[0]]) for it in res.iterations)
    assert res.cost == pytest.approx(best) and res.cost == pytest.approx(float(q(res.actions[None])[0]))


@pytest.mark.parametrize("cost, msg", [
    (lambda a: (q(a),), r"cost_fn must return costs \(16,\) or a pair .* got a tuple of 1 item$"),
    (lambda a: (q(a), None, 5), r"got a tuple of 3 items"),
    (lambda a: (q(a), torch.zeros(3)), r"final latents .* must be None or a torch tensor \(16, D\).* shape \(3,\)"),
    (lambda a: (q(a), torch.zeros(16)), r"final latents .* shape \(16,\)"),
    (lambda a: q(a).to(torch.complex64), r"cost_fn must return real costs, got a complex64 tensor"),
])
def test_p3_p4_cost_return_values_are_checked(cost, msg):
    with pytest.raises(ValueError, match=msg):
        cem(cost, 2, 2, SMALL, record=True)


def test_p4_valid_returns_still_accepted():
    res = cem(lambda a: (q(a), a.reshape(len(a), -1)), 2, 2, SMALL, record=True)
    assert res.iterations[0].final_latents.shape == (16, 4)
    assert _finite_plan(cem(lambda a: (q(a), None), 2, 2, SMALL))
    assert _finite_plan(cem(lambda a: q(a) > 1, 2, 2, SMALL))  # bool costs: as before
    assert _finite_plan(cem(lambda a: q(a).double(), 2, 2, SMALL))


def test_p5_two_dimensional_bounds_are_one_error():
    with pytest.raises(ValueError, match=r"^bounds: lo and hi must be one number or 2 numbers each .* shapes \(2, 1\)"):
        cem(q, 2, 2, SMALL, bounds=(torch.zeros(2, 1), torch.ones(2, 1)))
    # the documented forms still plan within the bounds
    for b in ((0.0, 1.0), [0, 1], (torch.zeros(2), torch.ones(2)), (0, torch.ones(2)), (torch.zeros(1), 1.0)):
        a = cem(q, 2, 2, SMALL, bounds=b, generator=_gen()).actions
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


@pytest.mark.parametrize("bounds, dtype, msg", [
    ((np.float64(1e300), np.float64(1e301)), torch.float32, r"^bounds: lo 1e\+300 overflows float32"),
    ((torch.tensor(0.2, dtype=torch.float64), 1e40), torch.float32, r"^bounds: hi 1e\+40 overflows float32"),
    ((0.0, 1e5), torch.float16, r"^bounds: hi 100000 overflows float16"),
])
def test_p6_bounds_overflowing_the_planning_dtype(bounds, dtype, msg):
    with pytest.raises(ValueError, match=msg):
        cem(q, 2, 2, SMALL, bounds=bounds, dtype=dtype)


def test_p6_large_but_representable_bounds_plan():
    assert _finite_plan(cem(q, 2, 2, SMALL, bounds=(-1e30, 1e30), generator=_gen()))


@pytest.mark.parametrize("t", [1e-45, 1e-300, 1e-30])
def test_p7_tiny_temperature_is_nearly_argmin(t):
    res = mppi(q, 2, 2, PC(num_samples=16, topk=4, iterations=2, horizon=2, temperature=t), generator=_gen(),
               record=True)
    assert _finite_plan(res)
    it = res.iterations[0]  # all the weight on the lowest cost: the new mean is that candidate
    torch.testing.assert_close(it.mean, it.candidates[int(torch.argmin(it.costs))], rtol=0, atol=0)


def test_p7_temperature_range_unchanged():
    with pytest.raises(ValueError, match="temperature"):
        PC(temperature=0.0)


def test_p8_record_plans_with_a_plain_cost_function():
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny")
    m = LeWM(cfg.model).eval()
    env = make("two_room", image_size=cfg.model.image_size)
    res = run_episode(env, m, cfg, PC(num_samples=8, topk=2, iterations=1, horizon=1), [50, 50], [150, 50],
                      budget=3, record_plans=True, cost_factory=lambda *a: (lambda x: (x ** 2).sum((1, 2))))
    assert res.plans and all(p.imagined is None for p in res.plans)
