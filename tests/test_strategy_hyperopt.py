"""The strategy's hyperopt parameters (issue #21, finding 6): the entry margin (buy), the
exit barriers' widths (sell) and the VaR budget (its own space, stake), and that each one
reaches the trade it is meant to change."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest
from freqtrade.enums import TradingMode
from freqtrade.persistence import LocalTrade
from freqtrade.persistence.custom_data import CustomDataWrapper
from freqtrade.strategy.hyper import detect_all_parameters

from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy
from hyperphysics_strategy.strategy.trade_barriers import STOP_PRICE, TAKE_PRICE

OPEN = datetime(2021, 4, 20, 12, 0, tzinfo=UTC)
SIGMA, VAR_1D, H = 0.004, 0.05, 12


pytestmark = pytest.mark.usefixtures("in_memory_custom_data")


@pytest.fixture
def strat(tmp_path):
    s = HyperPhysicsStrategy(
        {
            "user_data_dir": tmp_path,
            "stake_currency": "USDT",
            "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": H}},
        }
    )
    s.freqai_info = s.config["freqai"]
    row = pd.DataFrame({"hp_sigma": [SIGMA], "hp_es_99": [0.01], "hp_var_99_1d": [VAR_1D]})
    s.dp = SimpleNamespace(get_analyzed_dataframe=lambda pair, timeframe: (row, None))
    s.wallets = SimpleNamespace(get_total_stake_amount=lambda: 1000.0)
    return s


def test_the_spaces_and_their_ranges():
    spaces = {
        space: {name: (p.low, p.high, p.value) for name, p in params.items()}
        for space, params in detect_all_parameters(HyperPhysicsStrategy).items()
    }
    assert spaces == {
        "buy": {"entry_ev_margin": (0.0, 0.5, 0.0)},
        "sell": {"exit_take_scale": (0.5, 2.0, 1.0), "exit_stop_scale": (0.5, 2.0, 1.0)},
        "stake": {"stake_var_budget": (0.005, 0.05, 0.02)},
    }


def filled(strat) -> LocalTrade:
    trade = LocalTrade(
        pair="BTC/USDT", open_rate=100.0, amount=1.0, stake_amount=100.0, fee_open=0.001,
        fee_close=0.001, is_short=False, leverage=1.0, open_date=OPEN, exchange="binance",
        trading_mode=TradingMode.SPOT,
    )  # fmt: skip
    strat.order_filled("BTC/USDT", trade, SimpleNamespace(ft_order_side="buy"), OPEN)
    return trade


def test_exit_scales_move_the_trades_barriers(strat, monkeypatch):
    width = SIGMA * math.sqrt(H)  # the label's barriers: k_up = k_down = 1
    trade = filled(strat)
    assert trade.get_custom_data(TAKE_PRICE) == pytest.approx(100 * math.exp(width))
    assert trade.get_custom_data(STOP_PRICE) == pytest.approx(100 * math.exp(-width))
    CustomDataWrapper.reset_custom_data()
    monkeypatch.setattr(HyperPhysicsStrategy.exit_take_scale, "value", 2.0)
    monkeypatch.setattr(HyperPhysicsStrategy.exit_stop_scale, "value", 0.5)
    trade = filled(strat)
    assert trade.get_custom_data(TAKE_PRICE) == pytest.approx(100 * math.exp(2.0 * width))
    assert trade.get_custom_data(STOP_PRICE) == pytest.approx(100 * math.exp(-0.5 * width))


def stake(strat) -> float:
    return strat.custom_stake_amount(
        "BTC/USDT", OPEN, 100.0, 1000.0, 5.0, 1000.0, 1.0, None, "long"
    )


def test_the_var_budget_is_the_configs_unless_hyperopt_tunes_it(strat, monkeypatch):
    param = HyperPhysicsStrategy.stake_var_budget
    monkeypatch.setattr(param, "value", 0.01)
    assert stake(strat) == pytest.approx(0.02 * 1000 / VAR_1D)  # hyperphysics.var_budget
    monkeypatch.setattr(param, "in_space", True)  # hyperopt over --spaces stake
    assert stake(strat) == pytest.approx(0.01 * 1000 / VAR_1D)
    monkeypatch.setattr(param, "in_space", False)
    monkeypatch.setattr(strat, "_ft_params_from_file", {"stake": {"stake_var_budget": 0.01}})
    assert stake(strat) == pytest.approx(0.01 * 1000 / VAR_1D)  # from a parameter file
