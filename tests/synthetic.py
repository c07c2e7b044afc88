"""Synthetic data shared by the tests: training sets for the ensemble and expert tests,
option chains for the Greeks tests."""

from __future__ import annotations

import numpy as np


def three_class_signal(n: int = 3000, seed: int = 0, noise: float = 0.1):
    """``n`` rows of 12 standard-normal float32 features and ``sell``/``neutral``/``buy``
    labels from the score ``x0 + 0.5 x1 + noise * N(0, 1)`` cut at -0.6 and 0.6."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] + noise * rng.normal(size=n)
    y = np.where(score > 0.6, "buy", np.where(score < -0.6, "sell", "neutral"))
    return X, y


def option_grid(n: int = 400, seed: int = 0):
    """``n`` random options ``(spot, strike, time_to_expiry, volatility, rate,
    dividend_yield)``: |ln(K/S)| <= 1, 0.01 <= T <= 4, 0.05 <= sigma <= 1.5."""
    rng = np.random.default_rng(seed)
    S = rng.uniform(20, 200, n)
    K = S * np.exp(rng.uniform(-1.0, 1.0, n))
    T = rng.uniform(0.01, 4.0, n)
    v = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(-0.02, 0.1, n)
    q = rng.uniform(0.0, 0.08, n)
    return S, K, T, v, r, q


def random_walk_candles(n: int, seed: int, start: str = "2021-04-01"):
    """``n`` 5m candles of a random walk (0.3% a candle), freqtrade's columns, UTC dates."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    return pd.DataFrame(
        {"date": pd.date_range(start, periods=n, freq="5min", tz="UTC"),
         "open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
         "volume": np.full(n, 10.0)}
    )  # fmt: skip
