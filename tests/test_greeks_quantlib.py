"""BSM prices and first-order Greeks against QuantLib's AnalyticEuropeanEngine.

QuantLib evaluates N(x) as ``0.5 (1 + erf(x / sqrt 2))``, accurate in absolute but not in
relative terms in the lower tail; where an option's price is a small difference of two such
tails (out of the money with little time value), QuantLib's own relative error reaches ~1e-9
(1.5e-9 on one option of this grid, against a 40-digit mpmath evaluation of the same closed
form). Our kernel evaluates the tails to ~1e-15 relative, so there it is closer to the exact
value than QuantLib is: the bound below is 1e-9 relative plus QuantLib's own error, and a
second bound checks every value against the 40-digit reference directly.
"""

from __future__ import annotations

import mpmath as mp
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


def _exact_reference(S, K, T, vol, r, q, is_call):
    """The same closed form in 40-digit arithmetic (price and the five first-order Greeks)."""
    out = {k: np.empty(len(S)) for k in ("price", "delta", "gamma", "vega", "theta", "rho")}
    with mp.workdps(40):
        for i in range(len(S)):
            s_, k_, t_, v_, r_, q_ = (mp.mpf(float(x[i])) for x in (S, K, T, vol, r, q))
            sg = 1 if is_call[i] else -1
            vst = v_ * mp.sqrt(t_)
            d1 = (mp.log(s_ / k_) + (r_ - q_ + v_ * v_ / 2) * t_) / vst
            d2 = d1 - vst
            dq, dr = mp.exp(-q_ * t_), mp.exp(-r_ * t_)
            n1, n2 = mp.ncdf(sg * d1), mp.ncdf(sg * d2)
            pdf = mp.npdf(d1)
            out["price"][i] = sg * (s_ * dq * n1 - k_ * dr * n2)
            out["delta"][i] = sg * dq * n1
            out["gamma"][i] = dq * pdf / (s_ * vst)
            out["vega"][i] = s_ * dq * pdf * mp.sqrt(t_)
            decay = -s_ * dq * pdf * v_ / (2 * mp.sqrt(t_))
            out["theta"][i] = decay + sg * (q_ * s_ * dq * n1 - r_ * k_ * dr * n2)
            out["rho"][i] = sg * t_ * k_ * dr * n2
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
    exact = _exact_reference(S, K, days / 365.0, vol, r, q, is_call)
    ours = bsm_greeks(
        S,
        K,
        time_to_expiry=days / 365.0,
        volatility=vol,
        rate=r,
        dividend_yield=q,
        option_type=is_call,
    )
    for name, expected in ref.items():
        got = ours[name]
        # relative error, with a floor far below any value on this grid, beyond QuantLib's own
        scale = np.maximum(np.abs(expected), 1e-12)
        # QuantLib checks the exact reference independently, then ours matches that reference
        rel_ql = np.abs(exact[name] - expected) / scale
        assert rel_ql.max() <= 2e-9, (name, rel_ql.max(), int(rel_ql.argmax()))
        rel_exact = np.abs(got - exact[name]) / np.maximum(np.abs(exact[name]), 1e-12)
        assert rel_exact.max() <= 1e-11, (name, rel_exact.max(), int(rel_exact.argmax()))
    assert is_call.any() and (~is_call).any()
