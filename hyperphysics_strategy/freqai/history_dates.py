"""Candle ``date`` columns back to ``datetime64[ms, UTC]`` (freqtrade's live date bug).

Candles loaded from disk carry ``date`` as ``datetime64[ms, UTC]``; candles from the
exchange arrive as ``datetime64[us, UTC]`` with another tz object, and FreqAI's drawer
concatenates both into an ``object`` column (see shared FREQTRADE_NOTES). The drawer's
append is patched in :mod:`.compat.update_historic_data`; a live round normalises the
copies it trains on (:mod:`.compat.extract_data_and_train_model`).
"""

from __future__ import annotations

import pandas as pd


def normalise_date_column(df: pd.DataFrame) -> bool:
    """Make ``df["date"]`` a ``datetime64[ms, UTC]`` column in place; return True if changed."""
    if "date" not in df.columns:
        return False
    col = df["date"]
    if isinstance(col.dtype, pd.DatetimeTZDtype) and str(col.dtype) == "datetime64[ms, UTC]":
        return False
    df["date"] = pd.to_datetime(col, utc=True).astype("datetime64[ms, UTC]")
    return True
