"""Implied volatility: round-trip accuracy over a wide grid, torch in/out, no-arbitrage
bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.greeks import (
    black76_greeks,
    black76_implied_vol,
    black76_price,
    bsm_greeks,
    bsm_implied_vol,
    bsm_price,
)
from tests.synthetic import option_grid


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
    S, K, T, v, r, q = option_grid(2000, seed=8)
    market = {"time_to_expiry": T, "rate": r, "dividend_yield": q, "option_type": "put"}
    p = bsm_price(S, K, volatility=v, **market)
    iv = bsm_implied_vol(torch.tensor(p), S, K, **market)
    assert isinstance(iv, torch.Tensor)
    intrinsic = np.maximum(K * np.exp(-r * T) - S * np.exp(-q * T), 0)
    good = (p - intrinsic > 1e-6 * S) & (
        v * bsm_greeks(S, K, volatility=v, **market)["vega"] > 1e-4 * p
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
    with pytest.raises(ValueError, match="forward"):
        black76_implied_vol(5.0, -100.0, 100.0, time_to_expiry=1.0)
