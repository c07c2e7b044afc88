"""The strategy's barrier exits on freqtrade trade objects, long and (futures) short."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from freqtrade.enums import TradingMode
from freqtrade.persistence import LocalTrade

from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy
from hyperphysics_strategy.strategy.trade_barriers import (
    ES_STOP,
    STOP_PRICE,
    TAKE_PRICE,
    TIME_CANDLES,
)

OPEN = datetime(2021, 4, 20, 12, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("in_memory_custom_data")


def strategy(tmp_path, mode: str) -> HyperPhysicsStrategy:
    config = {
        "user_data_dir": tmp_path,
        "trading_mode": mode,
        "stake_currency": "USDT",
        "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": 12}},
    }
    return HyperPhysicsStrategy(config)


def trade(is_short: bool, take: float, stop: float, es: float) -> LocalTrade:
    t = LocalTrade(
        pair="BTC/USDT:USDT" if is_short else "BTC/USDT",
        open_rate=100.0,
        amount=1.0,
        stake_amount=100.0,
        fee_open=0.001,
        fee_close=0.001,
        is_short=is_short,
        leverage=1.0,
        open_date=OPEN,
        exchange="binance",
        trading_mode=TradingMode.FUTURES if is_short else TradingMode.SPOT,
    )
    t.set_custom_data(TAKE_PRICE, take)
    t.set_custom_data(STOP_PRICE, stop)
    t.set_custom_data(ES_STOP, es)
    t.set_custom_data(TIME_CANDLES, 12)
    return t


def stop_price(strat, t, rate: float) -> float:
    rel = strat.custom_stoploss(t.pair, t, OPEN, rate, t.calc_profit_ratio(rate), False)
    return rate * (1 + rel) if t.is_short else rate * (1 - rel)


@pytest.mark.parametrize("is_short", [False, True])
def test_take_profit_is_the_profit_at_the_barrier_fees_included(tmp_path, is_short):
    strat = strategy(tmp_path, "futures" if is_short else "spot")
    take = 98.0 if is_short else 102.0
    t = trade(is_short, take, 102.0 if is_short else 98.0, 0.05)
    roi = strat.custom_roi(t.pair, t, OPEN, 0, None, t.trade_direction)
    gross = (100.0 - take) / 100.0 if is_short else (take - 100.0) / 100.0
    assert roi == pytest.approx(t.calc_profit_ratio(take))
    assert roi < gross  # the fees come off the barrier's move
    # freqtrade's ROI exit price for this ratio is the barrier (the ratio has 8 decimals)
    assert t.calc_close_rate_for_roi(roi) == pytest.approx(take, abs=1e-6)


@pytest.mark.parametrize("is_short", [False, True])
def test_stop_is_the_nearer_of_the_barrier_and_the_es_stop(tmp_path, is_short):
    strat = strategy(tmp_path, "futures" if is_short else "spot")
    sign = -1 if is_short else 1
    barrier = 100.0 - sign * 2.0  # 2% away
    # ES stop 5% away (fees included): the barrier is nearer
    t = trade(is_short, 100.0 + sign * 2.0, barrier, 0.05)
    for rate in (100.0, 100.0 + sign * 1.0):
        assert stop_price(strat, t, rate) == pytest.approx(barrier, rel=1e-9)
    # ES stop 1% away: it is nearer, at -1% profit after fees
    t = trade(is_short, 100.0 + sign * 2.0, barrier, 0.01)
    es_price = stop_price(strat, t, 100.0)
    assert t.calc_profit_ratio(es_price) == pytest.approx(-0.01, abs=1e-9)
    assert abs(es_price - 100.0) < abs(barrier - 100.0)


def test_time_barrier_after_h_candles(tmp_path):
    strat = strategy(tmp_path, "spot")
    t = trade(False, 102.0, 98.0, 0.05)
    five = timedelta(minutes=5)
    assert strat.custom_exit(t.pair, t, OPEN + 11 * five, 100.0, 0.0) is None
    assert strat.custom_exit(t.pair, t, OPEN + 12 * five, 100.0, 0.0) == "time_barrier"


def test_the_model_extra_return_is_declared_for_freqai(tmp_path):
    strat = strategy(tmp_path, "spot")
    assert strat.config["freqai"]["extra_returns_per_train"] == {"hp_m_time": 0.0}
    assert math.isclose(strat.stoploss, -0.15) and strat.use_custom_roi
