"""Round 11 (hostile tester, session 16), lewm.planning: the sampling solvers returned plans outside
``bounds`` (candidate 0, the unclipped mean), and the solvers' / step-by-step / episode entry points took
bad arguments silently (horizon 0, record='no', seed 2.5, stop_on_success='no', ...) or failed deep inside
(torch's CUDA / device / dtype messages, "'NoneType' object is not callable", AttributeErrors)."""
import numpy as np
import pytest
import torch

from lewm.config import get_preset
from lewm.envs import make
from lewm.model import LeWM
from lewm.planning import (PlannerConfig, action_bounds, canvas_grid, cem, compiled_cost_factory, grad_plan,
                           graphed_goal_cost, imagine_candidate, mppi, plan, plan_recorded, run_episode, setup_plan)
from lewm.planning.sampling import clip, evaluate_cost, randn
from _quadratic import K, P, TARGET, quadratic

SOLVERS = {"cem": cem, "mppi": mppi, "grad": grad_plan}
START, GOAL = np.array([60.0, 150.0]), np.array([170.0, 60.0])


def _cfg(name, **kw):
    return PlannerConfig(solver=name, **{"iterations": 5, "num_samples": 50, "topk": 5, "grad_restarts": 4, **kw})


def _inside(x, lo, hi):
    return bool((x >= lo).all()) and bool((x <= hi).all())


@pytest.mark.parametrize("name", ["cem", "mppi", "grad"])
@pytest.mark.parametrize("lo, hi", [(0.5, 0.6), (1.0, 1.0), (-0.05, 0.0)])
def test_pl4_every_candidate_and_the_plan_lie_within_narrow_bounds(name, lo, hi):
    """pl4 / pl4b / pl4c: cem and mppi returned ~0.47 for bounds (0.5, 0.6), 0.9375 for (1, 1)."""
    for init in (None, torch.full((P, K), 5.0)):  # a start outside the bounds too (pl8)
        for via_plan in (False, True):
            kw = dict(bounds=(lo, hi), init_mean=init, generator=torch.Generator().manual_seed(0), record=True)
            res = plan(quadratic, P, K, _cfg(name), **kw) if via_plan else SOLVERS[name](quadratic, P, K, _cfg(name), **kw)
            assert _inside(res.actions, lo, hi), (name, res.actions)
            for r in res.iterations:
                assert _inside(r.candidates, lo, hi), name
            assert res.cost == pytest.approx(float(quadratic(res.actions[None])[0]), rel=1e-5)
    if lo == hi:  # a box of one point: the plan is that point, exactly
        assert torch.equal(res.actions, torch.full((P, K), hi))
    # per-dimension bounds (K,) vectors: the plan sits at the quadratic's optimum clipped to the box
    lo_v, hi_v = torch.full((K,), -0.3), torch.tensor([0.1, 0.2, 0.3])
    res = SOLVERS[name](quadratic, P, K, _cfg(name, iterations=25, num_samples=200, topk=20, min_std=1e-3),
                        bounds=(lo_v, hi_v), generator=torch.Generator().manual_seed(1))
    assert _inside(res.actions, lo_v, hi_v)
    torch.testing.assert_close(res.actions, torch.maximum(torch.minimum(TARGET, hi_v), lo_v), atol=0.06, rtol=0)


@pytest.mark.parametrize("name", ["cem", "mppi", "grad"])
def test_pl4_bounds_around_the_optimum_still_find_the_known_minimum(name):
    """Clipping candidate 0 changes nothing while the mean is inside the bounds: the unconstrained
    minimum (TARGET, inside [-1, 1]) is found as without bounds."""
    cfg = PlannerConfig(solver=name, iterations=30, num_samples=300, topk=30, min_std=1e-3)
    res = SOLVERS[name](quadratic, P, K, cfg, bounds=(-1.0, 1.0), generator=torch.Generator().manual_seed(0))
    assert _inside(res.actions, -1.0, 1.0)
    torch.testing.assert_close(res.actions, TARGET, atol=0.05, rtol=0)
    assert res.cost < 1e-2


def test_pl31_to_pl34_pl13_pl15_pl22_solver_entry_points_check_their_arguments():
    cf, pc = (lambda a: (a ** 2).sum((1, 2))), PlannerConfig(num_samples=16, topk=4, iterations=2, horizon=3)
    cases = [
        (lambda: mppi(cf, 3, 2, "cem"), ValueError, r"^mppi\(cfg=\.\.\.\): expected a lewm.planning.PlannerConfig"),
        (lambda: cem(cf, 3, 2, None), ValueError, r"^cem\(cfg=\.\.\.\): expected a lewm.planning.PlannerConfig"),
        (lambda: cem(cf, 0, 2), ValueError, r"^cem\(horizon=\.\.\.\) must be >= 1, got 0"),
        (lambda: grad_plan(cf, 3, 0), ValueError, r"^grad_plan\(action_dim=\.\.\.\) must be >= 1, got 0"),
        (lambda: mppi(cf, -2, 2), ValueError, r"^mppi\(horizon=\.\.\.\) must be >= 1, got -2"),
        (lambda: cem(cf, 2.5, 2), TypeError, r"^cem\(horizon=\.\.\.\) must be a whole number"),
        (lambda: plan(cf, 3, 2, pc, device="nope"), ValueError, r"^plan\(device=\.\.\.\) 'nope' is not a device"),
        (lambda: cem(cf, 3, 2, pc, device=5), TypeError, r"^cem\(device=\.\.\.\) must be a torch.device"),
        (lambda: plan(cf, 3, 2, pc, record="no"), TypeError, r"^plan\(record=\.\.\.\) must be True or False, got 'no'"),
        (lambda: grad_plan(cf, 3, 2, pc, record=1), TypeError, r"^grad_plan\(record=\.\.\.\) must be True or False"),
        (lambda: plan(None, 3, 2, pc), TypeError, r"^plan\(cost_fn=\.\.\.\) must be callable"),
        (lambda: cem(None, 3, 2, pc), TypeError, r"^cem\(cost_fn=\.\.\.\) must be callable"),
    ]
    if not torch.cuda.is_available():  # pl13: torch's "Torch not compiled with CUDA enabled"
        cases.append((lambda: plan(cf, 3, 2, pc, device="cuda"), ValueError, r"^plan\(device=\.\.\.\) cuda: "))
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()
    # valid calls still work: a device given as a name, a torch.device or 'auto'; record True / False
    for dev in ("cpu", torch.device("cpu"), "auto", None):
        assert plan(cf, 3, 2, pc, device=dev, record=True).actions.shape == (3, 2)
    assert len(cem(cf, 3, 2, pc, record=False).iterations) == 2


def test_pl43_pl44_pl45_sampling_helpers_explain_a_bad_argument():
    with pytest.raises(TypeError, match=r"^clip\(bounds=\.\.\.\) must be None or a pair \(lo, hi\)"):
        clip(torch.zeros(3, 2), (None, None))
    with pytest.raises(ValueError, match=r"^evaluate_cost: no candidates to score \(actions of shape \(0, 3, 2\)\)"):
        evaluate_cost(lambda a: (a ** 2).sum((1, 2)), torch.zeros(0, 3, 2))
    with pytest.raises(ValueError, match=r"^randn\(dtype=\.\.\.\) must be a floating torch dtype"):
        randn((2, 2), None, "cpu", torch.int32)
    torch.testing.assert_close(clip(torch.tensor([[2.0, -2.0]]), (torch.tensor(-1.0), torch.tensor(1.0))),
                               torch.tensor([[1.0, -1.0]]))
    assert randn((2, 2), torch.Generator().manual_seed(0), "cpu", torch.float64).dtype == torch.float64


@pytest.fixture(scope="module")
def world():
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room", action_mean=(0.0, 0.0), action_std=(1.0, 1.0))
    model, env = LeWM(cfg.model).eval(), make("two_room", image_size=32)
    return model, cfg, env, setup_plan(model, cfg, env, START, GOAL)


def test_pl48_to_pl54_stepwise_arguments(world):
    model, cfg, env, setup = world
    pc = PlannerConfig(num_samples=8, topk=2, iterations=1, horizon=2)
    K = cfg.model.action_block_dim
    cases = [
        (lambda: plan_recorded(setup, cfg, pc, seed=2.5), TypeError, r"^plan_recorded\(seed=\.\.\.\) must be a whole number, got 2.5"),
        (lambda: plan_recorded(setup, cfg, pc, seed="a"), TypeError, r"^plan_recorded\(seed=\.\.\.\) must be a whole number"),
        (lambda: plan_recorded(setup, cfg, pc, seed=2 ** 70), ValueError, r"^plan_recorded\(seed=\.\.\.\) must be in \[0, "),
        (lambda: plan_recorded(setup, cfg.to_dict(), pc), TypeError, r"^plan_recorded\(cfg=\.\.\.\) must be a LeWMConfig"),
        (lambda: plan_recorded(None, cfg, pc), TypeError, r"^plan_recorded\(setup=\.\.\.\) must be a PlanSetup"),
        (lambda: imagine_candidate(None, np.zeros((2, K))), TypeError, r"^imagine_candidate\(setup=\.\.\.\) must be a PlanSetup"),
        (lambda: canvas_grid(env, 10 ** 5), ValueError, r"^canvas_grid\(n=\.\.\.\) must be at most 1000 points per side"),
        (lambda: canvas_grid(env, True), ValueError, r"^canvas_grid needs n >= 2 points per side, got True"),
    ]
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()
    # valid calls: a numpy seed, a grid of 1000 per side, a candidate inside the bounds imagined as before
    assert torch.equal(plan_recorded(setup, cfg, pc, seed=np.int64(3)).actions, plan_recorded(setup, cfg, pc, seed=3).actions)
    assert canvas_grid(env, 1000)[0].shape == (10 ** 6, 2)
    # pl54: actions far outside the bounds imagined NaN latents; now clipped to the box, like execute_plan
    lo, hi = setup.bounds
    far = np.full((3, K), 1e30, np.float32)
    imag = imagine_candidate(setup, far)
    assert np.isfinite(imag).all()
    np.testing.assert_array_equal(imag, imagine_candidate(setup, np.tile(hi.numpy(), (3, 1))))
    inside = np.zeros((3, K), np.float32)
    with torch.no_grad():
        want = setup.cost.imagine(torch.as_tensor(inside)[None])[0].float().numpy()
    np.testing.assert_array_equal(imagine_candidate(setup, inside), want)


def test_pl69_to_pl79_run_episode_arguments_are_checked_before_any_step(world):
    model, cfg, env, _ = world
    pc = PlannerConfig(num_samples=8, topk=2, iterations=1, horizon=2)
    ok = dict(budget=2)
    cases = [
        (dict(cost_factory=5), TypeError, r"^run_episode\(cost_factory=\.\.\.\) must be None or callable"),
        (dict(stop_on_success="no"), TypeError, r"^run_episode\(stop_on_success=\.\.\.\) must be True or False, got 'no'"),
        (dict(record_plans="no"), TypeError, r"^run_episode\(record_plans=\.\.\.\) must be True or False, got 'no'"),
        (dict(cuda_graphs="yes"), TypeError, r"^run_episode\(cuda_graphs=\.\.\.\) must be True or False"),
        (dict(generator=5), TypeError, r"^run_episode\(generator=\.\.\.\) must be a torch.Generator"),
    ]
    for kw, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            run_episode(env, model, cfg, pc, START, GOAL, **{**ok, **kw})
    with pytest.raises(TypeError, match=r"^run_episode\(cfg=\.\.\.\) must be a LeWMConfig .* got dict"):
        run_episode(env, model, cfg.to_dict(), pc, START, GOAL, budget=2)
    res = run_episode(env, model, cfg, pc, START, GOAL, budget=2, record_plans=True, stop_on_success=False,
                      generator=torch.Generator().manual_seed(0), cost_factory=None)
    assert res.steps == 2 and len(res.plans) >= 1


def test_pl77_pl78_cc1_cc4_bounds_and_cost_builders(world):
    from lewm.data import action_stats_of
    model, cfg, _, setup = world
    stats = action_stats_of(cfg)
    cases = [
        (lambda: action_bounds(None, 5), TypeError, r"^action_bounds\(stats=\.\.\.\) must be an ActionStats .* got NoneType"),
        (lambda: action_bounds(setup.bounds, 5), TypeError, r"^action_bounds\(stats=\.\.\.\) must be an ActionStats .* got tuple"),
        (lambda: action_bounds(stats, 5, low=1, high=-1), ValueError, r"^action_bounds\(low=\.\.\., high=\.\.\.\): low must be <= high"),
        (lambda: action_bounds(stats, 5, low=float("nan")), ValueError, r"^action_bounds\(low=\.\.\.\) must be finite"),
        (lambda: compiled_cost_factory(bf16="no"), TypeError, r"^compiled_cost_factory\(bf16=\.\.\.\) must be True or False"),
        (lambda: graphed_goal_cost(None, torch.zeros(1, 1, 16), torch.zeros(16), None), TypeError,
         r"^graphed_goal_cost\(model=\.\.\.\) must be a LeWM model"),
        (lambda: graphed_goal_cost(model, torch.zeros(1, 1, 16), torch.zeros(16), None, bf16="no"), TypeError,
         r"^graphed_goal_cost\(bf16=\.\.\.\) must be True or False"),
    ]
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()
    lo, hi = action_bounds(stats, 5)
    assert lo.shape == (10,) and float(hi[0]) == 1.0 and float(lo[0]) == -1.0
    assert callable(compiled_cost_factory(bf16=True)) and callable(compiled_cost_factory())
