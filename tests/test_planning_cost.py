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
