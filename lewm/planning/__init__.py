"""Planning in latent space: CEM (the paper's), MPPI and gradient descent over action blocks, MPC.

One concept per module, read top to bottom:

- :mod:`.config`        :class:`PlannerConfig` (every knob, with its range), ``PAPER_PLANNER``;
- :mod:`.records`       :class:`PlanResult`, :class:`IterationRecord`: what a plan returns;
- :mod:`.sampling`      the loop CEM and MPPI share (sample, clip, score, refit);
- :mod:`.cem`           :func:`cem` — the lesson; :mod:`.mppi` :func:`mppi`; :mod:`.grad` :func:`grad_plan`;
- :mod:`.solvers`       :func:`plan`: the solver ``cfg.solver`` names;
- :mod:`.cost`          :class:`LatentGoalCost`: roll the predictor, compare to the goal latent;
  :mod:`.graphed_cost`  the same cost replayed from CUDA graphs;
  :mod:`.compiled_cost` the same cost with the rollout compiled by ``torch.compile`` (CPU: fused loops);
- :mod:`.env_space`     :func:`action_bounds`, :func:`to_pixels_tensor`: env space to model space;
- :mod:`.episode`       :func:`run_episode`: receding-horizon MPC in an environment;
- :mod:`.stepwise`      one plan at a time for a view (:func:`setup_plan`, :func:`plan_recorded`, ...).

Planning depends on the model, the data's action normalisation and the config only: never on
the trainer, and the environment is always passed in.
"""
from .cem import cem
from .compiled_cost import CompiledGoalCost, compiled_cost_factory
from .config import PAPER_PLANNER, PlannerConfig
from .cost import LatentGoalCost
from .env_space import action_bounds, to_pixels_tensor
from .episode import EpisodeResult, run_episode
from .graphed_cost import GraphedGoalCost, graphed_goal_cost
from .grad import grad_plan
from .mppi import mppi
from .records import IterationRecord, PlanResult
from .solvers import SOLVERS, plan
from .stepwise import (PlanSetup, canvas_grid, clamp_state, execute_plan, imagine_candidate, latent_distances,
                       plan_recorded, setup_plan)

__all__ = [
    "PAPER_PLANNER", "PlannerConfig",
    "IterationRecord", "PlanResult",
    "SOLVERS", "cem", "grad_plan", "mppi", "plan",
    "CompiledGoalCost", "GraphedGoalCost", "LatentGoalCost", "compiled_cost_factory", "graphed_goal_cost",
    "action_bounds", "to_pixels_tensor",
    "EpisodeResult", "run_episode",
    "PlanSetup", "canvas_grid", "clamp_state", "execute_plan", "imagine_candidate", "latent_distances",
    "plan_recorded", "setup_plan",
]
