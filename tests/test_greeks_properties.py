"""Greeks: parity, autograd, limits, kinds, validation, implied-vol accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.greeks import (
    black76_greeks,
    black76_implied_vol,
    black76_price,
    black76_rho,
    bsm_delta,
    bsm_greeks,
    bsm_implied_vol,
    bsm_price,
    theta_per_day,
    vega_per_vol_point,
)
from hyperphysics_strategy.engine.risk import GPURiskEngine


def _grid(n=400, seed=0):
    rng = np.random.default_rng(seed)
    S = rng.uniform(20, 200, n)
    K = S * np.exp(rng.uniform(-1.0, 1.0, n))
    T = rng.uniform(0.01, 4.0, n)
    v = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(-0.02, 0.1, n)
    q = rng.uniform(0.0, 0.08, n)
    return S, K, T, v, r, q


def test_put_call_parity_bsm_and_black76():
    S, K, T, v, r, q = _grid()
    c = bsm_price(
        S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="call"
    )
    p = bsm_price(S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="put")
    np.testing.assert_allclose(c - p, S * np.exp(-q * T) - K * np.exp(-r * T), rtol=0, atol=1e-10)
    dc = bsm_delta(
        S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="call"
    )
    dp = bsm_delta(
        S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="put"
    )
    np.testing.assert_allclose(dc - dp, np.exp(-q * T), atol=1e-13)
    gc = black76_greeks(S, K, time_to_expiry=T, volatility=v, rate=r, option_type="call")
    gp = black76_greeks(S, K, time_to_expiry=T, volatility=v, rate=r, option_type="put")
    np.testing.assert_allclose(gc["price"] - gp["price"], np.exp(-r * T) * (S - K), atol=1e-10)
    np.testing.assert_allclose(gc["gamma"], gp["gamma"], rtol=1e-13)
    np.testing.assert_allclose(gc["vega"], gp["vega"], rtol=1e-13)


@pytest.mark.parametrize("model", ["bsm", "black76"])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_autograd_equals_analytic_greeks(model, kind):
    S, K, T, v, r, q = (torch.tensor(a, dtype=torch.float64) for a in _grid(60, seed=3))
    S.requires_grad_(True)
    T.requires_grad_(True)
    v.requires_grad_(True)
    r.requires_grad_(True)
    if model == "bsm":
        price = bsm_greeks(
            S,
            K,
            time_to_expiry=T,
            volatility=v,
            rate=r,
            dividend_yield=q,
            option_type=kind,
            greeks=["price"],
        )["price"]
        with torch.no_grad():
            ref = bsm_greeks(
                S,
                K,
                time_to_expiry=T,
                volatility=v,
                rate=r,
                dividend_yield=q,
                option_type=kind,
                second_order=True,
            )
    else:
        price = black76_greeks(
            S, K, time_to_expiry=T, volatility=v, rate=r, option_type=kind, greeks=["price"]
        )["price"]
        with torch.no_grad():
            ref = black76_greeks(
                S, K, time_to_expiry=T, volatility=v, rate=r, option_type=kind, second_order=True
            )
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
    S, K, T, v, r, q = _grid(300_000, seed=5)
    big = bsm_greeks(
        S,
        K,
        time_to_expiry=T,
        volatility=v,
        rate=r,
        dividend_yield=q,
        option_type="put",
        second_order=True,
    )
    idx = np.arange(0, 300_000, 997)
    small = bsm_greeks(
        S[idx],
        K[idx],
        time_to_expiry=T[idx],
        volatility=v[idx],
        rate=r[idx],
        dividend_yield=q[idx],
        option_type="put",
        second_order=True,
    )
    for k in big:
        np.testing.assert_array_equal(big[k][idx], small[k])


def test_units_helpers_and_calculate_greeks():
    eng = GPURiskEngine(device="cpu", seed=1)
    g = eng.calculate_greeks(
        spot=100.0, strike=100.0, volatility=0.2, time_to_expiry=1.0, risk_free_rate=0.05
    )
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
    put = eng.calculate_greeks(
        spot=100.0,
        strike=100.0,
        volatility=0.2,
        time_to_expiry=1.0,
        risk_free_rate=0.05,
        option_type="put",
    )
    assert put["delta"] == pytest.approx(g["delta"] - 1.0, rel=1e-12)


def test_expiry_limits_are_defined_and_finite():
    S = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    kind = np.array([True, True, True, False, False, False])
    g = bsm_greeks(
        S,
        100.0,
        time_to_expiry=0.0,
        volatility=0.3,
        rate=0.05,
        dividend_yield=0.02,
        option_type=kind,
        second_order=True,
    )
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
    near = bsm_greeks(
        S,
        100.0,
        time_to_expiry=1e-10,
        volatility=0.3,
        rate=0.05,
        dividend_yield=0.02,
        option_type=kind,
    )
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
            S,
            100.0,
            time_to_expiry=T,
            volatility=v,
            rate=0.05,
            dividend_yield=0.0,
            option_type=kind,
            second_order=True,
        )
        for name, val in g.items():
            assert np.all(np.isfinite(val)), (kind, name, val)
    c = bsm_greeks(
        1e6,
        100.0,
        time_to_expiry=1.0,
        volatility=0.2,
        rate=0.05,
        dividend_yield=0.0,
        option_type="call",
    )
    assert c["delta"] == pytest.approx(1.0)
    assert c["price"] == pytest.approx(1e6 - 100 * math.exp(-0.05), rel=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"spot": -1.0}, "spot"),
        ({"spot": 0.0}, "spot"),
        ({"strike": np.array([100.0, np.nan])}, "strike"),
        ({"volatility": 0.0}, "volatility"),
        ({"time_to_expiry": -0.1}, "time_to_expiry"),
        ({"time_to_expiry": np.nan}, "time_to_expiry"),
        ({"rate": np.inf}, "rate"),
        ({"dividend_yield": np.nan}, "dividend_yield"),
        ({"spot": np.ones(3), "strike": np.ones(4)}, "spot"),
        ({"option_type": "straddle"}, "option_type"),
    ],
)
def test_bad_inputs_raise_value_error_naming_argument(kwargs, name):
    args = {
        "spot": 100.0,
        "strike": 100.0,
        "time_to_expiry": 1.0,
        "volatility": 0.2,
        "rate": 0.01,
        "dividend_yield": 0.0,
        "option_type": "call",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        bsm_greeks(**args)


def test_black76_errors_name_forward():
    with pytest.raises(ValueError, match="forward"):
        black76_rho(-5.0, 100.0, time_to_expiry=1.0, volatility=0.2)


def test_implied_vol_round_trip_accuracy():
    rng = np.random.default_rng(11)
    n = 50_000
    F = 100.0
    x = rng.uniform(-1.5, 1.5, n)
    K = F * np.exp(-x)
    T = rng.uniform(0.01, 5.0, n)
    v = rng.uniform(0.05, 3.0, n)
    call = rng.random(n) < 0.5
    price = black76_price(F, K, time_to_expiry=T, volatility=v, rate=0.03, option_type=call)
    iv = black76_implied_vol(price, F, K, time_to_expiry=T, rate=0.03, option_type=call)
    # a price is informative when it is not dominated by intrinsic value and is not so
    # small that the closed form itself cancels (documented domain of the 1e-9 claim)
    intrinsic = np.exp(-0.03 * T) * np.maximum(np.where(call, F - K, K - F), 0.0)
    vega = black76_greeks(F, K, time_to_expiry=T, volatility=v, rate=0.03, option_type=call)["vega"]
    informative = (price - intrinsic > 1e-6 * F) & (vega * v > 1e-4 * price)
    assert informative.mean() > 0.8
    rel = np.abs(iv - v) / v
    assert np.nanmax(rel[informative]) <= 1e-9
    # everywhere the recovered vol reprices the option (to the price's own precision)
    ok = np.isfinite(iv) & (iv > 0)
    back = black76_price(
        F, K[ok], time_to_expiry=T[ok], volatility=iv[ok], rate=0.03, option_type=call[ok]
    )
    assert np.all(np.abs(back - price[ok]) <= 1e-12 * F + 1e-9 * price[ok])


def test_implied_vol_bsm_torch_and_bounds():
    S, K, T, v, r, q = _grid(2000, seed=8)
    p = bsm_price(S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="put")
    iv = bsm_implied_vol(
        torch.tensor(p), S, K, time_to_expiry=T, rate=r, dividend_yield=q, option_type="put"
    )
    assert isinstance(iv, torch.Tensor)
    intrinsic = np.maximum(K * np.exp(-r * T) - S * np.exp(-q * T), 0)
    good = (p - intrinsic > 1e-6 * S) & (
        v
        * bsm_greeks(
            S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type="put"
        )["vega"]
        > 1e-4 * p
    )
    np.testing.assert_allclose(iv.numpy()[good], v[good], rtol=1e-9)
    # outside the no-arbitrage bounds -> NaN; exactly intrinsic -> 0
    out = bsm_implied_vol(
        np.array([-1.0, 0.0, 5.0, 100.0, 150.0]),
        100.0,
        100.0,
        time_to_expiry=1.0,
        rate=0.0,
        dividend_yield=0.0,
        option_type="call",
    )
    assert np.isnan(out[0]) and out[1] == 0.0 and 0 < out[2] < 1 and np.isnan(out[3])
    assert np.isnan(out[4])
    with pytest.raises(ValueError, match="price"):
        bsm_implied_vol(np.nan, 100.0, 100.0, time_to_expiry=1.0)
    with pytest.raises(ValueError, match="time_to_expiry"):
        bsm_implied_vol(5.0, 100.0, 100.0, time_to_expiry=0.0)


def test_fused_kernel_elementary_functions_against_mpmath():
    mp = pytest.importorskip("mpmath")
    from hyperphysics_strategy.engine.greeks import _fused

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-38, 38, 2000), rng.uniform(-8, 8, 2000), [0.0, -0.0]])
    got = _fused.ncdf(x)
    ref = np.array([float(mp.ncdf(mp.mpf(v))) for v in x])
    rel = np.abs(got - ref) / ref
    assert rel[ref > 1e-300].max() < 4e-15  # relative, down to the subnormals near x = -37.5
    y = np.concatenate([rng.uniform(-745, 709, 2000), [0.0, 1e-9, -1e-9]])
    ref = np.array([float(mp.exp(mp.mpf(v))) for v in y])
    ok = ref > 2.3e-308
    ulp = np.abs(_fused.vexp(y)[ok] - ref[ok]) / np.spacing(ref[ok])
    assert ulp.max() <= 2
    np.testing.assert_array_equal(_fused.vexp(np.array([-800.0, 800.0])), [0.0, np.inf])
    assert np.isnan(_fused.vexp(np.array([np.nan]))[0])
    z = np.concatenate([np.exp(rng.uniform(-700, 700, 2000)), rng.uniform(0.5, 2, 2000)])
    ref = np.array([float(mp.log(mp.mpf(v))) for v in z])
    ok = ref != 0
    ulp = np.abs(_fused.vlog(z)[ok] - ref[ok]) / np.spacing(np.abs(ref[ok]))
    assert ulp.max() <= 2
    got = _fused.vlog(np.array([1.0, 5e-324, 0.0, -1.0, np.inf, np.nan]))
    assert got[0] == 0.0 and got[1] == pytest.approx(-744.4400719213812, rel=1e-15)
    assert got[2] == -np.inf and np.isnan(got[3]) and got[4] == np.inf and np.isnan(got[5])


def test_time_and_volatility_are_keyword_only():
    """``time_to_expiry`` and ``volatility`` (two floats easily swapped) must be named."""
    eng = GPURiskEngine(device="cpu", seed=1)
    with pytest.raises(TypeError):
        eng.greeks(100.0, 100.0, 0.2, 1.0)
    with pytest.raises(TypeError):
        bsm_greeks(100.0, 100.0, 1.0, 0.2)
    by_name = eng.greeks(100.0, 100.0, volatility=0.2, time_to_expiry=1.0, risk_free_rate=0.05)
    assert by_name["price"] == pytest.approx(10.450583572185565, rel=1e-12)


@pytest.mark.parametrize("black76", [False, True])
def test_fused_kernel_equals_the_reference_formulas(black76):
    """The numba fast path (numpy in) and ``formulas.greeks_from_inputs`` (the reference)
    agree on the same inputs: calls and puts, expiry, deep ITM/OTM, second order."""
    import doctest

    from hyperphysics_strategy.engine.greeks import formulas

    rng = np.random.default_rng(11)
    n = 5000
    S = rng.uniform(20, 300, n)
    K = rng.uniform(50, 150, n)
    T = np.where(rng.random(n) < 0.05, 0.0, rng.uniform(1e-4, 3.0, n))
    v = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(-0.01, 0.08, n)
    q = r if black76 else rng.uniform(0.0, 0.05, n)
    call = rng.random(n) < 0.5
    if black76:
        fast = black76_greeks(
            S, K, time_to_expiry=T, volatility=v, rate=r, option_type=call, second_order=True
        )
    else:
        fast = bsm_greeks(
            S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, option_type=call,
            second_order=True,
        )  # fmt: skip
    t = [torch.from_numpy(a) for a in (S, K, T, v, r, q)]
    sign = torch.from_numpy(np.where(call, 1.0, -1.0))
    ref = formulas.greeks_from_inputs(*t, sign, formulas.ALL_GREEKS, black76=black76, expiry=True)
    for name, want in zip(formulas.ALL_GREEKS, ref, strict=True):
        np.testing.assert_allclose(fast[name], want.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)
    assert doctest.testmod(formulas).failed == 0
