"""`freqtrade backtesting` with the exit agent: ``on`` exits trades through it (the exports
show ``exit_agent`` exits, and the demo's exit table counts them in its ``agent`` row);
``auto`` with an agent that did not beat the barriers trades exactly as ``off``.

One freqtrade process backtests three strategies (``--strategy-list``) over two days of
one pair with a single LightGBM expert; all read the same saved agent, whose verdict says
it did not beat the barriers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from freqtrade.data.btanalysis import (
    get_latest_backtest_filename,
    load_backtest_analysis_data,
    load_backtest_data,
)

from hyperphysics_strategy.cli.barrier_exits import classify_exits, exit_summary
from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent import store
from hyperphysics_strategy.trading.exit_agent.agents import OptimalStopExpert, pack
from tests.freqtrade_e2e import run_freqtrade

pytestmark = pytest.mark.e2e

HORIZON = 12
STRATEGIES = """
from hyperphysics_strategy.strategy import HyperPhysicsStrategy as _Base


class _Mode(_Base):
    MODE = "auto"

    def __init__(self, config):
        super().__init__(config)
        self.settings = self.settings.model_copy(update={"exit_agent": self.MODE})


class AgentOn(_Mode):
    MODE = "on"


class AgentOff(_Mode):
    MODE = "off"
"""


def falling_agent(folder):
    """A policy trained where prices only fall (exiting now always beats later): it exits
    nearly everywhere; saved with a verdict that says it did not beat the barriers."""
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(-0.002, 0.001, 3000)))
    df = pd.DataFrame({"open": close, "high": close * 1.0005, "low": close * 0.9995})
    df["close"], df["hp_sigma"] = close, 0.004
    ep = E.build_episodes(df, np.arange(0, 3000, 3), BetSpec(horizon=HORIZON))
    policy = OptimalStopExpert({"n_estimators": 5}).fit(pack(ep))
    verdict = store.Verdict(
        policy=policy.name,
        bet=store.BetConfig(timeframe="5m", horizon=HORIZON, k_up=1, k_down=1, fee=0.001),
        pairs=("BTC/USDT",), confirm_timerange="20210401-20210601", trades=50,
        bp_per_trade=-9.0, barrier_trades=50, barrier_bp_per_trade=-2.0, beats_barriers=False,
        policies_tried=1, dsr=None, created=datetime(2026, 12, 7, tzinfo=UTC),
    )  # fmt: skip
    store.save_exit_agent(folder, policy, verdict)


def test_backtesting_with_the_exit_agent_on_auto_and_off(tmp_path):
    agent = tmp_path / "exit_agent"
    falling_agent(agent)
    override = {
        "freqai": {
            "identifier": "e2e-exit",
            "train_period_days": 4,
            "backtest_period_days": 1,
            "feature_parameters": {"include_timeframes": ["5m"], "indicator_periods_candles": [10]},
            "model_training_parameters": {"use_processes": False, "lightgbm": {"n_estimators": 20}},
        },
        "hyperphysics": {"exit_agent_folder": str(agent)},
    }
    run = run_freqtrade(
        tmp_path, "backtesting",
        "--strategy-list", "HyperPhysicsStrategy", "AgentOn", "AgentOff",
        "--freqaimodel", "HyperPhysicsLightGBMClassifier",
        "--timerange", "20210421-20210423", "--cache", "none", "--export", "signals",
        pairs=["BTC/USDT"], override=override,
        strategy_params={"buy": {"entry_ev_margin": -0.3}},
        files={"strategies/ExitAgentModes.py": STRATEGIES},
    )  # fmt: skip
    results = run.userdir / "backtest_results"
    trades = {
        s: load_backtest_data(results, s) for s in ("HyperPhysicsStrategy", "AgentOn", "AgentOff")
    }
    on, auto, off = trades["AgentOn"], trades["HyperPhysicsStrategy"], trades["AgentOff"]
    assert len(off) > 0
    # auto: the saved agent did not beat the barriers, so the trades are exactly off's
    columns = ["open_date", "close_date", "open_rate", "close_rate", "exit_reason"]
    pd.testing.assert_frame_equal(auto[columns], off[columns])
    assert "exit_agent" not in set(off["exit_reason"])
    # whitespace collapsed: freqtrade's log handler may wrap a long line (seen under xdist)
    log = " ".join(run.log.split())
    assert "did not beat the barriers out of sample" in log, run.log[-3000:]
    # on: the agent exits trades before their time barrier, and says so
    agent_exits = on[on["exit_reason"] == "exit_agent"]
    assert len(agent_exits) > 0, on["exit_reason"].value_counts()
    held = (agent_exits["close_date"] - agent_exits["open_date"]) / pd.Timedelta(minutes=5)
    assert held.between(1, HORIZON - 1).all(), held
    assert "HyperPhysics exit agent BTC/USDT trade" in log
    assert "hyperphysics.exit_agent is on: exit_optimal_stop manages exits" in log
    # the exported signals give the demo's exit table its agent row
    signals = load_backtest_analysis_data(
        results / get_latest_backtest_filename(results), "signals"
    )
    kinds = classify_exits(on, signals["AgentOn"], HORIZON)
    assert (kinds[on["exit_reason"] == "exit_agent"] == "agent").all()
    summary = exit_summary(on, kinds).set_index("kind")
    assert summary.loc["agent", "trades"] == len(agent_exits)
