"""lewm.planning.sampling: the loop the sampling planners share: clipping, the cost's two return forms,
the starting mean, generator-driven noise, and one full loop whose update is known."""
import pytest
import torch

from lewm.planning import PlannerConfig
from lewm.planning.sampling import clip, evaluate_cost, prepare, randn, sampling_planner


def test_helpers():
    a = torch.tensor([[-2.0, 0.3, 5.0]])
    lo, hi = torch.tensor([-1.0, 0.0, 0.0]), torch.tensor([1.0, 0.2, 4.0])
    torch.testing.assert_close(clip(a, (lo, hi)), torch.tensor([[-1.0, 0.2, 4.0]]))
    assert clip(a, None) is a
    costs, two = torch.tensor([1.0, 2.0]), torch.zeros(2, 3)  # two candidates, two costs
    assert evaluate_cost(lambda x: costs, two) == (costs, None)
    z = torch.zeros(2, 3)
    c, zf = evaluate_cost(lambda x: (costs, z), two)
    assert c is costs and zf is z
    init = torch.ones(2, 3)
    mean, b = prepare(2, 3, init, (-1.0, 1.0), "cpu", torch.float32)
    torch.testing.assert_close(mean, init)
    assert mean is not init and b[0].shape == (3,) and float(b[1][2]) == 1.0
    assert prepare(2, 3, None, None, "cpu", torch.float64)[0].abs().sum() == 0
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    torch.testing.assert_close(randn((4, 2), g1, "cpu", torch.float32), torch.randn((4, 2), generator=g2))


def test_loop_keeps_the_mean_as_candidate_zero_and_records_each_iteration():
    cfg = PlannerConfig(iterations=3, num_samples=8, topk=2, init_std=0.5, min_std=0.1)
    means = [torch.full((2, 1), v) for v in (0.5, -0.25, 1.0)]
    seen = []

    def update(cand, costs, elite):
        seen.append(cand.clone())
        return means[len(seen) - 1], torch.zeros(2, 1)  # std 0: floored at min_std

    res = sampling_planner(update, lambda a: (a ** 2).sum(dim=(1, 2)), 2, 1, cfg, None, None,
                           torch.Generator().manual_seed(0), "cpu", torch.float32, record=True)
    assert [float(s[0].sum()) for s in seen] == [0.0, 1.0, -0.5]  # candidate 0 = the mean before each update
    torch.testing.assert_close(res.actions, means[-1])
    assert res.cost == pytest.approx(2.0)  # cost of the final mean: 1² + 1²
    assert len(res.iterations) == 3
    for rec, cand in zip(res.iterations, seen):
        torch.testing.assert_close(rec.costs, (cand ** 2).sum(dim=(1, 2)))
        assert set(rec.elite_idx.tolist()) == set(torch.argsort(rec.costs)[:2].tolist())
        assert rec.best_cost == pytest.approx(float(rec.costs.min()))
        torch.testing.assert_close(rec.std, torch.full((2, 1), 0.1))
        torch.testing.assert_close(rec.candidates, cand)
