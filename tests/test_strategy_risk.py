from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.strategy import risk_features, sizing, var_guard
from hyperphysics_strategy.strategy.settings import RiskSettings, load_settings
from tests.data_paths import load_candles


def test_var_budget_stake_keeps_var_within_the_budget():
    stake = sizing.var_budget_stake(1000.0, 0.20, 0.02, 10.0, 1e9)
    assert stake == pytest.approx(100.0)  # 100 * 0.20 = 20 = 2% of 1000
    # Higher VaR, smaller stake, same VaR in money.
    wider = sizing.var_budget_stake(1000.0, 0.40, 0.02, 10.0, 1e9)
    assert wider * 0.40 == pytest.approx(stake * 0.20)


def test_var_budget_stake_limits():
    assert sizing.var_budget_stake(1000.0, 0.01, 0.02, 10.0, 500.0) == 500.0  # capped
    assert sizing.var_budget_stake(1000.0, 5.0, 0.02, 10.0, 500.0) == 0.0  # below min: skip
    assert sizing.var_budget_stake(1000.0, float("nan"), 0.02, 10.0, 500.0) is None
    with pytest.raises(ValueError, match="budget"):
        sizing.var_budget_stake(1000.0, 0.1, 0.0, 10.0, 500.0)


def test_es_stop_distance_scales_and_clamps():
    d = sizing.es_stop_distance(0.01, 9, 1.0, 0.005, 0.2)
    assert d == pytest.approx(0.03)
    assert sizing.es_stop_distance(0.0001, 9, 1.0, 0.005, 0.2) == 0.005
    assert sizing.es_stop_distance(0.5, 9, 1.0, 0.005, 0.2) == 0.2
    assert sizing.es_stop_distance(float("nan"), 9, 1.0, 0.005, 0.2) is None
    with pytest.raises(ValueError, match="floor"):
        sizing.es_stop_distance(0.01, 9, 1.0, 0.3, 0.2)


def test_settings_reject_unknown_and_bad_keys():
    assert load_settings({}) == RiskSettings()
    assert load_settings({"hyperphysics": {"var_budget": 0.05}}).var_budget == 0.05
    with pytest.raises(ValueError, match="hyperphysics.var_budgt"):
        load_settings({"hyperphysics": {"var_budgt": 0.05}})
    with pytest.raises(ValueError, match="hyperphysics.var_budget"):
        load_settings({"hyperphysics": {"var_budget": 2}})
    with pytest.raises(ValueError, match="stop_floor"):
        load_settings({"hyperphysics": {"stop_floor": 0.3, "stop_cap": 0.2}})


def test_var_guard_counts_only_recent_breaches():
    now = datetime(2021, 4, 20, tzinfo=UTC)
    trades = [
        var_guard.ClosedTrade(now - timedelta(hours=1), -0.30, 0.20),  # breach
        var_guard.ClosedTrade(now - timedelta(hours=2), -0.10, 0.20),  # loss within VaR
        var_guard.ClosedTrade(now - timedelta(hours=30), -0.50, 0.20),  # too old
        var_guard.ClosedTrade(now - timedelta(hours=3), -0.50, None),  # VaR unknown
        var_guard.ClosedTrade(now - timedelta(hours=4), -0.25, 0.20),  # breach
    ]
    lookback = timedelta(hours=24)
    assert var_guard.count_breaches(trades, now, lookback) == 2
    assert var_guard.should_pause(trades, now, lookback, 2)
    assert not var_guard.should_pause(trades, now, lookback, 3)


def test_risk_columns_on_real_candles(shared_candles):
    df = load_candles("BTC").iloc[:3000].copy()
    df = risk_features.add_risk_columns(df, GPURiskEngine(seed=0), 300, window=288)
    tail = df.iloc[300:]
    for col in ("%-var_95", "%-var_99", "%-es_95", "%-es_99", "%-atm_gamma", "%-atm_vega",
                "%-atm_theta", "hp_var_99_1d", "hp_es_99"):  # fmt: skip
        assert np.isfinite(tail[col]).all(), col
    assert (tail["%-var_99"] >= tail["%-var_95"]).all()
    assert (tail["%-es_99"] >= tail["%-var_99"]).all()
    assert (tail["%-atm_theta"] < 0).all() and (tail["%-atm_gamma"] > 0).all()
    assert np.allclose(tail["hp_var_99_1d"], tail["%-var_99"] * np.sqrt(288))
    assert df["%-var_99"].iloc[:287].isna().all()  # warm-up
    # ATM option, r = 0: |theta|/S = sigma phi(d1) / (2 sqrt T) rises with volatility,
    # gamma*S = phi(d1) / (sigma sqrt T) falls: both track the volatility regime.
    vol = tail["hp_vol_annual"]
    assert np.corrcoef(vol, -tail["%-atm_theta"])[0, 1] > 0.99
    assert np.corrcoef(vol, tail["%-atm_gamma"])[0, 1] < -0.9


def test_risk_columns_short_frame_is_all_nan():
    df = load_candles("BTC").iloc[:50].copy()
    df = risk_features.add_risk_columns(df, GPURiskEngine(seed=0), 300, window=288)
    assert df["%-var_99"].isna().all()


def test_risk_management_columns_add_no_model_features(shared_candles):
    df = load_candles("ETH").iloc[:1000].copy()
    before = set(df.columns)
    df = risk_features.add_risk_management_columns(df, GPURiskEngine(seed=0), 300, window=288)
    added = set(df.columns) - before
    assert added and all(c.startswith("hp_") for c in added)
    assert np.isfinite(df["hp_var_99_1d"].iloc[300:]).all()
