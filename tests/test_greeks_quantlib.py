"""BSM prices and first-order Greeks against QuantLib's AnalyticEuropeanEngine."""

from __future__ import annotations

import numpy as np
import pytest

from hyperphysics_strategy.engine.greeks import bsm_greeks

ql = pytest.importorskip("QuantLib")


def _quantlib_reference(S, K, days, vol, r, q, is_call):
    today = ql.Date(15, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()  # T = days / 365 exactly, theta per year of 365 days
    out = {k: np.empty(len(S)) for k in ("price", "delta", "gamma", "vega", "theta", "rho")}
    for i in range(len(S)):
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(float(S[i]))),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(q[i]), dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(r[i]), dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), float(vol[i]), dc)
            ),
        )
        kind = ql.Option.Call if is_call[i] else ql.Option.Put
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(K[i])),
            ql.EuropeanExercise(today + int(days[i])),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        out["price"][i] = option.NPV()
        out["delta"][i] = option.delta()
        out["gamma"][i] = option.gamma()
        out["vega"][i] = option.vega()  # per 1.00 of volatility, like ours
        out["theta"][i] = option.theta()  # per year (Actual365Fixed), like ours
        out["rho"][i] = option.rho()
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_bsm_matches_quantlib_random_grid(seed):
    rng = np.random.default_rng(seed)
    n = 250
    S = rng.uniform(50.0, 150.0, n)
    K = S * np.exp(rng.uniform(-0.5, 0.5, n))
    days = rng.integers(7, 3 * 365, n)
    vol = rng.uniform(0.05, 1.2, n)
    r = rng.uniform(-0.01, 0.10, n)
    q = rng.uniform(0.0, 0.08, n)
    is_call = rng.random(n) < 0.5
    ref = _quantlib_reference(S, K, days, vol, r, q, is_call)
    ours = bsm_greeks(S, K, days / 365.0, vol, r, q, is_call)
    for name, expected in ref.items():
        got = ours[name]
        # relative error, with a floor far below any value on this grid
        rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)
        assert rel.max() <= 1e-9, (name, rel.max(), int(rel.argmax()))
    assert is_call.any() and (~is_call).any()
