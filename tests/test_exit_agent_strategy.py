"""The strategy's exit-agent hook: the observation it builds is the environment's, the
``auto`` / ``on`` / ``off`` modes, and what it records on the trade."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.strategy.exit_agent import DECISION, EXIT_REASON, ExitAgentHook
from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent import store
from hyperphysics_strategy.trading.exit_agent.agents import OptimalStopExpert, pack
from tests.test_exit_agent_env import BET12, random_candles
from tests.test_exit_agent_policies import BET, verdict

TF = 300


class FakeTrade(SimpleNamespace):
    def set_custom_data(self, key, value):
        self.custom[key] = value


def dated(n: int) -> pd.DataFrame:
    df = random_candles(n, seed=5)
    df.insert(0, "date", pd.date_range("2021-01-01", periods=n, freq="5min", tz="UTC"))
    return df


def trade_at(df: pd.DataFrame, t: int) -> FakeTrade:
    """A long filled on the candle after signal candle ``t`` at that candle's close."""
    return FakeTrade(
        id=7, is_short=False, open_rate=float(df["close"][t]),
        open_date_utc=df["date"][t + 1].to_pydatetime(), custom={},
    )  # fmt: skip


class Always:
    def __init__(self, p_exit: float) -> None:
        self.p = p_exit

    def predict_proba(self, X):
        return np.tile([1 - self.p, self.p], (len(X), 1))


def test_the_hook_sees_what_the_environment_shows(tmp_path):
    df = dated(400)
    t = 200
    ep = E.build_episodes(df, [t], BET12)
    hook = ExitAgentHook("on", tmp_path, BET)
    for step in range(BET.horizon - 1):
        if ep.forced[step]:
            break
        seen = hook.observation(df.iloc[: t + 2 + step], df["date"][t + 1], df["close"][t], TF)
        assert seen is not None and seen[0] == step
        np.testing.assert_allclose(seen[1], ep.obs[step], rtol=1e-5, atol=1e-6)
    # before the first full candle and at the time barrier's step it does not act
    assert hook.observation(df.iloc[: t + 1], df["date"][t + 1], df["close"][t], TF) is None
    last = t + 1 + BET.horizon - 1
    assert hook.observation(df.iloc[: last + 1], df["date"][t + 1], df["close"][t], TF) is None


def test_decisions_are_the_policy_s_and_recorded_on_the_trade(tmp_path):
    df = dated(300)
    trade = trade_at(df, 100)
    hook = ExitAgentHook("on", tmp_path, BET)
    hook.active_, hook.policy_ = True, Always(0.8)
    assert hook.decide("BTC/USDT", trade, df.iloc[:105], TF) == EXIT_REASON
    assert trade.custom[DECISION] == pytest.approx(0.8)
    hook.policy_ = Always(0.2)
    assert hook.decide("BTC/USDT", trade, df.iloc[:105], TF) is None
    assert trade.custom[DECISION] == pytest.approx(0.2)
    trade.is_short = True  # the policy learnt longs: shorts keep their barriers
    hook.policy_ = Always(0.9)
    assert hook.decide("BTC/USDT", trade, df.iloc[:105], TF) is None


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained optimal-stop policy saved twice: proven and not."""
    ep = E.build_episodes(random_candles(1200, seed=6), np.arange(30, 1200, 4), BET12)
    policy = OptimalStopExpert({"n_estimators": 5}).fit(pack(ep))
    root = tmp_path_factory.mktemp("agents")
    for beats in (True, False):
        store.save_exit_agent(root / str(beats), policy, verdict(policy.name, beats))
    return root, policy


def test_auto_asks_only_a_proven_agent(saved):
    root, policy = saved
    df = dated(300)
    proven = ExitAgentHook("auto", root / "True", BET)
    trade = trade_at(df, 100)
    proven.decide("BTC/USDT", trade, df.iloc[:106], TF)
    assert proven.active_ is True
    obs = proven.observation(df.iloc[:106], df["date"][101], df["close"][100], TF)[1]
    assert trade.custom[DECISION] == pytest.approx(policy.predict_proba(obs[None, :])[0, 1])
    for hook in (
        ExitAgentHook("auto", root / "False", BET),  # did not beat the barriers
        ExitAgentHook("auto", root / "True", BET.model_copy(update={"fee": 0.002})),
        ExitAgentHook("auto", root / "missing", BET),
        ExitAgentHook("off", root / "True", BET),
    ):
        trade = trade_at(df, 100)
        assert hook.decide("BTC/USDT", trade, df.iloc[:106], TF) is None
        assert hook.active_ is False and DECISION not in trade.custom
    on = ExitAgentHook("on", root / "False", BET)  # on: the saved one, proven or not
    on.check_start()
    assert on.active()
    ExitAgentHook("auto", root / "missing", BET).check_start()  # auto starts without one
    with pytest.raises(ValueError, match="exit_agent is on but no exit agent"):
        ExitAgentHook("on", root / "missing", BET).check_start()
    with pytest.raises(ValueError, match="exit_agent is on but no exit agent"):
        ExitAgentHook("on", root / "missing", BET).active()


def test_the_strategy_s_bet_is_the_trades_barriers(tmp_path, monkeypatch):
    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    freqai = {"enabled": True, "feature_parameters": {"label_period_candles": 24}}
    config = {"user_data_dir": tmp_path, "stake_currency": "USDT", "fee": 0.002, "freqai": freqai}
    strat = HyperPhysicsStrategy(config)
    strat.freqai_info = freqai  # set by freqtrade's ft_bot_start
    # the parameter object is the class's: restored after the test, or it leaks into others
    monkeypatch.setattr(strat.exit_take_scale, "value", 1.5)
    bet = strat._exit_agent_bet()
    assert (bet.horizon, bet.k_up, bet.k_down, bet.fee) == (24, 1.5, 1.0, 0.002)
    hook = strat.exit_agent_hook()
    assert hook.folder == tmp_path / "models" / "" / "exit_agent" and hook.mode == "auto"
