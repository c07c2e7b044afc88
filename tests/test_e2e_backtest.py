"""The real `freqtrade backtesting` against the exchange simulator, with `init`'s stubs.

The backtest is the one that `hyperphysics demo` runs for test_e2e_plot.py too (the
session fixture ``demo_backtest``): one freqtrade run serves both."""

from __future__ import annotations

import functools

import joblib
import numpy as np
import pandas as pd
import pytest
from freqtrade.data.btanalysis import load_backtest_data
from freqtrade.data.converter import ohlcv_fill_up_missing_data

from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.strategy import features, risk_features, sizing
from hyperphysics_strategy.strategy.settings import RiskSettings
from tests.freqtrade_e2e import DEMO_PAIRS, assert_clean_log, model_files

pytestmark = pytest.mark.e2e

PAIRS = DEMO_PAIRS
HORIZON = 12  # label_period_candles of the example config


def test_backtesting_with_the_ensemble_trades_and_saves_every_window(demo_backtest):
    """The shared backtest (tests/freqtrade_e2e.py): BTC and ETH, two 3-day windows,
    the pinned loose thresholds, trades exported."""
    assert demo_backtest.returncode == 0, demo_backtest.output[-4000:]
    userdir = demo_backtest.userdir
    log = (userdir / "logs" / "demo-backtest.log").read_text()
    assert_clean_log(log)

    models = model_files(userdir, "e2e")
    assert set(models) == {"BTC", "ETH"}, models
    assert all(len(files) == 2 for files in models.values()), models  # one per window

    model = joblib.load(next(iter(models.values()))[0])
    assert [e.name for e in model.experts_] == ["lightgbm", "xgboost"]
    assert list(model.classes_) == ["sell", "neutral", "buy"]
    # the stacked blend, fitted on out-of-fold blocks (one fold + validation)
    assert model.stacker_ is not None and model.report_.calibration["method"] == "stack"
    assert model.report_.calibration["stacking_blocks"] >= 2
    assert "stacked logistic model" in log
    assert "Loading parameters from file" in log  # the pinned thresholds were used
    assert log.count("up to 2 of 2 backtest windows train at once") == 2  # per pair

    trades = load_backtest_data(userdir / "backtest_results")
    assert len(trades) > 0
    assert set(trades["pair"]) <= set(PAIRS)
    assert "HyperPhysics" in log and "val log-loss" in log
    check_var_stakes_and_stops(trades)
    check_exits_at_the_barriers(trades)


def test_demo_backtest_and_chart_log_no_error_line(demo_backtest):
    """An offline run logs no ERROR at all (freqtrade's ERROR lines, not only tracebacks)."""
    assert demo_backtest.returncode == 0, demo_backtest.output[-4000:]
    for name in ("demo-backtest.log", "demo-plot.log"):
        log = (demo_backtest.userdir / "logs" / name).read_text()
        errors = [line for line in log.splitlines() if " - ERROR - " in line]
        assert not errors, f"{name}:\n" + "\n".join(errors[:10])


@functools.cache
def risk_columns(pair: str) -> pd.DataFrame:
    """The pair's risk columns and barrier sigma, recomputed from its candles (once per pair)."""
    raw = pd.read_feather(demo_data_dir() / f"{pair.replace('/', '_')}-5m.feather")
    # freqtrade fills missing candles before the strategy sees them: do the same.
    candles = ohlcv_fill_up_missing_data(raw, "5m", pair)
    risk = risk_features.add_risk_columns(candles, GPURiskEngine(seed=0), 300)
    risk["sigma"] = features.barrier_sigma(risk["close"], 288)
    return risk.set_index("date")


def signal_rows(trades: pd.DataFrame) -> pd.DataFrame:
    """Risk columns of each trade's signal candle, recomputed from the candles."""
    rows = []
    for _, trade in trades.iterrows():
        risk = risk_columns(trade.pair)
        row = risk.loc[trade.open_date - pd.Timedelta(minutes=5)].copy()  # entry = next open
        exit_candle = risk.loc[trade.close_date]
        row["exit_open"], row["exit_high"], row["exit_low"] = (
            exit_candle["open"],
            exit_candle["high"],
            exit_candle["low"],
        )
        rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True)


def barrier_prices(trade, sigma: float) -> tuple[float, float]:
    d = sigma * HORIZON**0.5  # k_up = k_down = 1
    return trade.open_rate * np.exp(d), trade.open_rate * np.exp(-d)


def profit_after_fees(trade, rate: float) -> float:
    return (rate * (1 - trade.fee_close)) / (trade.open_rate * (1 + trade.fee_open)) - 1


def check_exits_at_the_barriers(trades: pd.DataFrame) -> None:
    """Every exit is one of the trade's three barriers, fixed at entry."""
    trades = trades.sort_values("open_date").reset_index(drop=True)
    signal = signal_rows(trades)
    tick = 0.01  # the simulator's price step for these pairs
    reasons = set(trades["exit_reason"])
    assert reasons <= {"roi", "stop_loss", "trailing_stop_loss", "time_barrier", "force_exit"}
    for i, trade in trades.iterrows():
        take, stop = barrier_prices(trade, signal.loc[i, "sigma"])
        es = sizing.es_stop_distance(signal.loc[i, "hp_es_99"], HORIZON, 1.0, 0.01, 0.12)
        es_price = trade.open_rate * (1 + trade.fee_open) * (1 - es) / (1 - trade.fee_close)
        nearer = max(stop, es_price)
        held = (trade.close_date - trade.open_date) / pd.Timedelta(minutes=5)
        if trade.exit_reason == "roi":
            # at the upper barrier, or at the open when the candle opened beyond it
            want = max(take, signal.loc[i, "exit_open"])
            assert trade.close_rate == pytest.approx(want, abs=tick), (i, trade.close_rate, take)
            assert signal.loc[i, "exit_high"] >= take - tick
            assert held <= HORIZON
        elif trade.exit_reason in ("stop_loss", "trailing_stop_loss"):
            want = min(nearer, signal.loc[i, "exit_open"])
            assert trade.close_rate == pytest.approx(want, abs=tick), (i, trade.close_rate, nearer)
            assert held <= HORIZON
        elif trade.exit_reason == "time_barrier":
            assert held == HORIZON, (i, held)
            assert trade.close_rate == pytest.approx(signal.loc[i, "exit_open"])
        if trade.exit_reason != "force_exit":
            # the stop on the trade is the nearer of the barrier and the ES stop
            assert trade.stop_loss_abs == pytest.approx(nearer, abs=tick), (i, nearer)
            assert profit_after_fees(trade, trade.stop_loss_abs) >= -es - 5e-4


def check_var_stakes_and_stops(trades: pd.DataFrame) -> None:
    settings = RiskSettings()
    trades = trades.sort_values("open_date").reset_index(drop=True)
    signal = signal_rows(trades)
    start_balance = 1000.0  # dry_run_wallet of the example config
    on_budget = 0
    for i, trade in trades.iterrows():
        # Stake: one-day 99% VaR of the position = var_budget x wallet (0.99 tradable).
        closed_before = trades[trades.close_date <= trade.open_date]["profit_abs"].sum()
        wallet = 0.99 * (start_balance + closed_before)
        var_money = trade.stake_amount * signal.loc[i, "hp_var_99_1d"]
        assert var_money <= settings.var_budget * wallet * 1.02, (i, var_money, wallet)
        on_budget += abs(var_money / (settings.var_budget * wallet) - 1) < 0.02
    # Trades not capped by freqtrade's proposed stake sit exactly on the budget.
    assert on_budget >= 0.5 * len(trades)
