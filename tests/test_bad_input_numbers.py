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
