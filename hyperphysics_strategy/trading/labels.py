"""Triple-barrier labels of a candle DataFrame: the bet's outcome as the model's target.

The classes are ``sell`` / ``neutral`` / ``buy`` (the barrier touched first: lower, time,
upper; :mod:`.barriers`). Candles that cannot be used (:func:`bad_candles`) get no label and
count as a flat candle at the last valid close for the others (:func:`repair_candles`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hyperphysics_strategy.ensemble.labels import DEFAULT_CLASSES

from .barriers import BarrierOutcome, triple_barrier, valid_trailing_sigma
from .bet import DEFAULT_BET

CLASSES = DEFAULT_CLASSES
PRICE_COLUMNS = ("open", "high", "low", "close")


def bad_candles(candles: pd.DataFrame) -> pd.Series:
    """True for candles that cannot be used: an open, high, low or close that is NaN,
    infinite, zero or negative, or a NaN, infinite or negative volume. A zero volume is
    a real candle (no trades; freqtrade fills missing candles that way) and is kept.
    Only the columns ``candles`` has are checked."""
    prices = candles[[c for c in PRICE_COLUMNS if c in candles]].to_numpy(dtype=np.float64)
    ok = (np.isfinite(prices) & (prices > 0)).all(axis=1)
    if "volume" in candles:
        volume = candles["volume"].to_numpy(dtype=np.float64)
        ok &= np.isfinite(volume) & (volume >= 0)
    return pd.Series(~ok, index=candles.index)


def repair_candles(candles: pd.DataFrame, bad: pd.Series) -> pd.DataFrame:
    """A copy of ``candles`` for the indicators, in which each ``bad`` candle is a flat
    candle at the last valid close (the first valid close before any) with zero volume:
    as freqtrade fills a missing candle. TA-Lib would otherwise carry a NaN forward through
    every later row; the bad candles' own rows are masked by the callers."""
    out = candles.copy()
    if bad.any():
        close = out["close"].where(~bad).ffill().bfill()
        for column in PRICE_COLUMNS:
            if column in out:
                out[column] = out[column].where(~bad, close)
        if "volume" in out:
            out["volume"] = out["volume"].where(~bad, 0.0)
    return out


def barrier_sigma(close: pd.Series, vol_window: int) -> pd.Series:
    """Trailing volatility of one-candle log returns (see :mod:`.barriers`), known at
    each candle; NaN for the first ``vol_window`` candles and on a bad close (NaN,
    infinite, zero or negative), which counts as the last valid close for the others."""
    return pd.Series(valid_trailing_sigma(close.to_numpy(np.float64), vol_window), close.index)


def barrier_outcome(
    df: pd.DataFrame,
    horizon: int,
    vol_window: int,
    k_up: float,
    k_down: float,
    side: str = "long",
) -> tuple[BarrierOutcome, np.ndarray]:
    """The triple-barrier outcome of every candle of ``df`` (:func:`.barriers.triple_barrier`
    on :func:`repair_candles`, sigma :func:`barrier_sigma`) and the mask of its bad candles
    (:func:`bad_candles`), whose outcome must not be used."""
    bad = bad_candles(df)
    df = repair_candles(df, bad)  # a flat candle at the last close touches no new barrier
    close = df["close"]
    sigma = barrier_sigma(close, vol_window)
    out = triple_barrier(df["high"], df["low"], close, sigma, horizon, k_up, k_down, side)
    return out, bad.to_numpy()


def barrier_labels(
    df: pd.DataFrame,
    horizon: int,
    vol_window: int = DEFAULT_BET.vol_window,
    k_up: float = DEFAULT_BET.k_up,
    k_down: float = DEFAULT_BET.k_down,
    side: str = "long",
) -> pd.Series:
    """Triple-barrier target: ``buy`` / ``sell`` / ``neutral`` by the barrier that the next
    ``horizon`` candles' highs and lows touch first (:func:`.barriers.triple_barrier`:
    barriers ``k_up`` / ``k_down`` x sigma x sqrt(horizon) from the close, a candle touching
    both counts as the side's stop). The last ``horizon`` candles, the volatility warm-up
    and bad candles (:func:`bad_candles`) are NaN, and FreqAI drops them from training. A
    bad candle inside a later candle's horizon is the flat candle of :func:`repair_candles`:
    it sits within the previous candle's range, so it can miss a touch but never invent one.
    """
    out, bad = barrier_outcome(df, horizon, vol_window, k_up, k_down, side)
    return pd.Series(label_names(out.label, bad), index=df.index, dtype=object)


def label_names(codes: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Class names of outcome codes (:data:`CLASSES`); NaN where there is no code or the
    candle is ``bad``."""
    names = np.full(codes.shape, np.nan, dtype=object)
    ok = np.isfinite(codes) & ~bad
    names[ok] = np.asarray(CLASSES, dtype=object)[codes[ok].astype(np.int64)]
    return names
