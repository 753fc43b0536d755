"""lewm.planning.cost: the latent goal cost against a hand-computed reference."""
import numpy as np
import pytest
import torch
from torch import nn

from lewm.planning import LatentGoalCost, PlannerConfig


def test_latent_goal_cost_last_and_all_against_manual():
    class Fixed(nn.Module):  # rollout returns a known (N, P, D) tensor
        def __init__(self, z):
            super().__init__()
            self.z = z

        def rollout(self, z_hist, blocks, act_hist=None):
            return self.z

    z = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(0))  # (N, P, D)
    goal = torch.tensor([0.5, -1.0, 2.0])
    blocks = torch.zeros(6, 4, 2)
    last, zf = LatentGoalCost(Fixed(z), z[:1, :1], goal)(blocks)
    every, _ = LatentGoalCost(Fixed(z), z[:1, :1], goal, steps="all")(blocks)
    closest, _ = LatentGoalCost(Fixed(z), z[:1, :1], goal, steps="min")(blocks)
    want_last = torch.tensor([float(sum((z[n, -1, d] - goal[d]) ** 2 for d in range(3))) for n in range(6)])
    want_all = torch.tensor([np.mean([float(sum((z[n, p, d] - goal[d]) ** 2 for d in range(3))) for p in range(4)])
                             for n in range(6)], dtype=torch.float32)
    torch.testing.assert_close(last, want_last)
    torch.testing.assert_close(every, want_all)
    want_min = torch.tensor([min(float(sum((z[n, p, d] - goal[d]) ** 2 for d in range(3))) for p in range(4))
                             for n in range(6)])
    torch.testing.assert_close(closest, want_min)
    torch.testing.assert_close(zf, z[:, -1])
    with pytest.raises(ValueError, match="cost_steps"):
        PlannerConfig(cost_steps="first")


def test_mean_weight_adds_the_mean_over_blocks_to_any_cost():
    """cost_mean_weight: c + w x mean_p ||z_p - g||^2 (the tie-break of cost_steps='min'), checked by hand."""
    class Fixed(nn.Module):
        def __init__(self, z):
            super().__init__()
            self.z = z

        def rollout(self, z_hist, blocks, act_hist=None):
            return self.z

    z = torch.tensor([[[0.0], [2.0], [1.0]], [[3.0], [0.5], [4.0]]])  # (N=2, P=3, D=1)
    goal = torch.tensor([1.0])
    d = torch.tensor([[1.0, 1.0, 0.0], [4.0, 0.25, 9.0]])  # (N, P): ||z_p - g||^2
    for steps, base in (("last", d[:, -1]), ("all", d.mean(1)), ("min", d.min(1).values)):
        c, _ = LatentGoalCost(Fixed(z), z[:1, :1], goal, steps=steps, mean_weight=0.1)(torch.zeros(2, 3, 2))
        torch.testing.assert_close(c, base + 0.1 * d.mean(1))
    # the tie 'min' leaves: both candidates reach the goal (min 0) at some block; the weight prefers the sooner one
    z2 = torch.tensor([[[1.0], [1.0], [1.0]], [[5.0], [3.0], [1.0]]])  # arrives at once / at the last block
    plain, _ = LatentGoalCost(Fixed(z2), z2[:1, :1], goal, steps="min")(torch.zeros(2, 3, 2))
    tie, _ = LatentGoalCost(Fixed(z2), z2[:1, :1], goal, steps="min", mean_weight=0.1)(torch.zeros(2, 3, 2))
    assert plain[0] == plain[1] == 0 and tie[0] < tie[1]
    with pytest.raises(ValueError, match=r"mean_weight.*must be"):
        LatentGoalCost(Fixed(z), z[:1, :1], goal, mean_weight=-1.0)
    with pytest.raises(ValueError, match="cost_mean_weight"):
        PlannerConfig(cost_mean_weight=float("nan"))
