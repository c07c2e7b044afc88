import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.financial_engine import HyperPhysicsFinancialEngine


def test_market_data_and_risk_metrics():
    hp = HyperPhysicsFinancialEngine(use_gpu=False)
    bids = [[100.0 - i * 0.1, 1.0 + i] for i in range(10)]
    asks = [[100.1 + i * 0.1, 1.0 + i] for i in range(10)]
    feats = hp.process_market_data(bids, asks)
    assert feats["spread"] == pytest.approx(0.1)
    assert feats["imbalance_all"] == pytest.approx(0.0, abs=1e-12)

    returns = np.random.default_rng(0).normal(0, 0.01, 5000)
    risk = hp.calculate_risk_metrics(returns)
    for method in ("historical", "cornish_fisher", "mc_student_t"):
        assert risk[method]["var_0.99"] > risk[method]["var_0.95"] > 0
        assert risk[method]["es_0.99"] >= risk[method]["var_0.99"]
    # Normal sample: 99% VaR near 2.326 sigma whatever the method.
    assert risk["historical"]["var_0.99"] == pytest.approx(0.02326, rel=0.1)


def test_signals_from_a_trained_ensemble():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(3000, 6)), columns=[f"%-f{i}" for i in range(6)])
    s = X["%-f0"] + 0.3 * rng.normal(size=3000)
    labels = np.where(s > 0.7, "buy", np.where(s < -0.7, "sell", "neutral"))
    hp = HyperPhysicsFinancialEngine(use_gpu=False)
    frame = X.assign(close=100 * np.exp(np.cumsum(rng.normal(0, 0.01, 3000))))
    with pytest.raises(ValueError, match="no trained ensemble"):
        hp.generate_trading_signals(frame)
    hp.train_signals(X, labels)
    frame.iloc[60, 0] = np.nan
    out = hp.generate_trading_signals(frame, vol_window=50)
    assert list(out.columns) == ["sell", "neutral", "buy", "ev_long", "ev_short", "signal"]
    assert out.iloc[60].isna()[["sell", "neutral", "buy"]].all() and out["signal"].iloc[60] == 0
    assert (out["signal"].iloc[:50] == 0).all()  # no volatility yet, no bet
    late = np.arange(3000) >= 50
    strong_buy = (X["%-f0"] > 1.5) & late
    assert (out.loc[strong_buy, "signal"] == 1).mean() > 0.8
    strong_sell = (X["%-f0"] < -1.5) & late
    assert (out.loc[strong_sell, "signal"] == -1).mean() > 0.8
    # where the model sees no edge, the fees make the EV negative: no signal
    calm = (X["%-f0"].abs() < 0.2) & late
    assert (out.loc[calm, "signal"] == 0).mean() > 0.8
    with pytest.raises(ValueError, match="lacks the feature columns"):
        hp.generate_trading_signals(frame.drop(columns=["%-f3"]))
    with pytest.raises(ValueError, match="'close'"):
        hp.generate_trading_signals(X)


def test_expected_value_matches_hand_computed_cases():
    from hyperphysics_strategy.trading.decision import (
        ev_signal,
        long_expected_value,
        short_expected_value,
    )

    d = np.log(1.02)  # barriers 2% above and about 1.96% below
    # long: 0.5 x 2% - 0.2 x (1 - 1/1.02) + 0.3 x 0.1% - 0.2% fees
    want = 0.5 * 0.02 - 0.2 * (1 - 1 / 1.02) + 0.3 * 0.001 - 0.002
    assert long_expected_value(0.5, 0.2, 0.3, d, d, 0.001, 0.001) == pytest.approx(want)
    assert want == pytest.approx(0.0043784, abs=1e-7)
    # the short takes the mirror: profit 1 - 1/1.02 below, loss 2% above, time return -m
    want_short = 0.2 * (1 - 1 / 1.02) - 0.5 * 0.02 - 0.3 * 0.001 - 0.002
    assert short_expected_value(0.5, 0.2, 0.3, d, d, 0.001, 0.001) == pytest.approx(want_short)
    # no edge (p_up = p_down, no drift): the EV is minus the fees and a little convexity
    flat = long_expected_value(0.25, 0.25, 0.5, d, d, 0.0, 0.001)
    assert flat == pytest.approx(0.25 * (0.02 - (1 - 1 / 1.02)) - 0.002)
    assert flat < 0
    # asymmetric barriers: 3% up, 1% down (log distances)
    ev = long_expected_value(0.3, 0.6, 0.1, np.log(1.03), -np.log(0.99), -0.002, 0.0005)
    assert ev == pytest.approx(0.3 * 0.03 - 0.6 * 0.01 - 0.1 * 0.002 - 0.001)
    # entry: EV above margin x sigma x sqrt(h); NaN never enters
    evs = np.array([0.004, 0.004, 0.001, np.nan, -0.001])
    scale = np.array([0.03, 0.05, 0.0, 0.03, 0.03])
    assert ev_signal(evs, scale, 0.1).tolist() == [True, False, True, False, False]
    assert ev_signal(evs, scale, 0.0).tolist() == [True, True, True, False, False]
    assert ev_signal(evs, scale, -0.1).tolist() == [True, True, True, False, True]
    with pytest.raises(ValueError, match="margin"):
        ev_signal(evs, scale, float("nan"))
