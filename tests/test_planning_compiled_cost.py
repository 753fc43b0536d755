"""The compiled planning cost (lewm/planning/compiled_cost.py) computes what the eager cost computes."""
import os
import shutil

import pytest
import torch

from lewm.planning.compiled_cost import MIN_CANDIDATES, CompiledGoalCost, compiled_cost_factory
from lewm.config import get_preset
from lewm.planning.cost import LatentGoalCost
from lewm.model import LeWM


def _model(history: int = 2) -> LeWM:
    torch.manual_seed(0)
    m = LeWM(get_preset("cpu-tiny").model.__class__(**{**get_preset("cpu-tiny").model.__dict__, "history": history}))
    for blk in m.predictor.transformer.layers:  # wake the AdaLN-zero modulation up: actions matter
        torch.nn.init.normal_(blk.adaLN_modulation[-1].weight, std=0.3)
    bn = m.pred_proj.net[1]  # statistics of a trained model: the compiled rollout folds them into the linear before
    with torch.no_grad():
        bn.running_mean.normal_(0, 0.5), bn.running_var.uniform_(0.2, 3.0)
        bn.weight.normal_(1, 0.3), bn.bias.normal_(0, 0.3)
    return m.eval()


def _history1(seed: int):
    """A history-1 model, a generator, the action block size and a random context and goal."""
    m = _model(history=1)
    g = torch.Generator().manual_seed(seed)
    D = m.cfg.latent_dim
    return m, g, m.cfg.action_block_dim, torch.randn(1, 1, D, generator=g), torch.randn(D, generator=g)


NO_CXX = not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++", "clang++") if c)


@pytest.mark.skipif(NO_CXX, reason="torch.compile on the CPU needs a C++ compiler (g++)")
@torch.no_grad()
def test_compiled_cost_equals_the_eager_cost_and_falls_back_for_small_batches():
    m = _model(history=2)
    g = torch.Generator().manual_seed(1)
    D, K = m.cfg.latent_dim, m.cfg.action_block_dim
    z_hist = torch.randn(1, 2, D, generator=g)  # (1, H0, D)
    a_hist = torch.randn(1, 1, K, generator=g)  # (1, H0-1, K)
    z_goal = torch.randn(D, generator=g)  # (D,)
    acts = torch.randn(64, 5, K, generator=g)  # (N, P, K)
    for steps in ("last", "all"):
        ref_c, ref_z = LatentGoalCost(m, z_hist, z_goal, a_hist, steps=steps)(acts)
        c, z = CompiledGoalCost(m, z_hist, z_goal, a_hist, steps=steps)(acts)
        torch.testing.assert_close(c, ref_c, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(z, ref_z, atol=1e-5, rtol=1e-5)
    assert "_compiled_lean_rollout" in m.__dict__  # compiled once, kept on the model
    few = acts[: MIN_CANDIDATES - 1]
    torch.testing.assert_close(CompiledGoalCost(m, z_hist, z_goal, a_hist)(few)[0],
                               LatentGoalCost(m, z_hist, z_goal, a_hist)(few)[0])
    cost = compiled_cost_factory()(m, z_hist, z_goal, a_hist, "last")
    assert isinstance(cost, CompiledGoalCost) and cost.bf16 is False


@pytest.mark.skipif(NO_CXX, reason="torch.compile on the CPU needs a C++ compiler (g++)")
@torch.no_grad()
def test_compiled_cost_follows_the_weights_after_they_change():
    """On the CPU the weights are frozen into the compiled code: any change of the model's weights after the first
    compile — an optimizer step, an edit through ``p.data`` (no version bump), a BatchNorm buffer, load_state_dict —
    must reach the next plan, not the old frozen copy."""
    m, g, K, z_hist, z_goal = _history1(2)
    acts = torch.randn(32, 3, K, generator=g)  # (N, P, K)

    def check():
        got, ref = CompiledGoalCost(m, z_hist, z_goal)(acts)[0], LatentGoalCost(m, z_hist, z_goal)(acts)[0]
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
        return ref

    before = check()
    for p in m.predictor.parameters():  # in place, as an optimizer step
        p.add_(0.05 * torch.randn(p.shape, generator=g))
    assert (check() - before).abs().max() > 1e-3  # the change matters to the cost
    for p in m.predictor.parameters():  # through .data: the parameter's version counter does not move
        p.data.mul_(0.9)
    check()
    bn = next(mod for mod in m.pred_proj.modules() if isinstance(mod, torch.nn.BatchNorm1d))
    bn.running_mean.data.fill_(0.3)  # a buffer, through .data
    check()
    m.load_state_dict({k: v + 0.01 for k, v in m.state_dict().items()})  # replaced by load_state_dict
    check()


@pytest.mark.skipif(NO_CXX, reason="torch.compile on the CPU needs a C++ compiler (g++)")
@torch.no_grad()
def test_compiled_cost_plans_eagerly_after_too_many_weight_changes(monkeypatch):
    import lewm.planning.compiled_cost as cc
    monkeypatch.setattr(cc, "MAX_RECOMPILES", 1)
    m, g, K, z_hist, z_goal = _history1(3)
    acts = torch.randn(20, 2, K, generator=g)  # (N, P, K)
    CompiledGoalCost(m, z_hist, z_goal)(acts)
    for change in range(2):
        for p in m.predictor.parameters():
            p.data.add_(0.01)
        if change == 0:
            with pytest.warns(UserWarning, match="eager rollout"):
                got = CompiledGoalCost(m, z_hist, z_goal)(acts)[0]
        else:
            got = CompiledGoalCost(m, z_hist, z_goal)(acts)[0]
        torch.testing.assert_close(got, LatentGoalCost(m, z_hist, z_goal)(acts)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(NO_CXX, reason="torch.compile on the CPU needs a C++ compiler (g++)")
@torch.no_grad()
def test_compiled_cost_checks_the_actions_as_the_eager_cost_does():
    m, g, K, z_hist, z_goal = _history1(4)
    cost = CompiledGoalCost(m, z_hist, z_goal)
    with pytest.raises(TypeError, match="action_blocks: expected a torch tensor"):
        cost(torch.zeros(17, 2, K).tolist())
    with pytest.raises(ValueError, match=f"action_blocks: expected shape \\(B, T, {K}\\)"):
        cost(torch.zeros(17, 2, K + 1))
    with pytest.raises(ValueError, match="at least one entry in dimension 1"):
        cost(torch.zeros(17, 0, K))
    acts = torch.randn(17, 2, K, generator=g, dtype=torch.float64)  # fp64: taken as the weights' dtype
    torch.testing.assert_close(cost(acts)[0], LatentGoalCost(m, z_hist, z_goal)(acts)[0], atol=1e-5, rtol=1e-5)


def test_compiled_cost_refuses_a_training_model():
    m = _model().train()
    z = torch.zeros(1, 1, m.cfg.latent_dim)
    with pytest.raises(ValueError, match="eval mode"):
        CompiledGoalCost(m, z, z[0, 0])
