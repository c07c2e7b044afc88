"""``hyperphysics search``'s input: the config, the timeranges and the pairs' candles.

Candles are read with freqtrade's loader from ``<userdir>/data/<exchange>`` (or the
config's ``datadir``); a timeframe without its own file (``15m``) is resampled from the
finest one there. Bad input raises :class:`~.train_data.InputError` naming the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .train_data import InputError, candle_file, load_candles

if TYPE_CHECKING:
    import pandas as pd

#: files looked for, finest first; other timeframes are resampled from the finest found
SOURCE_TIMEFRAMES = ("1m", "5m", "15m", "1h")


def load_config(files: list[Path] | None) -> dict[str, Any]:
    """freqtrade's merge of the ``-c`` files (a later one wins); ``{}`` without any."""
    if not files:
        return {}
    from freqtrade.configuration.load_config import load_from_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InputError(f"config file(s) not found: {', '.join(missing)}")
    try:
        return load_from_files([str(f) for f in files])
    except Exception as exc:  # freqtrade's own errors name the file and the line
        raise InputError(f"cannot read the config: {exc}") from exc


def timerange(text: str, option: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A closed freqtrade timerange ``YYYYMMDD-YYYYMMDD`` as UTC ``[start, end)``."""
    import pandas as pd
    from freqtrade.configuration import TimeRange

    try:
        tr = TimeRange.parse_timerange(text)
    except Exception as exc:
        raise InputError(f"{option} {text!r} is not a freqtrade timerange: {exc}") from exc
    if not tr.startts or not tr.stopts:
        raise InputError(f"{option} {text!r} needs a start and an end (YYYYMMDD-YYYYMMDD)")
    start, end = (pd.Timestamp(t, unit="s", tz="UTC") for t in (tr.startts, tr.stopts))
    if not start < end:
        raise InputError(f"{option} {text!r} ends before it starts")
    return start, end


def datadir(config: dict[str, Any], userdir: Path) -> Path:
    if config.get("datadir"):
        return Path(config["datadir"])
    return userdir / "data" / str(config.get("exchange", {}).get("name", "binance"))


def resample(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """OHLCV candles at ``timeframe`` from finer ones (a bucket is labelled by its start)."""
    rule = timeframe.replace("m", "min")
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    out = candles.set_index("date").resample(rule, label="left", closed="left").agg(agg)
    return out.dropna(subset=["close"]).reset_index()


def pair_candles(
    folder: Path, pair: str, timeframes: set[str], since: pd.Timestamp, until: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """``pair``'s candles at each of ``timeframes`` on ``[since, until)``."""
    found: dict[str, pd.DataFrame] = {}
    for tf in sorted(
        timeframes | {"1h"},
        key=lambda t: SOURCE_TIMEFRAMES.index(t) if t in SOURCE_TIMEFRAMES else 99,
    ):
        try:
            found[tf] = load_candles(candle_file(folder, pair, tf), pair, tf)
        except InputError:
            continue
    finest = next((found[t] for t in SOURCE_TIMEFRAMES if t in found), None)
    if finest is None:
        raise InputError(f"{pair}: no candle file in {folder} (looked for {SOURCE_TIMEFRAMES})")
    out = {}
    for tf in timeframes | {"1h"}:
        df = found[tf] if tf in found else resample(finest, tf)
        df = df[(df["date"] >= since) & (df["date"] < until)].reset_index(drop=True)
        if df.empty:
            raise InputError(
                f"{pair}: no {tf} candles between {since:%Y-%m-%d} and {until:%Y-%m-%d}"
            )
        out[tf] = df[["date", "open", "high", "low", "close", "volume"]]
    return out
