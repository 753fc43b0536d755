"""Planners against known minima; MPC with a perfect model of Two-Room reaches its goal."""
import numpy as np
import pytest
import torch
from torch import nn

from lewm.config import get_preset
from lewm.planning import PlannerConfig, cem, grad_plan, mppi, run_episode

P, K = 4, 3
TARGET = torch.tensor(np.random.default_rng(0).uniform(-0.8, 0.8, size=(P, K)), dtype=torch.float32)
WEIGHT = torch.linspace(0.5, 2.0, P * K).view(P, K)


def quadratic(a: torch.Tensor) -> torch.Tensor:
    return ((a - TARGET) ** 2 * WEIGHT).sum(dim=(1, 2))  # (N,)


@pytest.mark.parametrize("solver,kw", [(cem, {}), (mppi, {}), (grad_plan, {})])
def test_solvers_recover_quadratic_minimum(solver, kw):
    cfg = PlannerConfig(solver={cem: "cem", mppi: "mppi", grad_plan: "grad"}[solver], iterations=30,
                        num_samples=300, topk=30, min_std=1e-3)
    res = solver(quadratic, P, K, cfg, generator=torch.Generator().manual_seed(0))
    assert res.actions.shape == (P, K)
    torch.testing.assert_close(res.actions, TARGET, atol=0.05, rtol=0)
    assert res.cost < 1e-2 and len(res.iterations) >= 30
    # the records are what a step-by-step view needs
    r = res.iterations[0]
    assert r.costs.ndim == 1 and r.mean.shape == (P, K) and r.std.shape == (P, K)


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


class AnalyticTwoRoom(nn.Module):
    """A perfect 'world model' of Two-Room: encode = dot position from pixels (colour centroid),
    rollout = the true dynamics. Lets the MPC runner be tested without learning."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg.model
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, px):  # (B, T, 3, S, S) uint8 -> (B, T, 2) in canvas units
        x = px.float()
        red = (x[:, :, 0] - 0.5 * (x[:, :, 1] + x[:, :, 2])).clamp_min(0)  # (B, T, S, S)
        red = torch.where(red > 0.5 * red.amax(dim=(-1, -2), keepdim=True), red, torch.zeros_like(red))
        S = px.shape[-1]
        c = (torch.arange(S, dtype=torch.float32) + 0.5) * 224 / S - 0.5
        w = red / red.sum(dim=(-1, -2), keepdim=True)
        return torch.stack([(w.sum(-2) * c).sum(-1), (w.sum(-1) * c).sum(-1)], -1)

    def rollout(self, z_hist, blocks, act_hist=None):
        from lewm.envs.two_room import move
        N, Pp, Kk = blocks.shape
        pos = z_hist[0, -1].double().numpy()
        out = np.zeros((N, Pp, 2))
        b = blocks.numpy().reshape(N, Pp, -1, 2).clip(-1, 1)
        for n in range(N):
            p = pos
            for t in range(Pp):
                for a in b[n, t]:
                    p = move(p, a)
                out[n, t] = p
        return torch.tensor(out, dtype=torch.float32)


def test_mpc_with_perfect_model_reaches_goal():
    from lewm.envs import make
    cfg = get_preset("cpu-tiny").with_overrides(model={"image_size": 64, "patch_size": 16, "history": 1},
                                                 env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    env = make("two_room", image_size=64)
    model = AnalyticTwoRoom(cfg)
    pcfg = PlannerConfig(num_samples=100, topk=10, iterations=5)
    res = run_episode(env, model, cfg, pcfg, np.array([60.0, 150.0]), np.array([170.0, 60.0]),
                      budget=80, generator=torch.Generator().manual_seed(0))
    assert res.success, f"final state {res.states[-1]}"
    assert res.frames.shape[0] == res.steps + 1 and res.actions.shape == (res.steps, 2)
    assert np.abs(res.actions).max() <= 1.0 and len(res.plan_seconds) >= 1


def test_latent_goal_cost_last_and_all_against_manual():
    from lewm.planning import LatentGoalCost

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
    want_last = torch.tensor([float(sum((z[n, -1, d] - goal[d]) ** 2 for d in range(3))) for n in range(6)])
    want_all = torch.tensor([np.mean([float(sum((z[n, p, d] - goal[d]) ** 2 for d in range(3))) for p in range(4)])
                             for n in range(6)], dtype=torch.float32)
    torch.testing.assert_close(last, want_last)
    torch.testing.assert_close(every, want_all)
    torch.testing.assert_close(zf, z[:, -1])
    with pytest.raises(ValueError, match="cost_steps"):
        PlannerConfig(cost_steps="first")


def test_terminal_cost_procrastinates_all_steps_cost_does_not():
    """With a perfect model, a terminal-only cost leaves CEM indifferent to *when* the goal is
    reached: the executed first block closes only a fraction of the gap per plan. Averaging the
    cost over the imagined blocks makes the agent go (nearly) straight at full speed."""
    from lewm.envs import make
    cfg = get_preset("cpu-tiny").with_overrides(model={"image_size": 64, "patch_size": 16, "history": 1},
                                                 env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    env = make("two_room", image_size=64)
    model = AnalyticTwoRoom(cfg)
    start, goal = np.array([30.0, 150.0]), np.array([95.0, 150.0])  # 65 units, same room: >= 10 steps
    steps = {}
    for mode in ("last", "all"):
        res = run_episode(env, model, cfg, PlannerConfig(num_samples=100, topk=10, iterations=5, cost_steps=mode),
                          start, goal, budget=50, generator=torch.Generator().manual_seed(0))
        steps[mode] = res.first_success_step if res.success else 99
    assert steps["all"] <= 14, steps  # 65 - 16 = 49 units at <= 5 per step: >= 10 steps
    assert steps["last"] >= steps["all"] + 5, steps
