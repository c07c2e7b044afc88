"""Feature and target builders used through FreqAI's feature-engineering hooks.

Pure pandas/TA-Lib functions of a candle DataFrame, so they are testable without a bot.
Every feature column starts with ``%`` and every target with ``&`` (FreqAI's naming).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import talib.abstract as ta

from hyperphysics_strategy.trading.bet import DEFAULT_BET
from hyperphysics_strategy.trading.labels import (  # noqa: F401 - the strategy's names for them
    CLASSES,
    PRICE_COLUMNS,
    bad_candles,
    barrier_labels,
    barrier_sigma,
    repair_candles,
)

logger = logging.getLogger(__name__)

TARGET_COLUMN = "&s-direction"


def _add_masked(df: pd.DataFrame, build) -> pd.DataFrame:
    """``build``'s ``%`` columns computed on the repaired candles, NaN on bad candles."""
    bad = bad_candles(df)
    built = build(repair_candles(df[[*PRICE_COLUMNS, "volume"]], bad))
    for column in built.columns:
        if column.startswith("%"):
            df[column] = built[column].mask(bad)
    return df


def add_indicator_features(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Momentum, trend, volatility and volume indicators over ``period`` candles.

    Prices enter only as ratios or returns so that the features are stationary. A bad
    candle (see :func:`bad_candles`) gets NaN features and is replaced by a flat candle at
    the last valid close for the others (:func:`repair_candles`), so it costs only its own
    row instead of every later one.
    """
    return _add_masked(df, lambda candles: _indicators(candles, period))


def _indicators(df: pd.DataFrame, period: int) -> pd.DataFrame:
    close = df["close"]
    df["%-rsi-period"] = ta.RSI(df, timeperiod=period)
    df["%-mfi-period"] = ta.MFI(df, timeperiod=period)
    df["%-adx-period"] = ta.ADX(df, timeperiod=period)
    df["%-close_sma_ratio-period"] = close / ta.SMA(df, timeperiod=period) - 1.0
    df["%-close_ema_ratio-period"] = close / ta.EMA(df, timeperiod=period) - 1.0
    df["%-roc-period"] = ta.ROC(df, timeperiod=period)
    df["%-natr-period"] = ta.NATR(df, timeperiod=period)
    upper, middle, lower = ta.BBANDS(close, timeperiod=period, nbdevup=2.0, nbdevdn=2.0)
    df["%-bb_width-period"] = (upper - lower) / middle
    df["%-bb_position-period"] = (close - lower) / (upper - lower)
    df["%-relative_volume-period"] = df["volume"] / df["volume"].rolling(period).mean()
    df["%-realised_vol-period"] = np.log(close).diff().rolling(period).std()
    return df


def add_basic_features(df: pd.DataFrame) -> pd.DataFrame:
    """Per-candle shape: return, range and body relative to price, log volume (NaN on a
    bad candle; the next candle's return spans the gap from the last valid close)."""
    return _add_masked(df, _basic)


def _basic(df: pd.DataFrame) -> pd.DataFrame:
    df["%-pct_change"] = df["close"].pct_change()
    df["%-range"] = (df["high"] - df["low"]) / df["close"]
    df["%-body"] = (df["close"] - df["open"]) / df["close"]
    df["%-log_volume"] = np.log1p(df["volume"])
    return df


def add_calendar_features(df: pd.DataFrame) -> pd.DataFrame:
    """Hour of day and day of week as points on the unit circle (no midnight jump)."""
    hour = df["date"].dt.hour + df["date"].dt.minute / 60.0
    dow = df["date"].dt.day_of_week
    df["%-hour_sin"] = np.sin(2 * np.pi * hour / 24.0)
    df["%-hour_cos"] = np.cos(2 * np.pi * hour / 24.0)
    df["%-dow_sin"] = np.sin(2 * np.pi * dow / 7.0)
    df["%-dow_cos"] = np.cos(2 * np.pi * dow / 7.0)
    return df


def ordered_candles(candles: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``candles`` as the indicators need them: ``date`` in UTC (a date in any
    time zone is converted, one without a zone is taken as UTC), rows sorted by date, one
    row per date (of repeated dates the last row is kept, with a warning naming the count
    and the first one). The rows keep their index labels."""
    out = candles.copy()
    out["date"] = pd.to_datetime(out["date"], utc=True)
    if not out["date"].is_monotonic_increasing:
        out = out.sort_values("date", kind="stable")
    repeated = out["date"].duplicated(keep="last")
    if repeated.any():
        logger.warning(
            "candles: %d rows repeat an earlier date (first %s): the last row of each "
            "date is kept", int(repeated.sum()), out.loc[repeated, "date"].iloc[0],
        )  # fmt: skip
        out = out[~repeated]
    return out


def build_features(candles: pd.DataFrame, periods: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """The strategy's features of plain candles (``date, open, high, low, close, volume``).

    As FreqAI expands them for one timeframe: the indicator features for each period in
    ``periods`` (``%-rsi-10``, ``%-rsi-20``, ...), then the per-candle shape and the
    calendar features (hours in UTC). One row per date, on the index of the rows of
    :func:`ordered_candles` (sorted by date, repeated dates dropped); the indicators'
    warm-up rows hold NaN (and an infinite ratio is NaN too). Raises ``ValueError``
    naming any missing candle column.
    """
    missing = [c for c in ("date", "open", "high", "low", "close", "volume") if c not in candles]
    if missing:
        raise ValueError(f"candles lack the columns {missing}")
    candles = ordered_candles(candles)
    out = candles.copy()
    for period in periods:
        ind = add_indicator_features(candles.copy(), int(period))
        for col in ind.columns:
            if col.startswith("%"):
                out[col.replace("period", str(period))] = ind[col]
    out = add_calendar_features(add_basic_features(out))
    cols = [c for c in out.columns if c.startswith("%")]
    return out[cols].replace([np.inf, -np.inf], np.nan)


def build_training_set(
    candles: pd.DataFrame,
    periods: Sequence[int] = (10, 20),
    horizon: int = DEFAULT_BET.horizon,
    vol_window: int = DEFAULT_BET.vol_window,
    k_up: float = DEFAULT_BET.k_up,
    k_down: float = DEFAULT_BET.k_down,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and triple-barrier labels of one pair's candles, outside FreqAI.

    The strategy's features as FreqAI would expand them for one timeframe: the indicator
    features for each period in ``periods`` (``%-rsi-10``, ``%-rsi-20``, ...), the
    per-candle shape and the calendar features, and the ``barrier_labels`` target over
    ``horizon`` candles, on :func:`ordered_candles`. Rows with an infinite or missing
    value (indicator warm-up, the last ``horizon`` candles) are dropped. Returns
    ``(features, labels)`` on the kept rows of ``candles``' index; the feature columns
    start with ``%``.
    """
    if "date" in candles:  # build_features names a missing column
        candles = ordered_candles(candles)
    out = build_features(candles, periods)
    out[TARGET_COLUMN] = barrier_labels(candles, horizon, vol_window, k_up, k_down)
    out = out.dropna()
    cols = [c for c in out.columns if c.startswith("%")]
    return out[cols], out[TARGET_COLUMN]
