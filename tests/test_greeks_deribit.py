"""Black-76 against a real Deribit BTC option chain (exchange mark price, IV and Greeks).

Deribit prices BTC options with Black-76 on the underlying future: F = underlying_price,
r = 0, expiry 08:00 UTC (in ``expiration_timestamp``).  ``now`` is each row's own
``timestamp`` (the snapshot taken 2020-05-21 23:20 UTC / 2020-05-14).  mark_price is in
BTC, i.e. the USD Black-76 price divided by F; the exchange's greeks are in USD with
vega per vol point and theta per day.

Tolerances (documented in docs/risk.md): the exchange marks with its own, slightly
different, underlying level and clock and rounds its greeks to 5 decimals, so agreement is
to the exchange's rounding and mark noise, not to machine precision.
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.engine.greeks import (
    black76_greeks,
    black76_implied_vol,
    theta_per_day,
    vega_per_vol_point,
)
from tests.data_paths import SHARED_OPTIONS

FILES = ["options_data.csv", "btc_options_data.csv"]


def _chain(name):
    path = SHARED_OPTIONS / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    d = pd.read_csv(path)
    greeks = pd.DataFrame([ast.literal_eval(s) for s in d["greeks"]])
    T = (d["expiration_timestamp"] - d["timestamp"]).to_numpy() / 1000.0 / 86400.0 / 365.0
    assert (d["interest_rate"] == 0).all()
    return d, greeks, T


@pytest.mark.parametrize("name", FILES)
def test_black76_reproduces_deribit_marks_and_greeks(name):
    d, gr, T = _chain(name)
    F = d["underlying_price"].to_numpy()
    K = d["strike"].to_numpy()
    g = black76_greeks(
        F,
        K,
        time_to_expiry=T,
        volatility=d["mark_iv"].to_numpy() / 100.0,
        rate=0.0,
        option_type=d["option_type"].to_numpy(),
    )
    mark = d["mark_price"].to_numpy()
    price_btc = g["price"] / F
    assert np.all(np.abs(price_btc - mark) <= 2e-4 + 1e-3 * mark)
    assert np.all(np.abs(g["delta"] - gr["delta"]) <= 5e-4)
    assert np.all(np.abs(g["gamma"] - gr["gamma"]) <= 1e-5)
    vega_pt = vega_per_vol_point(g["vega"])
    assert np.all(np.abs(vega_pt - gr["vega"]) <= 5e-3 + 2e-3 * np.abs(gr["vega"]))
    # Deribit's theta below ~1 day to expiry is the decay to expiry, not dV/dt: compare
    # only options with more than 2 days left
    longer = T * 365.0 > 2.0
    assert longer.sum() > 200
    th = theta_per_day(g["theta"])[longer]
    ref = gr["theta"].to_numpy()[longer]
    assert np.all(np.abs(th - ref) <= 1e-2 + 1e-3 * np.abs(ref))


@pytest.mark.parametrize("name", FILES)
def test_implied_vol_from_deribit_mark_price(name):
    d, gr, T = _chain(name)
    F = d["underlying_price"].to_numpy()
    K = d["strike"].to_numpy()
    kind = d["option_type"].to_numpy()
    mark = d["mark_price"].to_numpy()
    iv = black76_implied_vol(mark * F, F, K, time_to_expiry=T, rate=0.0, option_type=kind) * 100.0
    intrinsic = np.maximum(np.where(kind == "call", F - K, K - F), 0.0) / F
    # marks at or below intrinsic (deep ITM, hours to expiry) have no implied vol
    below = mark <= intrinsic
    assert np.all(np.isnan(iv[below]) | (iv[below] == 0.0))
    informative = (T * 365.0 > 1.0) & (gr["vega"].to_numpy() >= 5.0) & (mark >= 0.005)
    assert informative.sum() > 100
    diff = np.abs(iv[informative] - d["mark_iv"].to_numpy()[informative])
    assert np.nanmax(diff) <= 0.25  # vol points
    assert np.median(diff) <= 0.05
    # self-consistency on the same chain: our own Black-76 price at mark_iv inverts to
    # mark_iv to 1e-8 relative wherever the option has time value
    own = black76_greeks(
        F,
        K,
        time_to_expiry=T,
        volatility=d["mark_iv"].to_numpy() / 100.0,
        rate=0.0,
        option_type=kind,
    )["price"]
    tv = own - intrinsic * F
    ok = tv > 1e-6 * F
    back = black76_implied_vol(own, F, K, time_to_expiry=T, rate=0.0, option_type=kind) * 100.0
    rel = np.abs(back[ok] - d["mark_iv"].to_numpy()[ok]) / d["mark_iv"].to_numpy()[ok]
    assert rel.max() <= 1e-8
