"""lewm.planning.config: every planner knob checked on construction; the paper's settings."""
import pytest

from lewm.planning import PAPER_PLANNER, PlannerConfig


@pytest.mark.parametrize("kw,match", [
    ({"solver": "adam"}, "unknown solver"),
    ({"cost_steps": "first"}, "cost_steps"),
    ({"horizon": 0}, "planner.horizon must be in \\[1, 1000\\], got 0"),
    ({"num_samples": 0}, "planner.num_samples"),
    ({"iterations": 0}, r"planner.iterations must be in \[1, 10000\], got 0"),
    ({"init_std": 0.0}, r"planner.init_std must be in \(0, 100\]"),
    ({"min_std": -1.0}, "planner.min_std"),
    ({"grad_restarts": 0}, "planner.grad_restarts"),
    ({"iterations": 2.5}, "planner.iterations must be a whole number"),
    ({"num_samples": 10, "topk": 30}, "topk must be in \\[1, num_samples=10\\]"),
    ({"horizon": 3, "receding_horizon": 4}, "receding_horizon must be in \\[1, horizon=3\\]"),
])
def test_bad_settings_are_one_clear_error(kw, match):
    with pytest.raises(ValueError, match=match):
        PlannerConfig(**kw)


def test_defaults_and_the_papers_protocol():
    d = PlannerConfig()
    assert (d.solver, d.horizon, d.num_samples, d.topk, d.iterations, d.receding_horizon, d.cost_steps) == \
        ("cem", 5, 300, 30, 10, 1, "last")
    p = PAPER_PLANNER  # DESIGN §2a: CEM 300 / top 30 / 30 iterations, horizon 5, re-plan every 5 blocks
    assert (p.solver, p.horizon, p.num_samples, p.topk, p.iterations, p.receding_horizon, p.cost_steps) == \
        ("cem", 5, 300, 30, 30, 5, "last")
    assert (p.init_std, p.min_std, p.warm_start) == (d.init_std, d.min_std, d.warm_start)
