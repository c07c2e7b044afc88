"""The exit environment (gymnasium): one episode is one trade of the entry rule.

Built on :class:`~.episodes.Episodes`: ``reset`` picks a trade (one with at least one step
where the policy acts), ``step`` takes ``0`` (hold) or ``1`` (exit at this close). The
barriers stay hard limits: holding into a candle that touches one ends the episode with
that barrier's exit. The reward is the trade's net return after fees, in percent, paid at
the exit (0 while holding), so an episode's return is the trade's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .episodes import OBS_COLUMNS, Episodes
from .extra import require

gym = require("gymnasium")
spaces = gym.spaces

HOLD, EXIT = 0, 1
REWARD_SCALE = 100.0  # net return -> percent


class ExitEnv(gym.Env):
    """Trades of ``episodes`` in random order (``seed`` of ``reset``)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, episodes: Episodes) -> None:
        first = np.r_[True, episodes.episode[1:] != episodes.episode[:-1]]
        starts = np.flatnonzero(first & ~episodes.forced)
        if starts.size == 0:
            raise ValueError("no trade in which the exit policy acts: every one hit a barrier")
        self.episodes = episodes
        self.starts = starts
        self.observation_space = spaces.Box(-10.0, 10.0, (len(OBS_COLUMNS),), np.float32)
        self.action_space = spaces.Discrete(2)
        self.row = int(starts[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.row = int(self.starts[self.np_random.integers(self.starts.size)])
        return self.episodes.obs[self.row], {}

    def step(self, action):
        e, i = self.episodes, self.row
        if int(action) == EXIT:
            return (
                e.obs[i],
                REWARD_SCALE * float(e.exit_reward[i]),
                True,
                False,
                {"reason": "agent"},
            )
        self.row = i = i + 1
        if e.forced[i]:
            return e.obs[i], REWARD_SCALE * float(e.reward[i]), True, False, {"reason": "barrier"}
        return e.obs[i], 0.0, False, False, {}
