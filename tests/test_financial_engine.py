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
    with pytest.raises(ValueError, match="no trained ensemble"):
        hp.generate_trading_signals(X)
    hp.train_signals(X, labels)
    frame = X.assign(close=1.0)
    frame.iloc[0, 0] = np.nan
    out = hp.generate_trading_signals(frame)
    assert list(out.columns) == ["sell", "neutral", "buy", "signal"]
    assert out.iloc[0].isna()[["sell", "neutral", "buy"]].all() and out["signal"].iloc[0] == 0
    strong_buy = X["%-f0"] > 1.5
    assert (out.loc[strong_buy, "signal"] == 1).mean() > 0.8
    strong_sell = X["%-f0"] < -1.5
    assert (out.loc[strong_sell, "signal"] == -1).mean() > 0.8
    with pytest.raises(ValueError, match="lacks the feature columns"):
        hp.generate_trading_signals(X.drop(columns=["%-f3"]))


def test_edge_signal_needs_the_probability_and_the_margin():
    from hyperphysics_strategy.ensemble.decision import edge_signal

    side = np.array([0.50, 0.50, 0.30, np.nan, 0.36])
    other = np.array([0.20, 0.40, 0.10, 0.10, 0.21])
    assert edge_signal(side, other).tolist() == [True, False, False, False, True]
    assert edge_signal(side, other, 0.30, 0.05).tolist() == [True, True, True, False, True]
