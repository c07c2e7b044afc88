"""The exit agent: policies that manage the open trades of the entry rule.

* :mod:`.episodes`: trades as episodes (observations known at each candle, rewards after
  fees, the barriers as hard limits), shared by training and the strategy;
* :mod:`.env`: the gymnasium environment over them (needs the ``rl`` extra);
* :mod:`.agents`: PPO and QR-DQN agents and the supervised optimal-stop baseline, as
  experts trained through the package's scheduler;
* :mod:`.evaluate`: trades of the entry rule exited by barriers or by a policy, judged;
* :mod:`.store`: an agent saved beside the FreqAI model with its out-of-sample verdict,
  and the ``auto`` rule that reads it.

Only :mod:`.env` and the RL agents' training need stable-baselines3 / sb3-contrib /
gymnasium; their error names the extra.
"""
