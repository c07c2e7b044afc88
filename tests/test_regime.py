"""The ``regime`` feature group (issue #25 item 4): Markov-switching regime probabilities fitted
on a training window only and filtered forward, so appending future candles, or starting the
data earlier, changes no past value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.strategy import features
from hyperphysics_strategy.strategy.settings import RegimeSettings, load_settings
from hyperphysics_strategy.trading.regime import (
    RegimeModel,
    log_returns,
    rolling_regime_probabilities,
)

# small blocks keep the fits (~0.5 s each) few: 5m candles, a model per 6 h fitted on 12 h
SMALL = RegimeSettings(enabled=True, fit_hours=12, refit_hours=6, warmup_hours=2)
CALM, WILD = 0.001, 0.004


def switching_candles(n: int, seed: int = 0, stretch: int = 300) -> pd.DataFrame:
    """5m candles whose volatility switches between CALM and WILD every ``stretch`` candles
    (starting calm at a midnight, so the blocks start with the data)."""
    rng = np.random.default_rng(seed)
    vol = np.where((np.arange(n) // stretch) % 2 == 0, CALM, WILD)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1, n) * vol))
    return pd.DataFrame(
        {"date": pd.date_range("2021-04-01", periods=n, freq="5min", tz="UTC"),
         "open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
         "volume": np.full(n, 10.0)}
    )  # fmt: skip


def regime_columns(candles: pd.DataFrame) -> pd.DataFrame:
    return features.add_regime_features(candles.copy(), 300, SMALL)[["%-regime_p1"]]


def test_future_candles_change_no_past_value_and_an_earlier_start_none_either():
    candles = switching_candles(1200)
    full = regime_columns(candles)
    cut = regime_columns(candles.iloc[:900])
    pd.testing.assert_frame_equal(full.iloc[:900], cut)  # NaN where NaN, equal elsewhere
    assert cut["%-regime_p1"].notna().sum() > 600
    # starting the data 200 candles later: every value it can compute is the same
    later = regime_columns(candles.iloc[200:])
    known = later["%-regime_p1"].notna()
    assert known.sum() > 600
    np.testing.assert_array_equal(later[known], full.iloc[200:][known])


def test_the_probabilities_find_the_volatile_stretches():
    """Stretches of 8 hours, so that each 12-hour fit window holds both regimes."""
    candles = switching_candles(1152, stretch=96)
    p = regime_columns(candles)["%-regime_p1"].to_numpy()
    wild = (np.arange(len(p)) // 96) % 2 == 1
    core = np.tile(np.r_[np.zeros(16, bool), np.ones(64, bool), np.zeros(16, bool)], 12)
    known = ~np.isnan(p)
    assert known.sum() > 900
    assert np.mean(p[wild & core & known]) > 0.8
    assert np.mean(p[~wild & core & known]) < 0.2


def test_filtering_is_forward_only_and_fitting_reads_the_training_window_only():
    rng = np.random.default_rng(1)
    returns = np.r_[rng.normal(0, CALM, 200), rng.normal(0, WILD, 200), rng.normal(0, CALM, 200)]
    model = RegimeModel().fit(returns[:400])  # the training window
    probs = model.filter(returns)
    # a smoother or a Viterbi path would change the first rows when later returns arrive
    np.testing.assert_allclose(model.filter(returns[:450]), probs[:450], rtol=0, atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert model.variances_[0] < model.variances_[1]
    # the fit saw only its window: other test-window returns leave the parameters alone
    again = RegimeModel().fit(returns[:400])
    np.testing.assert_array_equal(again.params_, model.params_)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 40 returns"):
        RegimeModel().fit(np.zeros(10))
    with pytest.raises(ValueError, match="must be finite"):
        RegimeModel().fit(np.r_[np.ones(50), np.nan])
    with pytest.raises(ValueError, match="do not vary"):
        RegimeModel().fit(np.zeros(50))
    with pytest.raises(ValueError, match="need fit, refit >= 1"):
        rolling_regime_probabilities(np.ones(5), np.arange(5) * 300, 300, fit=0, refit=1, warmup=0)
    with pytest.raises(ValueError, match=r"hyperphysics\.regime\.k_regimes"):
        load_settings({"hyperphysics": {"regime": {"k_regimes": 7}}})
    assert np.isnan(log_returns(np.array([1.0, -1.0, 2.0]))).all()


def test_a_frame_starting_inside_a_block_leaves_that_block_unknown():
    candles = switching_candles(600).iloc[37:]  # not on a 6-hour boundary
    p = regime_columns(candles)["%-regime_p1"]
    first_block = candles["date"] < candles["date"].iloc[0].ceil("6h")
    assert p[first_block].isna().all()


def test_the_strategy_adds_the_group_only_when_switched_on(tmp_path, monkeypatch):
    from hyperphysics_strategy.strategy import hyperphysics_strategy as module
    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    # the risk and order-book columns are other tests' (their first call compiles kernels)
    monkeypatch.setattr(module.risk_features, "add_risk_columns", lambda df, *a, **k: df)
    monkeypatch.setattr(module.OrderBookFeatures, "add", lambda self, df, *a, **k: df)

    candles = switching_candles(400)
    config = {
        "user_data_dir": tmp_path, "stake_currency": "USDT", "exchange": {"name": "binance"},
        "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": 12}},
    }  # fmt: skip
    off = HyperPhysicsStrategy(config)
    on = HyperPhysicsStrategy({**config, "hyperphysics": {"regime": SMALL.model_dump()}})
    meta = {"pair": "BTC/USDT"}
    assert "%-regime_p1" not in off.feature_engineering_standard(candles.copy(), meta)
    got = on.feature_engineering_standard(candles.copy(), meta)
    np.testing.assert_array_equal(got["%-regime_p1"], regime_columns(candles)["%-regime_p1"])
    np.testing.assert_array_equal(got["hp_regime_p1"], got["%-regime_p1"])  # kept for plots
    assert got["%-regime_p1"].notna().sum() > 100
