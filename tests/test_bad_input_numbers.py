"""Bad input that gave silent wrong numbers or cost a whole frame (issue 23;
docs/reliability.md): risk numbers of degenerate windows, candles out of order or in
another time zone, one extreme or missing candle in the labels and the signals."""

from __future__ import annotations

import numpy as np
import pytest

# -- risk numbers -------------------------------------------------------------------------


def test_filtered_monte_carlo_var_of_all_zero_returns_is_zero_risk():
    """``mc_filtered`` standardised the returns by their EWMA volatility: 0 / 0 = NaN for
    all-zero returns. A zero volatility now leaves z = 0: VaR and ES are 0 (no risk), and
    constant returns give the constant's loss."""
    from hyperphysics_strategy.engine.risk import GPURiskEngine

    eng = GPURiskEngine(device="cpu", seed=0)
    var, es = eng.var(np.zeros(288), (0.95, 0.99), "mc_filtered")
    assert np.array_equal(var, [0.0, 0.0]) and np.array_equal(es, [0.0, 0.0])
    var, es = eng.var(np.full(288, -0.002), (0.95, 0.99), "mc_filtered")
    assert np.allclose(var, 0.002) and np.allclose(es, 0.002)


@pytest.mark.parametrize("outlier", [-0.5, 0.5])
def test_cornish_fisher_var_stays_monotone_with_an_outlier_in_the_window(outlier):
    """One outlier in a window of 288 returns (sample excess kurtosis ~ 200) put the
    Cornish-Fisher expansion outside its domain of validity (Maillard 2012): VaR95 and
    VaR99 came out negative and VaR99 < VaR95. The moments are now moved onto the domain's
    boundary: 0 <= VaR95 <= VaR99 <= ES99, and a window inside the domain is unchanged."""
    from hyperphysics_strategy.engine.risk import GPURiskEngine

    eng = GPURiskEngine(device="cpu", seed=0)
    x = np.random.default_rng(0).normal(0.0, 0.01, 288)
    clean_var, _ = eng.var(x, (0.95, 0.99), "cornish_fisher")
    normal_var, _ = eng.var(x, (0.95, 0.99), "normal")
    assert np.allclose(clean_var, normal_var, rtol=0.05)  # near-normal window: kept as is
    x[100] = outlier
    var, es = eng.var(x, (0.95, 0.99), "cornish_fisher")
    assert 0.0 <= var[0] <= var[1] <= es[1] and es[0] <= es[1]
    hist, _ = eng.var(x, (0.95, 0.99), "historical")
    assert var[0] < 0.1  # the 95% loss is not made of the one outlier
    assert np.all(var < abs(outlier)) and var[1] > hist[0]


# -- one extreme or missing candle costs at most its own row -----------------------------


def test_one_huge_candle_still_gets_the_pair_its_labels():
    """One candle with a log return above ~1.79 (a 7x spike) made the volatility's int64
    sums overflow: ``barrier_labels`` raised for the whole frame, naming no date, so the
    pair could not train while the candle was in the window. The windows holding it are
    now computed from their own returns: every label is defined, and the labels of the
    candles whose horizon and volatility window do not reach the spike are unchanged."""
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir
    from hyperphysics_strategy.strategy.features import barrier_labels, build_training_set

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    spike = candles.copy()
    spike.loc[600, ["high", "close"]] = candles.loc[600, "close"] * 7.0  # log return 1.95
    horizon, window = 12, 288
    want = barrier_labels(candles, horizon, window)
    got = barrier_labels(spike, horizon, window)
    assert got.notna().sum() == want.notna().sum() > 1000
    far = (got.index < 600 - horizon) | (got.index > 600 + window)
    assert got[far].equals(want[far])
    assert got[599] == "buy"  # the next candle's high is far above the upper barrier
    X, y = build_training_set(spike, horizon=horizon, vol_window=window)
    assert len(X) > 1000 and np.isfinite(X.to_numpy()).all()


def test_one_nan_close_costs_the_trading_signals_only_its_row():
    """``generate_trading_signals`` raised "close prices must be finite and positive" for
    the whole frame on one NaN close. Now that row has no EV and signal 0; the others keep
    their probabilities, and their EVs stay finite (before the bad row: unchanged)."""
    import pandas as pd

    from hyperphysics_strategy.ensemble import ExpertEnsemble
    from hyperphysics_strategy.financial_engine import HyperPhysicsFinancialEngine
    from tests.bad_input import fit_data, labels

    data = fit_data(n=700)
    columns = [f"%f{i}" for i in range(data.X.shape[1])]
    ensemble = ExpertEnsemble(
        ("lightgbm",), {"lightgbm": {"n_estimators": 5}}, stacking_folds=0, feature_names=columns
    ).fit(data.X, labels(data.y), None, data.X_val, labels(data.y_val))
    X = np.vstack([data.X, data.X_val])
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(X))))
    frame = pd.DataFrame(X, columns=columns).assign(close=close)
    engine = HyperPhysicsFinancialEngine(use_gpu=False, ensemble=ensemble)
    want = engine.generate_trading_signals(frame, margin=-1.0)  # margin -1: signals fire
    frame.loc[400, "close"] = np.nan
    got = engine.generate_trading_signals(frame, margin=-1.0)
    assert got.loc[400, "signal"] == 0 and np.isnan(got.loc[400, "ev_long"])
    assert want.loc[400, "signal"] != 0
    pd.testing.assert_frame_equal(got[["sell", "neutral", "buy"]], want[["sell", "neutral", "buy"]])
    others = got.drop(index=400)
    assert (np.isfinite(others["ev_long"]) == np.isfinite(want.drop(index=400)["ev_long"])).all()
    pd.testing.assert_frame_equal(got.loc[:399], want.loc[:399])


# -- candles out of order, repeated, or in another time zone -----------------------------


def test_build_features_sorts_drops_repeated_dates_and_converts_any_zone(caplog):
    """``build_features`` computed on rows as given (shuffled rows gave other
    indicators), kept repeated dates, and converted only zone-less dates to UTC (Asia/Tokyo
    dates gave hour features off by up to 1.83). Now the rows are sorted, of a repeated
    date the last row is kept (with a warning), and any zone is converted to UTC: each
    variant gives exactly the clean frame's features."""
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir
    from hyperphysics_strategy.strategy.features import build_features, build_training_set

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather").iloc[:400]
    want = build_features(candles)
    tokyo = candles.assign(date=candles["date"].dt.tz_convert("Asia/Tokyo"))
    pd.testing.assert_frame_equal(build_features(tokyo), want)
    shuffled = candles.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(build_features(shuffled), want)
    stale = candles.iloc[[100, 200]].assign(volume=0.0)  # earlier rows of the same dates
    repeated = pd.concat([stale, candles])
    with caplog.at_level("WARNING"):
        got = build_features(repeated)
    assert "2 rows repeat an earlier date" in caplog.text
    pd.testing.assert_frame_equal(got, want)  # the last row of each date was kept
    X, y = build_training_set(shuffled)
    X0, y0 = build_training_set(candles)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
