"""Planner settings: one frozen record of every knob the solvers and the MPC loop read.

``PlannerConfig()`` is the library's default (DESIGN §2 with 10 CEM iterations and re-planning
after every block); ``PAPER_PLANNER`` is the paper's protocol as the field's code runs it
(DESIGN §2a): CEM 300 samples / top 30 / 30 iterations, horizon 5 blocks, re-plan every 5 blocks,
the goal cost on the last imagined block.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..validate import check_fields, ranged

SOLVER_NAMES = ("cem", "mppi", "grad")
COST_STEPS = ("last", "all", "min")
PLAN_FROM = ("mean", "best")


@dataclass(frozen=True)
class PlannerConfig:
    """Solver settings (DESIGN §2 defaults). Every field is checked on construction; a bad value
    is one ValueError naming ``planner.<field>`` and its allowed range."""

    solver: str = ranged("cem", choices=SOLVER_NAMES)
    """'cem' | 'mppi' | 'grad'."""
    horizon: int = ranged(5, lo=1, hi=1000)
    """Planning horizon P in action blocks (each block = frameskip env steps). Allowed: [1, 1000]."""
    num_samples: int = ranged(300, lo=1, hi=100_000)
    """Candidate action sequences per iteration (CEM / MPPI). Allowed: [1, 100000] (1e10 was taken and
    failed in the allocator), and 2 or more for CEM / MPPI: candidate 0 is the current mean, so one sample never
    moves the plan (round 30)."""
    topk: int = ranged(30, lo=1, hi=100_000)
    """Elites kept per CEM iteration. Allowed: [1, num_samples]."""
    iterations: int = ranged(10, lo=1, hi=10_000)
    """Optimisation iterations per plan (the paper: 30 for PushT, 10 otherwise). Allowed: [1, 10000]."""
    init_std: float = ranged(1.0, lo=0.0, hi=100.0, lo_open=True)
    """Initial sampling std in the normalised action space (z-scored: the action box spans a few
    units). Allowed: (0, 100]."""
    min_std: float = ranged(0.05, lo=0.0, hi=100.0)
    """Floor on the sampling std (keeps exploring). Allowed: [0, 100]."""
    temperature: float = ranged(0.1, lo=0.0, lo_open=True)
    """MPPI: softmax temperature, relative to the spread of the iteration's costs. Allowed: > 0."""
    grad_lr: float = ranged(0.1, lo=0.0, hi=10.0, lo_open=True)
    """Gradient planner: Adam learning rate on the actions (Adam's step is about lr per iteration, in
    normalised action units). Allowed: (0, 10]."""
    grad_restarts: int = ranged(16, lo=1, hi=100_000)
    """Gradient planner: parallel random initialisations (the best one is returned). Allowed: [1, 100000]."""
    receding_horizon: int = ranged(1, lo=1)
    """MPC: action blocks executed before re-planning. Allowed: [1, horizon]."""
    warm_start: bool = True
    """MPC: initialise each plan with the previous plan shifted by the executed blocks."""
    stop_tol: float = ranged(0.0, lo=0.0)
    """CEM / MPPI early stop: end the plan once an iteration moves the sampling mean by less than this
    (largest change of any action number, in normalised action units), i.e. the elites have settled.
    0 = off: every plan runs all ``iterations`` (the default and the paper's protocol). For long plans
    (30+ iterations): on the shipped agents the mean still moves 0.27-0.41 per iteration at iteration
    10, so a tolerance of 0.05 never fires there (docs/benchmarks.md). Costs one host sync per
    iteration when on. Allowed: >= 0."""
    cost_steps: str = ranged("last", choices=COST_STEPS)
    """Which imagined latents the goal cost reads: 'last' = ``‖ẑ_P − z_goal‖²`` only (the paper,
    DESIGN §2), or 'all' = the mean of ``‖ẑ_p − z_goal‖²`` over the P imagined blocks. A
    terminal-only cost is indifferent to *when* the goal is reached, so the CEM mean spreads the
    move over the whole horizon and receding-horizon MPC closes only ~1/P of the remaining gap per
    plan; 'all' rewards arriving early. 'min' = the smallest ``‖ẑ_p − z_goal‖²`` over the P blocks: the
    goal reached at any block of the horizon counts, as the success test counts it at any step, and a
    route through latents far from the goal's is not penalised on its way (with 'all' such a route can
    cost more than standing still, and the arm stalls: docs/reacher_findings.md §13)."""
    cost_mean_weight: float = ranged(0.0, lo=0.0, hi=100.0)
    """Added to the goal cost: this weight × the mean of ``‖ẑ_p − z_goal‖²`` over the P blocks. With
    ``cost_steps='min'`` it breaks the ties 'min' leaves: of two routes that reach the goal, the one that
    gets there sooner and stays costs less (the shipped Reacher agent: 0.1, docs/reacher_findings.md §13).
    0 = off (the paper). Allowed: [0, 100]."""
    plan_from: str = ranged("mean", choices=PLAN_FROM)
    """CEM / MPPI: which sequence the plan returns. 'mean' = the final sampling mean (the paper and the
    field's code); 'best' = the lowest-cost candidate scored in any iteration (the final mean included).
    When the elites split between two ways to the goal (a joint that may turn either way by ~π), their
    mean lies between them and can stand still; the best candidate commits to one. Allowed: 'mean' | 'best'."""

    def __post_init__(self):
        if self.solver not in SOLVER_NAMES:  # the historical message, before the generic one
            raise ValueError(f"unknown solver '{self.solver}'; choose cem, mppi or grad")
        if self.cost_steps not in COST_STEPS:
            raise ValueError(f"cost_steps must be 'last', 'all' or 'min', got {self.cost_steps!r}")
        if self.plan_from not in PLAN_FROM:
            raise ValueError(f"plan_from must be 'mean' or 'best', got {self.plan_from!r}")
        check_fields(self, "planner")
        for f in fields(self):  # a Fraction / Decimal passed check_fields but made the result unwritable as JSON
            v = getattr(self, f.name)
            if type(f.default) is float and type(v) is not float:
                object.__setattr__(self, f.name, float(v))
            elif type(f.default) is int and type(v) is not int:
                object.__setattr__(self, f.name, int(v))
        if self.solver != "grad" and self.num_samples < 2:  # candidate 0 is the mean: 1 sample never moves it
            raise ValueError(f"planner.num_samples must be >= 2 for the {self.solver} solver, got {self.num_samples}: "
                             f"its candidate 0 is the current sampling mean, so with one sample it scores only that "
                             f"and the plan never leaves its initial guess (the grad solver does not read it)")
        if not 1 <= self.topk <= self.num_samples:
            raise ValueError(f"topk must be in [1, num_samples={self.num_samples}], got {self.topk}")
        if not 1 <= self.receding_horizon <= self.horizon:
            raise ValueError(f"receding_horizon must be in [1, horizon={self.horizon}]")


PAPER_PLANNER = PlannerConfig(solver="cem", horizon=5, num_samples=300, topk=30, iterations=30,
                              receding_horizon=5, cost_steps="last")
"""The paper's solver as its evaluation runs it (DESIGN §2a): CEM 300 / top 30 / 30 iterations,
horizon 5, re-plan every 5 blocks, terminal goal cost."""
