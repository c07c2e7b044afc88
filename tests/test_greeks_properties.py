"""Greeks: parity, autograd, limits at expiry and far from the money, kinds and dtypes,
units, the risk engine's Greeks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.greeks import (
    black76_greeks,
    bsm_delta,
    bsm_greeks,
    bsm_price,
    theta_per_day,
    vega_per_vol_point,
)
from hyperphysics_strategy.engine.risk import GPURiskEngine
from tests.synthetic import option_grid


def test_put_call_parity_bsm_and_black76():
    S, K, T, v, r, q = option_grid()
    bsm = {"time_to_expiry": T, "volatility": v, "rate": r, "dividend_yield": q}
    c = bsm_price(S, K, **bsm, option_type="call")
    p = bsm_price(S, K, **bsm, option_type="put")
    np.testing.assert_allclose(c - p, S * np.exp(-q * T) - K * np.exp(-r * T), rtol=0, atol=1e-10)
    dc = bsm_delta(S, K, **bsm, option_type="call")
    dp = bsm_delta(S, K, **bsm, option_type="put")
    np.testing.assert_allclose(dc - dp, np.exp(-q * T), atol=1e-13)
    gc = black76_greeks(S, K, time_to_expiry=T, volatility=v, rate=r, option_type="call")
    gp = black76_greeks(S, K, time_to_expiry=T, volatility=v, rate=r, option_type="put")
    np.testing.assert_allclose(gc["price"] - gp["price"], np.exp(-r * T) * (S - K), atol=1e-10)
    np.testing.assert_allclose(gc["gamma"], gp["gamma"], rtol=1e-13)
    np.testing.assert_allclose(gc["vega"], gp["vega"], rtol=1e-13)


@pytest.mark.parametrize("model", ["bsm", "black76"])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_autograd_equals_analytic_greeks(model, kind):
    S, K, T, v, r, q = (torch.tensor(a, dtype=torch.float64) for a in option_grid(60, seed=3))
    for x in (S, T, v, r):
        x.requires_grad_(True)
    fn, carry = (bsm_greeks, {"dividend_yield": q}) if model == "bsm" else (black76_greeks, {})
    terms = {"time_to_expiry": T, "volatility": v, "rate": r, "option_type": kind, **carry}
    price = fn(S, K, **terms, greeks=["price"])["price"]
    with torch.no_grad():
        ref = fn(S, K, **terms, second_order=True)
    dS, dT, dv, dr = torch.autograd.grad(price.sum(), (S, T, v, r), create_graph=True)
    torch.testing.assert_close(dS, ref["delta"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dv, ref["vega"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dr, ref["rho"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(-dT, ref["theta"], rtol=1e-10, atol=1e-10)
    (d2S,) = torch.autograd.grad(dS.sum(), (S,), retain_graph=True)
    torch.testing.assert_close(d2S, ref["gamma"], rtol=1e-9, atol=1e-12)
    (vanna,) = torch.autograd.grad(dS.sum(), (v,), retain_graph=True)
    torch.testing.assert_close(vanna, ref["vanna"], rtol=1e-9, atol=1e-11)
    (volga,) = torch.autograd.grad(dv.sum(), (v,), retain_graph=True)
    torch.testing.assert_close(volga, ref["volga"], rtol=1e-9, atol=1e-10)
    (charm,) = torch.autograd.grad(dS.sum(), (T,))
    torch.testing.assert_close(-charm, ref["charm"], rtol=1e-9, atol=1e-10)


def test_kinds_and_dtypes_are_preserved():
    out = bsm_greeks(np.array([100.0, 110.0]), 100.0, time_to_expiry=0.5, volatility=0.3)
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in out.values())
    scalar = bsm_price(100.0, 100.0, time_to_expiry=1.0, volatility=0.2)
    assert isinstance(scalar, np.floating)
    t32 = bsm_greeks(torch.tensor([100.0, 90.0]), 100.0, time_to_expiry=0.5, volatility=0.3)
    assert all(v.dtype == torch.float32 and isinstance(v, torch.Tensor) for v in t32.values())
    t64 = bsm_greeks(
        torch.tensor([100.0, 90.0], dtype=torch.float64), 100.0, time_to_expiry=0.5, volatility=0.3
    )
    np.testing.assert_allclose(t32["price"].numpy(), t64["price"].numpy(), rtol=1e-5)
    ref = bsm_price(np.array([100.0, 90.0]), 100.0, time_to_expiry=0.5, volatility=0.3)
    np.testing.assert_allclose(t64["price"].numpy(), ref, rtol=0, atol=0)


def test_large_batch_chunked_path_matches_small_calls():
    names = ("spot", "strike", "time_to_expiry", "volatility", "rate", "dividend_yield")
    arrays = dict(zip(names, option_grid(300_000, seed=5), strict=True))
    big = bsm_greeks(**arrays, option_type="put", second_order=True)
    idx = np.arange(0, 300_000, 997)
    small = bsm_greeks(
        **{name: a[idx] for name, a in arrays.items()}, option_type="put", second_order=True
    )
    for k in big:
        np.testing.assert_array_equal(big[k][idx], small[k])


def test_units_helpers_and_calculate_greeks():
    eng = GPURiskEngine(device="cpu", seed=1)
    option = {"spot": 100.0, "strike": 100.0, "volatility": 0.2, "time_to_expiry": 1.0}
    g = eng.calculate_greeks(**option, risk_free_rate=0.05)
    # textbook values (Hull): call 10.4506, delta 0.6368, gamma 0.01876, vega 37.52
    assert g["price"] == pytest.approx(10.450583572185565, rel=1e-12)
    assert g["delta"] == pytest.approx(0.6368306511756191, rel=1e-12)
    assert g["vega_per_vol_point"] == pytest.approx(vega_per_vol_point(g["vega"]))
    assert g["theta_per_day"] == pytest.approx(theta_per_day(g["theta"]))
    # finite differences confirm the units: vega per 1.00 vol, theta per year
    h = 1e-5
    up = bsm_price(100.0, 100.0, time_to_expiry=1.0, volatility=0.2 + h, rate=0.05)
    dn = bsm_price(100.0, 100.0, time_to_expiry=1.0, volatility=0.2 - h, rate=0.05)
    assert g["vega"] == pytest.approx((up - dn) / (2 * h), rel=1e-7)
    later = bsm_price(100.0, 100.0, time_to_expiry=1.0 - h, volatility=0.2, rate=0.05)
    earlier = bsm_price(100.0, 100.0, time_to_expiry=1.0 + h, volatility=0.2, rate=0.05)
    assert g["theta"] == pytest.approx((later - earlier) / (2 * h), rel=1e-7)
    assert set(g) >= {"price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "charm"}
    put = eng.calculate_greeks(**option, risk_free_rate=0.05, option_type="put")
    assert put["delta"] == pytest.approx(g["delta"] - 1.0, rel=1e-12)
    with pytest.raises(ValueError, match="volatility must be a scalar"):
        eng.calculate_greeks(**{**option, "volatility": [0.2, 0.3]})


def test_expiry_limits_are_defined_and_finite():
    S = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    kind = np.array([True, True, True, False, False, False])
    bsm = {"volatility": 0.3, "rate": 0.05, "dividend_yield": 0.02, "option_type": kind}
    g = bsm_greeks(S, 100.0, time_to_expiry=0.0, **bsm, second_order=True)
    for v in g.values():
        assert np.all(np.isfinite(v))
    np.testing.assert_array_equal(g["price"], [0, 0, 10, 10, 0, 0])
    np.testing.assert_array_equal(g["delta"], [0, 0.5, 1, -1, -0.5, 0])
    for k in ("gamma", "vega", "rho", "vanna", "volga"):
        np.testing.assert_array_equal(g[k], 0.0)
    # theta -> s h (q S - r K); charm -> s h q
    np.testing.assert_allclose(g["theta"][2], 0.02 * 110 - 0.05 * 100)
    np.testing.assert_allclose(g["theta"][3], -(0.02 * 90 - 0.05 * 100))
    np.testing.assert_allclose(g["charm"], 0.02 * g["delta"])
    # continuity: tiny T approaches the limits away from the strike
    near = bsm_greeks(S, 100.0, time_to_expiry=1e-10, **bsm)
    for k in ("price", "delta"):
        np.testing.assert_allclose(near[k][[0, 2, 3, 5]], g[k][[0, 2, 3, 5]], atol=1e-7)
    b = black76_greeks(
        S, 100.0, time_to_expiry=0.0, volatility=0.3, rate=0.05, option_type=kind, second_order=True
    )
    np.testing.assert_array_equal(b["price"], [0, 0, 10, 10, 0, 0])
    np.testing.assert_allclose(b["theta"], 0.05 * b["price"])


def test_deep_itm_otm_and_extreme_inputs_have_no_nan():
    S = np.array([1e-3, 1e6, 100.0, 100.0, 100.0])
    T = np.array([1.0, 1.0, 1e-12, 50.0, 1.0])
    v = np.array([0.2, 0.2, 0.2, 5.0, 1e-6])
    for kind in ("call", "put"):
        g = bsm_greeks(
            S, 100.0, time_to_expiry=T, volatility=v, rate=0.05, option_type=kind, second_order=True
        )
        for name, val in g.items():
            assert np.all(np.isfinite(val)), (kind, name, val)
    c = bsm_greeks(1e6, 100.0, time_to_expiry=1.0, volatility=0.2, rate=0.05, option_type="call")
    assert c["delta"] == pytest.approx(1.0)
    assert c["price"] == pytest.approx(1e6 - 100 * math.exp(-0.05), rel=1e-14)


@pytest.mark.parametrize("model", ["bsm", "black76"])
def test_engine_greeks_equal_the_functions_for_both_models(model):
    """``GPURiskEngine.greeks`` passes the underlying on as ``spot`` or ``forward``, the
    ``risk_free_rate`` as ``rate`` and the dividend yield to BSM only."""
    S, K, T, v, r, q = option_grid(50, seed=2)
    eng = GPURiskEngine(device="cpu", seed=1)
    terms = {"time_to_expiry": T, "volatility": v, "option_type": "put"}
    got = eng.greeks(S, K, **terms, risk_free_rate=r, dividend_yield=q, model=model)
    fn, carry = (bsm_greeks, {"dividend_yield": q}) if model == "bsm" else (black76_greeks, {})
    want = fn(S, K, **terms, rate=r, **carry)
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    with pytest.raises(ValueError, match="model must be"):
        eng.greeks(S, K, **terms, model="heston")
