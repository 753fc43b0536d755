"""lewm.planning.stepwise: one plan at a time for the Planner page, on a small random model (numbers
stored before the planning package split), and the canvas helpers of Two-Room."""
import numpy as np
import pytest
import torch

from lewm.config import get_preset
from lewm.envs import make
from lewm.model import LeWM
from lewm.planning import (PlannerConfig, canvas_grid, clamp_state, execute_plan, imagine_candidate, latent_distances,
                           plan_recorded, setup_plan)

START, GOAL = np.array([60.0, 150.0]), np.array([170.0, 60.0])


@pytest.fixture(scope="module")
def world():
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    return LeWM(cfg.model).eval(), cfg, make("two_room", image_size=32)


def test_plan_recorded_reproduces_stored_plan_and_records_every_iteration(world):
    model, cfg, env = world
    setup = setup_plan(model, cfg, env, START, GOAL)
    pcfg = PlannerConfig(num_samples=40, topk=5, iterations=3)
    res = plan_recorded(setup, cfg, pcfg, seed=0)
    assert res.cost == pytest.approx(0.47896164655685425, rel=1e-4)
    np.testing.assert_allclose(res.actions[0, :4].numpy(), [-0.04998991638422012, -0.11515339463949203,
                                                            0.6967838406562805, -0.46452656388282776], atol=1e-4)
    np.testing.assert_allclose(setup.z_goal[:3], [-0.16108368337154388, -0.07230637222528458, 0.07958413660526276],
                               atol=1e-5)
    assert len(res.iterations) == 3 and res.iterations[0].candidates.shape == (40, 5, cfg.model.action_block_dim)
    assert res.iterations[0].final_latents.shape == (40, cfg.model.latent_dim)
    # imagining the plan again gives the recorded imagination, and its cost is the plan's cost
    imag = imagine_candidate(setup, res.actions.numpy())  # (P, D)
    np.testing.assert_allclose(imag, res.imagined.numpy(), atol=1e-6)
    assert float(latent_distances(imag[-1], setup.z_goal)[0]) == pytest.approx(res.cost, rel=1e-4)
    # the same seed gives the same plan; another seed another one
    again = plan_recorded(setup, cfg, pcfg, seed=0)
    assert torch.equal(again.actions, res.actions)
    assert not torch.equal(plan_recorded(setup, cfg, pcfg, seed=1).actions, res.actions)


def test_execute_plan_open_loop_in_the_environment(world):
    model, cfg, env = world
    acts = np.zeros((3, cfg.model.action_block_dim), np.float32)
    acts[:, 1::2] = -1.0  # every raw action (0, -1): 5 units up per env step, inside the left room
    out = execute_plan(env, cfg, START, GOAL, acts)
    k = cfg.model.frameskip
    assert out["frames"].shape == (4, 32, 32, 3) and out["all_states"].shape == (3 * k + 1, 2)
    np.testing.assert_allclose(out["states"][:, 1], START[1] - 5.0 * k * np.arange(4), atol=1e-6)
    np.testing.assert_allclose(out["states"][:, 0], START[0], atol=1e-6)
    np.testing.assert_allclose(out["distance"], [env.success_distance(s, GOAL) for s in out["states"]], rtol=1e-6)


def test_latent_distances_is_the_squared_l2_cost():
    z = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    np.testing.assert_allclose(latent_distances(z, np.array([1.0, 0.0])), [4.0, 1.0, 5.0])


def test_canvas_grid_and_clamp_state_two_room_only():
    from lewm.envs.two_room import HI, LO
    tr, pt = make("two_room", image_size=32), make("pusht", image_size=32)
    grid, extent = canvas_grid(tr, 5)
    assert grid.shape == (25, 2) and grid.min() == LO and grid.max() == HI
    np.testing.assert_allclose(grid[:3], [[21.0, 21.0], [66.5, 21.0], [112.0, 21.0]])
    np.testing.assert_allclose(extent, [0.0, 224.0])
    np.testing.assert_allclose(clamp_state(tr, [0.0, 300.0]), [LO, HI])
    inside_wall = clamp_state(tr, [112.0, 150.0])  # a click on the wall: the nearest free spot (12 units away)
    assert tr.valid_states(inside_wall[None])[0] and np.linalg.norm(inside_wall - [112.0, 150.0]) <= 13.0
    assert canvas_grid(pt) is None
    s = np.asarray(pt.get_state(), np.float64) + 1e6
    np.testing.assert_array_equal(clamp_state(pt, s), s)  # not a canvas env: left alone
