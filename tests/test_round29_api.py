"""Reliability round 29, the Python API (issue 16): a cost function that writes into the candidates it is given,
integer latents handed to SIGReg, and numpy masked arrays handed to the diagnostics and the planners. Each was a
silently wrong result (or autograd's traceback) before; each is one ValueError / TypeError now."""
import numpy as np
import pytest
import torch

import lewm.diagnostics as D
from lewm.planning import PlannerConfig, cem, grad_plan, mppi
from lewm.sigreg import sigreg, sigreg_stats

SMALL = PlannerConfig(num_samples=24, topk=4, iterations=3)


def _gen():
    return torch.Generator().manual_seed(0)


def _bowl(a):  # (N, P, K) -> (N,): minimum at 0.3 everywhere
    return ((a - 0.3) ** 2).sum((1, 2))


@pytest.mark.parametrize("solver", [cem, mppi])
def test_cost_writing_into_candidates_is_one_error(solver):
    # before: CEM and MPPI kept the overwritten candidates as elites and returned a plan of zeros (cost 0.54),
    # far from the bowl's minimum, without a word
    with pytest.raises(ValueError, match=r"^cost_fn changed the candidate actions it was given in place"):
        solver(lambda a: _bowl(a.mul_(0)), 3, 2, SMALL, generator=_gen())
    with pytest.raises(ValueError, match=r"in place"):
        solver(lambda a: _bowl(a.clamp_(-0.1, 0.1)), 3, 2, SMALL, generator=_gen())


def test_cost_writing_into_candidates_under_grad_is_one_error():
    # before: autograd's "a leaf Variable that requires grad is being used in an in-place operation" traceback
    with pytest.raises(ValueError, match=r"^cost_fn changed the candidate actions"):
        grad_plan(lambda a: _bowl(a.mul_(1)), 3, 2, PlannerConfig(solver="grad", iterations=2), generator=_gen())


def test_cost_reading_candidates_still_plans_to_the_minimum():
    cfg = PlannerConfig(num_samples=200, topk=20, iterations=20)
    for solver in (cem, mppi):
        plan = solver(lambda a: _bowl(a.clone().clamp_(-1, 1)), 3, 2, cfg, generator=_gen()).actions  # a copy: fine
        assert torch.allclose(plan, torch.full_like(plan, 0.3), atol=0.05)


@pytest.mark.parametrize("z", [torch.randint(-3, 4, (64, 8)), torch.randn(64, 8) > 0])
def test_sigreg_refuses_integer_and_bool_latents_as_sigreg_stats_does(z):
    # before: sigreg cast them and scored them (4.76 for small integers, 20.9 for a mask); sigreg_stats refused
    for fn in (sigreg, sigreg_stats):
        with pytest.raises(TypeError, match=r"expects floating-point latents, got torch\.(int64|bool)"):
            fn(z)


def _masked(a, frac=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return np.ma.masked_array(a, mask=rng.random(a.shape) < frac)


def test_diagnostics_refuse_masked_entries():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 4)).astype(np.float32)
    state = z[:, :2] @ np.array([[1.0, 0.5], [0.2, 1.0]])
    zm = _masked(z)
    zm.data[zm.mask] = 1e6  # the hidden values: scored as data before
    cases = [lambda: D.collapse_meters(zm), lambda: D.probe(zm, state), lambda: D.probe(z, _masked(state)),
             lambda: D.pearson_r(_masked(state), state), lambda: D.sigreg_view(zm),
             lambda: D.temporal_straightness(zm), lambda: D.fit_latent_map(zm), lambda: D.linear_readout(zm, state)]
    for case in cases:
        with pytest.raises(ValueError, match=r"is a masked array with \d+ of \d+ entries masked"):
            case()


def test_diagnostics_take_a_masked_array_with_nothing_masked_as_its_data():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(100, 3))
    plain, masked = D.collapse_meters(z), D.collapse_meters(np.ma.masked_array(z, mask=False))
    assert plain.effective_rank == masked.effective_rank
    assert np.array_equal(plain.spectrum, masked.spectrum)


def test_planner_refuses_masked_bounds_and_init_mean():
    lo = np.ma.masked_array([-1e9, -1.0], mask=[True, False])  # before: -1e9 was a bound
    with pytest.raises(ValueError, match=r"^bounds lo: a masked array with 1 masked value"):
        cem(_bowl, 3, 2, SMALL, bounds=(lo, np.ones(2)))
    with pytest.raises(ValueError, match=r"^init_mean: a masked array with 2 masked value"):
        cem(_bowl, 3, 2, SMALL, init_mean=np.ma.masked_array(np.zeros((3, 2)), mask=np.eye(3, 2, dtype=bool)))
    plan = cem(_bowl, 3, 2, SMALL, generator=_gen(), bounds=(np.ma.masked_array([-0.1, -0.1]), np.full(2, 0.1))).actions
    assert float(plan.abs().max()) <= 0.1 + 1e-6
