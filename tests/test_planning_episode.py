"""lewm.planning.episode: receding-horizon MPC with a perfect model of Two-Room reaches its goal,
and the numbers of a fixed episode are those stored before the planning package split."""
import numpy as np
import torch
from torch import nn

from lewm.config import get_preset
from lewm.planning import PlannerConfig, run_episode


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


def test_mpc_episode_reproduces_stored_numbers():
    from lewm.envs import make
    cfg = get_preset("cpu-tiny").with_overrides(model={"image_size": 64, "patch_size": 16, "history": 1},
                                                 env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    env = make("two_room", image_size=64)
    res = run_episode(env, AnalyticTwoRoom(cfg), cfg, PlannerConfig(num_samples=100, topk=10, iterations=5),
                      np.array([60.0, 150.0]), np.array([170.0, 60.0]), budget=80,
                      generator=torch.Generator().manual_seed(0))
    assert (res.success, res.steps, res.first_success_step) == (True, 47, 47)
    np.testing.assert_allclose(res.states[-1], [157.56375122070312, 67.7801742553711], atol=1e-3)
    np.testing.assert_allclose(res.plan_costs[:3], [5693.50146484375, 2846.83154296875, 605.350341796875], rtol=1e-4)
