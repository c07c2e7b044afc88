"""Candles from a freqtrade data directory, held as columnar numpy arrays.

A freqtrade datadir holds one file per pair and timeframe, named
``<BASE>_<QUOTE>-<timeframe>.feather`` with the columns ``date`` (UTC), ``open``,
``high``, ``low``, ``close`` and ``volume``. Futures files (``-futures``, ``-mark``
...) and other formats are ignored. This module loads such files, knows Binance's
kline intervals and aggregates candles to coarser intervals.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import Columns

logger = logging.getLogger(__name__)

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
#: Binance weeks start on Monday 00:00 UTC; 1970-01-05 (4 days after the epoch) was one.
WEEK_OFFSET_MS = 4 * DAY_MS
#: Nominal length of the calendar-month interval ``1M`` (buckets use real months).
MONTH_MS = 30 * DAY_MS

#: Every kline interval Binance spot accepts, with its (nominal) length in ms.
BINANCE_INTERVALS: dict[str, int] = {
    "1s": SECOND_MS,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
    "1M": MONTH_MS,
}

_UNIT_MS = {"s": SECOND_MS, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": WEEK_MS}
_FILE_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)-(?P<tf>\d+[smhdwM])\.feather$"
)
_COLUMNS = ("open", "high", "low", "close", "volume")


def timeframe_to_ms(timeframe: str) -> int:
    """Length of a freqtrade/Binance timeframe such as ``5m`` or ``1h`` in milliseconds.

    ``M`` (month) counts as 30 days. Raises ``ValueError`` for anything else.
    """
    match = re.fullmatch(r"(\d+)([smhdwM])", timeframe)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a timeframe: {timeframe!r} (expected e.g. '5m', '1h', '1d')")
    amount, unit = int(match.group(1)), match.group(2)
    return amount * (MONTH_MS if unit == "M" else _UNIT_MS[unit])


def ms_to_timeframe(ms: int) -> str:
    """Shortest ``<n><unit>`` label for a duration in ms (``300000`` -> ``5m``)."""
    for unit, unit_ms in (("w", WEEK_MS), ("d", DAY_MS), ("h", HOUR_MS), ("m", MINUTE_MS)):
        if ms % unit_ms == 0:
            return f"{ms // unit_ms}{unit}"
    if ms % SECOND_MS == 0:
        return f"{ms // SECOND_MS}s"
    return f"{ms}ms"


def bucket_starts(open_time: np.ndarray, interval: str | int) -> np.ndarray:
    """Open time of the ``interval`` bucket that each open time falls in.

    ``interval`` is a Binance label or a length in ms. ``1w`` buckets start on Monday
    and ``1M`` buckets on the first of each calendar month, as on Binance; every other
    interval is aligned to multiples of its length since the Unix epoch.
    """
    if interval == "1M":
        months = open_time.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    length = BINANCE_INTERVALS[interval] if isinstance(interval, str) else int(interval)
    if length == WEEK_MS:
        return (open_time - WEEK_OFFSET_MS) // WEEK_MS * WEEK_MS + WEEK_OFFSET_MS
    return open_time // length * length


def bucket_end(bucket_open: np.ndarray, interval: str | int) -> np.ndarray:
    """Exclusive end (next bucket's open) of buckets opening at ``bucket_open``."""
    if interval == "1M":
        months = bucket_open.astype("datetime64[ms]").astype("datetime64[M]") + 1
        return months.astype("datetime64[ms]").astype(np.int64)
    length = BINANCE_INTERVALS[interval] if isinstance(interval, str) else int(interval)
    return bucket_open + length


@dataclass(frozen=True)
class Ohlcv(Columns):
    """Open time (ms since the epoch, UTC) and OHLCV columns, sorted by open time."""

    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


@dataclass(frozen=True)
class Candles(Ohlcv):
    """Kline rows: OHLCV plus the Binance kline extras (quote volume, trade count and
    taker-buy base/quote volume; see :mod:`.trade_model` for how they are modelled)."""

    quote_volume: np.ndarray
    trades: np.ndarray
    taker_buy_volume: np.ndarray
    taker_buy_quote_volume: np.ndarray

    @staticmethod
    def from_ohlcv(
        open_time: np.ndarray,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        trades: np.ndarray,
    ) -> Candles:
        """Build candles and model the extras from OHLCV and trade counts.

        Quote volume is ``volume * (high + low + close) / 3``; the taker-buy share is
        ``clip(0.5 + 0.5 * (close - open) / (high - low), 0.05, 0.95)`` (0.5 when the
        candle has no range).
        """
        typical = (high + low + close) / 3.0
        quote_volume = volume * typical
        rng = high - low
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(rng > 0, 0.5 + 0.5 * (close - open_) / rng, 0.5)
        share = np.clip(share, 0.05, 0.95)
        return Candles(
            open_time=np.asarray(open_time, dtype=np.int64),
            open=np.asarray(open_, dtype=np.float64),
            high=np.asarray(high, dtype=np.float64),
            low=np.asarray(low, dtype=np.float64),
            close=np.asarray(close, dtype=np.float64),
            volume=np.asarray(volume, dtype=np.float64),
            quote_volume=quote_volume,
            trades=np.asarray(trades, dtype=np.int64),
            taker_buy_volume=volume * share,
            taker_buy_quote_volume=quote_volume * share,
        )


def aggregate(candles: Candles, interval: str | int) -> Candles:
    """Aggregate candles into ``interval`` buckets (first open, max high, min low,
    last close, summed volumes and counts); open times become the bucket starts."""
    if len(candles) == 0:
        return candles
    starts = bucket_starts(candles.open_time, interval)
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last = np.r_[first[1:] - 1, len(starts) - 1]
    return Candles(
        open_time=starts[first],
        open=candles.open[first],
        high=np.maximum.reduceat(candles.high, first),
        low=np.minimum.reduceat(candles.low, first),
        close=candles.close[last],
        volume=np.add.reduceat(candles.volume, first),
        quote_volume=np.add.reduceat(candles.quote_volume, first),
        trades=np.add.reduceat(candles.trades, first),
        taker_buy_volume=np.add.reduceat(candles.taker_buy_volume, first),
        taker_buy_quote_volume=np.add.reduceat(candles.taker_buy_quote_volume, first),
    )


@dataclass(frozen=True)
class OhlcvFrame(Ohlcv):
    """Raw OHLCV of one pair and timeframe as loaded from disk."""

    timeframe_ms: int

    @property
    def end_ms(self) -> int:
        """Close time (exclusive) of the last candle."""
        return int(self.open_time[-1]) + self.timeframe_ms


@dataclass(frozen=True)
class PairData:
    """All timeframes found for one spot pair."""

    base: str
    quote: str
    frames: dict[int, OhlcvFrame]

    @property
    def symbol(self) -> str:
        """Binance symbol, e.g. ``BTCUSDT``."""
        return f"{self.base}{self.quote}"

    @property
    def pair(self) -> str:
        """freqtrade/ccxt pair, e.g. ``BTC/USDT``."""
        return f"{self.base}/{self.quote}"

    @property
    def finest(self) -> OhlcvFrame:
        """The frame with the shortest timeframe."""
        return self.frames[min(self.frames)]


def discover_files(datadir: Path) -> dict[str, dict[int, Path]]:
    """Spot OHLCV feather files in ``datadir``: ``{"BTC/USDT": {300000: path, ...}}``."""
    found: dict[str, dict[int, Path]] = {}
    for path in sorted(Path(datadir).glob("*.feather")):
        match = _FILE_RE.match(path.name)
        if not match:
            continue
        pair = f"{match['base'].upper()}/{match['quote'].upper()}"
        found.setdefault(pair, {})[timeframe_to_ms(match["tf"])] = path
    return found


def discover_pairs(datadir: Path) -> list[str]:
    """Pairs (``BASE/QUOTE``) with at least one spot OHLCV file in ``datadir``."""
    return sorted(discover_files(datadir))


def _check_values(path: Path, df: pd.DataFrame) -> None:
    """``ValueError`` naming the file, the count and the first date of candles with a
    missing date, a NaN or infinite value, or a price that is not positive (served
    candles would otherwise carry "nan" strings)."""
    values = df[list(_COLUMNS)].to_numpy(np.float64)
    prices = df[["open", "high", "low", "close"]].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        bad = (
            ~np.isfinite(values).all(axis=1)
            | (prices <= 0).any(axis=1)
            | df["date"].isna().to_numpy()
        )
    if bad.any():
        first = df["date"].iloc[int(np.argmax(bad))]
        raise ValueError(
            f"{path}: {int(bad.sum())} of {len(df)} candles have a missing date, a NaN or "
            f"infinite value, or a price <= 0 (first at {first}); repair or re-download "
            "the file"
        )


def load_frame(path: Path, timeframe_ms: int) -> OhlcvFrame:
    """Read one freqtrade feather file; rows sorted by date, duplicates dropped."""
    df = pd.read_feather(path)
    missing = {"date", *_COLUMNS} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    if len(df) == 0:
        return OhlcvFrame(
            timeframe_ms=timeframe_ms,
            open_time=np.empty(0, dtype=np.int64),
            **{c: np.empty(0) for c in _COLUMNS},
        )
    _check_values(path, df)
    dates = pd.to_datetime(df["date"], utc=True)
    open_time = (dates.astype("datetime64[ms, UTC]").astype("int64")).to_numpy(np.int64)
    order = np.argsort(open_time, kind="stable")
    open_time = open_time[order]
    keep = np.r_[True, open_time[1:] != open_time[:-1]]
    columns = {c: df[c].to_numpy(np.float64)[order][keep] for c in _COLUMNS}
    return OhlcvFrame(timeframe_ms=timeframe_ms, open_time=open_time[keep], **columns)


def load_datadir(datadir: Path, pairs: list[str] | None = None) -> dict[str, PairData]:
    """Load every spot pair (or only ``pairs``) from ``datadir``, keyed by Binance symbol.

    Raises ``FileNotFoundError`` when the folder does not exist and ``ValueError`` when
    it holds no usable file, a requested pair is missing or empty, or a file holds NaN,
    infinite or non-positive prices (naming the file).
    """
    datadir = Path(datadir)
    if not datadir.is_dir():
        raise FileNotFoundError(f"datadir {datadir} does not exist or is not a folder")
    files = discover_files(datadir)
    if pairs is not None:
        wanted = {p.upper() for p in pairs}
        absent = sorted(wanted - set(files))
        if absent:
            raise ValueError(f"no candle files for {absent} in {datadir}")
        files = {p: f for p, f in files.items() if p in wanted}
    result: dict[str, PairData] = {}
    empty: list[Path] = []
    for pair, by_tf in files.items():
        frames = {tf: load_frame(path, tf) for tf, path in by_tf.items()}
        frames = {tf: fr for tf, fr in frames.items() if len(fr) > 0}
        if not frames:
            names = ", ".join(p.name for p in by_tf.values())
            if pairs is not None:
                raise ValueError(f"{pair}: its candle files in {datadir} are empty ({names})")
            logger.warning("skipping %s: its candle files are empty (%s)", pair, names)
            empty.extend(by_tf.values())
            continue
        base, quote = pair.split("/")
        data = PairData(base=base, quote=quote, frames=frames)
        result[data.symbol] = data
    if not result and empty:
        raise ValueError(
            f"every candle file in {datadir} is empty: {', '.join(p.name for p in empty)}"
        )
    if not result:
        raise ValueError(f"no spot candle files (<BASE>_<QUOTE>-<tf>.feather) found in {datadir}")
    return result
