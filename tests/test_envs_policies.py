"""lewm.envs.policies: the expert and random policies give valid actions in every registered environment."""
import numpy as np
import pytest

from lewm.envs import list_envs, make
from lewm.envs.policies import make_policy

NAMES = list_envs()
SIZE = 32


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["expert", "random"])
def test_policies_give_valid_actions(name, kind):
    env = make(name, image_size=SIZE)
    env.render_on_step = False
    env.reset(seed=0)
    pol = make_policy(env, kind, np.random.default_rng(0))
    pol.reset(env)
    for _ in range(30):
        a = pol(env)
        assert a.shape == (env.action_dim,) and a.dtype == np.float32
        assert np.all(np.abs(a) <= 1)
        env.step(a)
    with pytest.raises(ValueError, match="expert.*random"):
        make_policy(env, "nope", np.random.default_rng(0))
