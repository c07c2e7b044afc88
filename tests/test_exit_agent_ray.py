"""Exit policies trained as Ray tasks (the ``ray`` backend of ``train_experts``)."""

from __future__ import annotations

import numpy as np
import pytest

from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent.agents import (
    OptimalStopExpert,
    PPOExitAgent,
    train_exit_policies,
)
from tests.test_exit_agent_env import BET12, random_candles

pytest.importorskip("sb3_contrib")


def test_policies_train_as_ray_tasks_like_on_this_machine(ray_cluster):
    episodes = E.build_episodes(random_candles(1200, seed=10), np.arange(30, 1200, 4), BET12)

    def policies():
        return [
            PPOExitAgent({"total_timesteps": 128, "n_steps": 64, "batch_size": 32}, seed=2),
            OptimalStopExpert({"n_estimators": 5}, seed=2),
        ]

    on_ray = train_exit_policies(episodes, policies(), backend="ray")
    here = train_exit_policies(episodes, policies(), use_processes=False)
    obs = episodes.obs[:100]
    ppo = on_ray[0].predict_proba(obs)
    assert ppo.shape == (100, 2) and np.allclose(ppo.sum(axis=1), 1.0)
    np.testing.assert_allclose(on_ray[1].predict_proba(obs), here[1].predict_proba(obs))
