"""One symbol's market as seen at the current served time.

A :class:`SymbolFeed` turns the loaded candles, the time map and the trade model into
what the endpoints serve: klines (closed candles plus the forming one), aggregate
trades, the last price, rolling 24 h statistics and the inputs of the book model.

The forming candle (replay mode only) is revealed along its synthetic trades: its
open is the candle's open and its high, low, close and volume are those of the trades
printed so far. The candle's final high/low/close are therefore only shown once the
trade path reaches them; when the candle closes it equals the data row exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .clock import HistoricalTimeMap, TimeMap
from .market_data import (
    BINANCE_INTERVALS,
    DAY_MS,
    Candles,
    OhlcvFrame,
    PairData,
    aggregate,
    bucket_end,
    bucket_starts,
    ms_to_timeframe,
)
from .markets import SymbolRules
from .orderbook_model import BookContext
from .trade_model import (
    CandleTrades,
    first_ids,
    generate_candle_trades,
    symbol_key,
    trade_counts,
)

#: Candles used for the book model's range and volume statistics.
BOOK_LOOKBACK = 20


class IntervalUnavailable(ValueError):
    """The interval is a Binance interval but cannot be built from the data."""


@dataclass(frozen=True)
class FeedState:
    """Visibility at one instant: ``n_closed`` base candles are closed; ``forming`` is
    the index of the candle in progress (or ``None``) and ``forming_trades`` its trades
    so far."""

    now_ms: int
    n_closed: int
    forming: int | None
    forming_trades: CandleTrades | None


def _candles_from_frame(frame: OhlcvFrame, open_time: np.ndarray) -> Candles:
    """Kline table of a loaded frame with the given (served) open times."""
    return Candles.from_ohlcv(
        open_time,
        frame.open,
        frame.high,
        frame.low,
        frame.close,
        frame.volume,
        trade_counts(frame.volume, frame.close),
    )


class SymbolFeed:
    """Serves one symbol from its candles (see the module docstring).

    ``base`` is the frame trades and replay candles are built from. In historical mode
    every frame of the pair is also served as it is.
    """

    def __init__(
        self,
        data: PairData,
        base: OhlcvFrame,
        timemap: TimeMap,
        rules: SymbolRules,
        seed: int = 0,
    ) -> None:
        self.data = data
        self.symbol = data.symbol
        self.rules = rules
        self.timemap = timemap
        self.seed = int(seed)
        self.base = base
        self._key = symbol_key(self.symbol)
        self.historical = isinstance(timemap, HistoricalTimeMap)
        self.served_base_ms = timemap.served_duration(base.timeframe_ms)
        self.served_open = np.asarray(timemap.to_served(base.open_time), dtype=np.int64)
        self.served_close = self.served_open + self.served_base_ms
        self.counts = trade_counts(base.volume, base.close)
        self.first_ids = first_ids(self.counts)
        self.base_candles = _candles_from_frame(base, self.served_open)
        self._exact: dict[int, Candles] = {self.served_base_ms: self.base_candles}
        if self.historical:
            for tf, frame in data.frames.items():
                if tf != base.timeframe_ms:
                    self._exact[tf] = _candles_from_frame(frame, frame.open_time)
        self._aggregated: dict[str, Candles] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> FeedState:
        """Which candles are closed and what of the forming one is visible now."""
        now = int(self.timemap.visible_until())
        n_closed = int(np.searchsorted(self.served_close, now, side="right"))
        forming = None
        trades = None
        if n_closed < len(self.served_open) and self.served_open[n_closed] <= now:
            forming = n_closed
            all_trades = self.candle_trades(forming)
            trades = all_trades.take(all_trades.time_ms <= now)
        return FeedState(now, n_closed, forming, trades)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  (feeds live as long as the server)
    def candle_trades(self, index: int) -> CandleTrades:
        """All synthetic trades of base candle ``index`` (served timestamps)."""
        b = self.base
        return generate_candle_trades(
            seed=self.seed,
            sym_key=self._key,
            data_open_ms=int(b.open_time[index]),
            ohlcv=(
                float(b.open[index]),
                float(b.high[index]),
                float(b.low[index]),
                float(b.close[index]),
                float(b.volume[index]),
            ),
            count=int(self.counts[index]),
            first_id=int(self.first_ids[index]),
            served_open_ms=int(self.served_open[index]),
            served_duration_ms=self.served_base_ms,
            tick=self.rules.tick,
        )

    def partial_candle(self, state: FeedState) -> Candles | None:
        """The forming candle as revealed so far, or ``None``."""
        if state.forming is None or state.forming_trades is None:
            return None
        i, t = state.forming, state.forming_trades
        o = float(self.base.open[i])
        if len(t):
            h, lo, c, v = t.price.max(), t.price.min(), float(t.price[-1]), t.qty.sum()
        else:
            h = lo = c = o
            v = 0.0
        return Candles.from_ohlcv(
            np.array([self.served_open[i]]),
            np.array([o]),
            np.array([max(h, o)]),
            np.array([min(lo, o)]),
            np.array([c]),
            np.array([v]),
            np.array([len(t)]),
        )

    def visible_base(self, state: FeedState, lo: int = 0) -> Candles:
        """Closed base candles from index ``lo`` on, plus the forming one."""
        closed = self.base_candles.take(slice(lo, state.n_closed))
        partial = self.partial_candle(state)
        return closed if partial is None else Candles.concat([closed, partial])

    def last_price(self, state: FeedState) -> float | None:
        """Price of the latest visible trade (or close of the last closed candle)."""
        if state.forming_trades is not None and len(state.forming_trades):
            return float(state.forming_trades.price[-1])
        if state.forming is not None:
            return float(self.base.open[state.forming])
        if state.n_closed:
            return float(self.base.close[state.n_closed - 1])
        return None

    def last_trade(self, state: FeedState) -> CandleTrades | None:
        """The latest visible trade as a one-row table, or ``None``."""
        recent = self.agg_trades(None, None, None, 1, state)
        return recent if len(recent) else None

    # ---------------------------------------------------------------- klines
    def interval_ms(self, interval: str) -> int:
        """Nominal length of a Binance interval (``ValueError`` if it is not one)."""
        if interval not in BINANCE_INTERVALS:
            raise ValueError(f"invalid interval {interval!r}")
        return BINANCE_INTERVALS[interval]

    def served_timeframes(self) -> list[str]:
        """Labels of the natively served timeframes (others are aggregated)."""
        return [ms_to_timeframe(tf) for tf in sorted(self._exact)]

    def _source_timeframe(self, interval: str) -> int:
        """Timeframe (served ms) the interval is built from, finest that fits."""
        length = self.interval_ms(interval)
        if interval != "1M" and length in self._exact:
            return length
        calendar = interval in ("1M", "1w", "3d")
        for tf in sorted(self._exact):
            if calendar and DAY_MS % tf == 0:
                return tf
            if not calendar and length % tf == 0:
                return tf
        raise IntervalUnavailable(
            f"interval {interval} cannot be built for {self.symbol} from the available "
            f"timeframes ({', '.join(self.served_timeframes())})"
        )

    def klines(
        self, interval: str, start: int | None, end: int | None, limit: int
    ) -> tuple[Candles, np.ndarray]:
        """Klines (and their close times) selected the Binance way: with ``start`` the
        first ``limit`` candles opening at/after it, otherwise the last ``limit``
        opening at/before ``end`` (or now)."""
        tf = self._source_timeframe(interval)
        length = self.interval_ms(interval)
        if tf != self.served_base_ms or self.historical:
            table = self._historical_table(interval, tf)
        else:
            table = self._replay_table(interval, start, end, limit)
        t = table.open_time
        lo = 0 if start is None else int(np.searchsorted(t, start, side="left"))
        hi = len(t) if end is None else int(np.searchsorted(t, end, side="right"))
        if start is not None:
            hi = min(hi, lo + limit)
        else:
            lo = max(lo, hi - limit)
        rows = table.take(slice(lo, max(lo, hi)))
        close = bucket_end(rows.open_time, interval if length != tf else tf) - 1
        return rows, close

    def _historical_table(self, interval: str, tf: int) -> Candles:
        """Full table of a historical interval (cached, the data never changes)."""
        source = self._exact[tf]
        length = self.interval_ms(interval)
        if interval != "1M" and length == tf:
            return source
        cached = self._aggregated.get(interval)
        if cached is None:
            cached = aggregate(source, interval)
            self._aggregated[interval] = cached
        return cached

    def _replay_table(
        self, interval: str, start: int | None, end: int | None, limit: int
    ) -> Candles:
        """Visible base candles around the requested window, aggregated to ``interval``."""
        state = self.state()
        length = self.interval_ms(interval)
        visible_end = state.n_closed + (state.forming is not None)
        opens = self.served_open[:visible_end]
        ratio = -(-(32 * DAY_MS if interval == "1M" else length) // self.served_base_ms)
        hi = visible_end
        if end is not None:
            end_bucket = bucket_starts(np.array([end], dtype=np.int64), interval)
            hi = int(np.searchsorted(opens, bucket_end(end_bucket, interval)[0], side="left"))
        if start is not None:
            first = bucket_starts(np.array([start], dtype=np.int64), interval)[0]
            lo = int(np.searchsorted(opens, first, side="left"))
            hi = min(hi, lo + (limit + 1) * ratio)
        else:
            lo = max(0, hi - (limit + 1) * ratio)
            if lo < len(opens):
                first = bucket_starts(opens[lo : lo + 1], interval)[0]
                lo = int(np.searchsorted(opens, first, side="left"))
        lo = min(lo, hi)
        if hi <= state.n_closed:
            rows = self.base_candles.take(slice(lo, hi))
        else:
            rows = self.visible_base(state, lo)
        if length == self.served_base_ms and interval != "1M":
            return rows
        return aggregate(rows, interval)

    # ---------------------------------------------------------------- trades
    def agg_trades(
        self,
        from_id: int | None,
        start: int | None,
        end: int | None,
        limit: int,
        state: FeedState | None = None,
    ) -> CandleTrades:
        """Visible aggregate trades: from ``from_id``, inside ``[start, end]``, or the most
        recent ones; at most ``limit``."""
        state = state or self.state()
        last = state.forming if state.forming is not None else state.n_closed - 1
        parts: list[CandleTrades] = []
        taken = 0
        if from_id is None and start is None and end is None:
            i = last
            while i >= 0 and taken < limit:
                part = self._visible_trades(i, state)
                parts.insert(0, part)
                taken += len(part)
                i -= 1
            joined = _concat(parts)
            return joined.take(slice(max(0, len(joined) - limit), None))
        if from_id is not None:
            i = max(0, int(np.searchsorted(self.first_ids, from_id, side="right")) - 1)
        elif start is not None:
            i = int(np.searchsorted(self.served_close, start, side="right"))
        else:
            i = 0
        while i <= last and taken < limit:
            if end is not None and self.served_open[i] > end:
                break
            if self.counts[i]:
                part = self._visible_trades(i, state)
                keep = np.ones(len(part), dtype=bool)
                if from_id is not None:
                    keep &= part.ids >= from_id
                if start is not None:
                    keep &= part.time_ms >= start
                if end is not None:
                    keep &= part.time_ms <= end
                part = part.take(keep)
                parts.append(part)
                taken += len(part)
            i += 1
        return _concat(parts).take(slice(0, limit))

    def _visible_trades(self, index: int, state: FeedState) -> CandleTrades:
        """Trades of candle ``index`` that have happened by ``state.now_ms``."""
        if index == state.forming and state.forming_trades is not None:
            return state.forming_trades
        return self.candle_trades(index)

    # ------------------------------------------------------------ statistics
    def rolling_24h(self, state: FeedState) -> dict[str, float | int]:
        """Rolling 24 h (served time) statistics ending now."""
        window_start = state.now_ms - DAY_MS
        lo = int(np.searchsorted(self.served_open, window_start, side="left"))
        rows = self.visible_base(state, lo)
        prev_close = float(self.base.close[lo - 1]) if lo > 0 else None
        if len(rows) == 0:
            return {}
        volume = float(rows.volume.sum())
        quote = float(rows.quote_volume.sum())
        last_trade = self.last_trade(state)
        first_id = int(self.first_ids[lo]) if lo < len(self.first_ids) else -1
        return {
            "open": float(rows.open[0]),
            "high": float(rows.high.max()),
            "low": float(rows.low.min()),
            "last": float(self.last_price(state) or rows.close[-1]),
            "prev_close": prev_close if prev_close is not None else float(rows.open[0]),
            "volume": volume,
            "quote_volume": quote,
            "vwap": quote / volume if volume > 0 else float(rows.close[-1]),
            "count": int(rows.trades.sum()),
            "first_id": first_id if rows.trades.sum() else -1,
            "last_id": int(last_trade.ids[-1]) if last_trade is not None else -1,
            "last_qty": float(last_trade.qty[-1]) if last_trade is not None else 0.0,
            "open_time": int(rows.open_time[0]),
            "close_time": int(state.now_ms),
        }

    def book_context(self, state: FeedState) -> BookContext | None:
        """Inputs of the order-book model now, or ``None`` before the first candle."""
        price = self.last_price(state)
        if price is None:
            return None
        hi = max(state.n_closed, 1)
        lo = max(0, hi - BOOK_LOOKBACK)
        b = self.base
        close = np.maximum(b.close[lo:hi], 1e-12)
        range_frac = float(np.mean((b.high[lo:hi] - b.low[lo:hi]) / close))
        return BookContext(
            symbol=self.symbol,
            time_ms=int(state.now_ms),
            price=price,
            tick=self.rules.tick,
            step=self.rules.step,
            range_frac=range_frac,
            mean_volume=float(np.mean(b.volume[lo:hi])),
        )


def _concat(parts: list[CandleTrades]) -> CandleTrades:
    """Trades of several candles one after the other."""
    return CandleTrades.concat(parts) if parts else CandleTrades.empty()
