"""lewm.diagnostics.landscape: the goal-cost landscape and its score for a perfect and a scrambled Two-Room encoder."""
import numpy as np
from scipy.stats import spearmanr

from _known_worlds import _DotCentroid


def test_goal_cost_landscape_perfect_and_scrambled_encoders():
    from lewm.diagnostics import goal_cost_landscape, landscape_score
    from lewm.envs import make
    env = make("two_room", image_size=64)
    goal = np.array([60.0, 120.0])
    good = goal_cost_landscape(_DotCentroid(), env, goal, n=20)
    assert good.cost.shape == (20, 20) and np.isnan(good.cost).sum() > 0  # the wall is masked
    # left-room cells: cost = Euclidean² = path² -> rank correlation ~1 there; overall still high
    left = np.isfinite(good.cost) & (good.xs[None, :] < 100)
    assert spearmanr(good.cost[left], good.true_dist[left]).statistic > 0.99
    assert good.spearman > 0.8 and good.greedy_accuracy > 0.85
    bad = landscape_score(_DotCentroid(scramble=True), env, [goal, np.array([170.0, 60.0])], n=20)
    assert abs(bad["spearman"]) < 0.2 and bad["greedy_accuracy"] < 0.7
