"""Exit agents trained through the scheduler: N agents on N lanes against one after another.

    python benchmarks/perf/bench_exit_agents.py [--agents 4] [--timesteps 5000] [--pair BTC]
        [--threads]

The episodes are one pair's trades of every fifth candle (5m candles of
../shared/data/candles/binance, the package's default bet ``BetSpec()``; no model
probabilities: those observation inputs read 0). ``--agents`` PPO agents (seeds 0..N-1,
``--timesteps`` each) train twice, in one run:

* **one after another**: one ``train_experts`` batch per agent (the scheduler's lanes
  start and close for each);
* **N lanes**: all agents in one batch, one lane each (torch jobs in worker processes,
  or threads with ``--threads``), as many at once as the scheduler's CPU budget and the
  hardware plan allow.

Reported: wall seconds of each and their ratio, the lanes the scheduler used and the
machine. The agents are the same either way (same seeds); nothing here judges them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common import CANDLES  # noqa: E402
from common.table import print_table  # noqa: E402

from hyperphysics_strategy.ensemble.scheduling import default_scheduler  # noqa: E402
from hyperphysics_strategy.trading.barriers import trailing_sigma  # noqa: E402
from hyperphysics_strategy.trading.bet import BetSpec  # noqa: E402
from hyperphysics_strategy.trading.exit_agent.agents import (  # noqa: E402
    PPOExitAgent,
    train_exit_policies,
)
from hyperphysics_strategy.trading.exit_agent.episodes import build_episodes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--timesteps", type=int, default=5000)
    ap.add_argument("--pair", default="BTC")
    ap.add_argument("--threads", action="store_true", help="lanes run agents in threads")
    args = ap.parse_args()
    candles = pd.read_feather(CANDLES / f"{args.pair}_USDT-5m.feather")
    candles["hp_sigma"] = trailing_sigma(candles["close"].to_numpy(np.float64), 288)
    episodes = build_episodes(candles, np.arange(300, len(candles), 5), BetSpec())
    use_processes = False if args.threads else None

    def agents() -> list[PPOExitAgent]:
        return [
            PPOExitAgent({"total_timesteps": args.timesteps}, seed=s) for s in range(args.agents)
        ]

    t0 = time.perf_counter()
    for agent in agents():
        train_exit_policies(episodes, [agent], use_processes=use_processes)
    one_by_one = time.perf_counter() - t0
    start = len(default_scheduler().history)
    t0 = time.perf_counter()
    train_exit_policies(episodes, agents(), use_processes=use_processes)
    lanes = time.perf_counter() - t0
    used = sorted({r.lane for r in list(default_scheduler().history)[start:]})
    batch = f"one batch ({len(used)} lane{'s' if len(used) > 1 else ''}: {', '.join(used)})"
    print_table(
        f"{args.agents} PPO exit agents x {args.timesteps:,} steps, {len(episodes):,} trades of "
        f"{args.pair}/USDT ({'threads' if args.threads else 'worker processes'})",
        ["training", "wall s", "ratio"],
        [
            ["one after another", f"{one_by_one:.1f}", "1.00"],
            [batch, f"{lanes:.1f}",
             f"{one_by_one / lanes:.2f}"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
