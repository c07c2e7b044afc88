"""Risk columns of the strategy: rolling VaR/ES and the Greeks of a synthetic option.

Built on :class:`~hyperphysics_strategy.engine.risk.GPURiskEngine` over every candle at
once (vectorised, no loop over windows).

Feature columns (``%`` prefix, seen by the model), all from one-candle log returns over
the trailing ``window`` candles:

- ``%-var_95``, ``%-es_95``, ``%-var_99``, ``%-es_99``: historical VaR and Expected
  Shortfall of a one-candle loss, as positive fractions of price;
- ``%-atm_gamma``, ``%-atm_vega``, ``%-atm_theta``: Greeks of an at-the-money call
  (strike = spot = close, ``option_days`` to expiry, rate 0) priced at the realised
  volatility, made scale-free: ``gamma * S``, ``vega / S`` (per 1.00 vol) and
  ``theta / S`` (per day). They move with the volatility regime.

Risk-management columns (``hp_`` prefix, not features):

- ``hp_var_99_1d``: one-day 99% VaR as a fraction of position value, from the one-candle
  VaR by the square-root-of-time rule (``var_99 * sqrt(candles per day)``);
- ``hp_es_99``: one-candle 99% Expected Shortfall (stop-loss distance input);
- ``hp_vol_annual``: realised volatility, annualised;
- ``hp_var_95_floor``, ``hp_var_99_floor``: the close minus its one-candle 95% / 99% VaR,
  price bands for ``plot_config`` (FreqAI strips ``%`` columns from what it returns).

A bad close (NaN, infinite, zero or negative) costs only its own row: it is missing from
the returns (see :func:`log_returns`), and its row gets NaN floors and Greeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hyperphysics_strategy.engine.greeks import theta_per_day
from hyperphysics_strategy.engine.risk import GPURiskEngine

SECONDS_PER_DAY = 86_400.0
DAYS_PER_YEAR = 365.0


def candles_per_day(timeframe_seconds: float) -> float:
    if timeframe_seconds <= 0:
        raise ValueError(f"timeframe must be positive, got {timeframe_seconds} s")
    return SECONDS_PER_DAY / timeframe_seconds


def valid_prices(close: pd.Series) -> np.ndarray:
    """True where the close is a usable price: finite and positive."""
    c = close.to_numpy(dtype=np.float64)
    return np.isfinite(c) & (c > 0)


def log_returns(close: pd.Series) -> np.ndarray:
    """One-candle log returns; the first (undefined) return is 0.

    A bad close (NaN, infinite, zero or negative) counts as missing: its return is 0 and
    the next valid candle's return spans the gap from the last valid close, so one bad
    price changes two returns instead of poisoning the rolling windows.
    """
    c = close.to_numpy(dtype=np.float64)
    c = pd.Series(np.where(valid_prices(close), c, np.nan)).ffill().to_numpy()
    r = np.diff(np.log(c), prepend=np.nan)
    r[0] = 0.0
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def add_risk_management_columns(
    df: pd.DataFrame, engine: GPURiskEngine, timeframe_seconds: float, window: int = 288
) -> pd.DataFrame:
    """Only the ``hp_`` columns (VaR/ES for sizing, stops and plots), no model features."""
    return add_risk_columns(df, engine, timeframe_seconds, window, features=False)


def add_risk_columns(
    df: pd.DataFrame,
    engine: GPURiskEngine,
    timeframe_seconds: float,
    window: int = 288,
    option_days: float = 7.0,
    features: bool = True,
) -> pd.DataFrame:
    """Add the VaR/ES and Greeks feature columns and the ``hp_`` risk columns to ``df``
    (only the ``hp_`` columns when ``features`` is False)."""
    n = len(df)
    per_day = candles_per_day(timeframe_seconds)
    names = ("%-var_95", "%-var_99", "%-es_95", "%-es_99", "%-atm_gamma", "%-atm_vega",
             "%-atm_theta", "hp_var_99_1d", "hp_es_99", "hp_vol_annual", "hp_var_95_floor",
             "hp_var_99_floor")  # fmt: skip
    if not features:
        names = tuple(name for name in names if name.startswith("hp_"))
    if n < window:
        for name in names:
            df[name] = np.nan
        return df
    returns = log_returns(df["close"])
    priced = valid_prices(df["close"])  # a bad close gets no floor and no Greeks
    close = np.where(priced, df["close"].to_numpy(dtype=np.float64), np.nan)
    var, es = engine.rolling_var(returns, window=window, confidence=(0.95, 0.99))
    df["hp_var_99_1d"] = var[:, 1] * np.sqrt(per_day)
    df["hp_var_95_floor"] = close * (1.0 - var[:, 0])
    df["hp_var_99_floor"] = close * (1.0 - var[:, 1])
    df["hp_es_99"] = es[:, 1]
    vol = pd.Series(returns).rolling(window).std().to_numpy() * np.sqrt(per_day * DAYS_PER_YEAR)
    df["hp_vol_annual"] = vol
    if not features:
        return df

    df["%-var_95"], df["%-var_99"] = var[:, 0], var[:, 1]
    df["%-es_95"], df["%-es_99"] = es[:, 0], es[:, 1]
    ok = np.isfinite(vol) & (vol > 0) & priced
    gamma = np.full(n, np.nan)
    vega = np.full(n, np.nan)
    theta = np.full(n, np.nan)
    if ok.any():
        spot = close[ok]
        greeks = engine.greeks(
            spot,
            spot,
            time_to_expiry=np.full(ok.sum(), option_days / DAYS_PER_YEAR),
            volatility=vol[ok],
            option_type="call",
        )
        gamma[ok] = greeks["gamma"] * spot
        vega[ok] = greeks["vega"] / spot
        theta[ok] = theta_per_day(greeks["theta"], DAYS_PER_YEAR) / spot
    df["%-atm_gamma"], df["%-atm_vega"], df["%-atm_theta"] = gamma, vega, theta
    return df
