"""The Binance spot public endpoints: request parameters in, JSON-able bodies out.

Each handler takes :class:`~.params.QueryParams` and returns what Binance would send,
or raises :class:`~.errors.BinanceError`. Numbers are strings with eight decimals
where Binance uses strings. Limits follow Binance spot:

* ``klines``: ``limit`` default 500, values above 1000 are served as 1000;
* ``depth``: ``limit`` default 100, any value 1-5000, above 5000 served as 5000;
* ``aggTrades``: ``limit`` default 500, above 1000 served as 1000; ``startTime`` and
  ``endTime`` at most one hour apart (``-1127``);
* a ``limit`` below 1 is ``-1130``; a non-numeric one ``-1100``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import errors
from .clock import Clock
from .feed import FeedState, IntervalUnavailable, SymbolFeed
from .market_data import BINANCE_INTERVALS, HOUR_MS
from .markets import exchange_info, symbol_info
from .orderbook_model import OrderBookSnapshot, OrderBookSource
from .params import QueryParams

KLINES_DEFAULT, KLINES_MAX = 500, 1000
DEPTH_DEFAULT, DEPTH_MAX = 100, 5000
TRADES_DEFAULT, TRADES_MAX = 500, 1000

Handler = Callable[[QueryParams], Any]


def f8(value: float) -> str:
    """Binance's decimal string format (eight decimals)."""
    return f"{value:.8f}"


class MarketApi:
    """Answers the public endpoints from the symbol feeds and the book source."""

    def __init__(self, feeds: dict[str, SymbolFeed], books: OrderBookSource, clock: Clock):
        self.feeds = feeds
        self.books = books
        self.clock = clock

    def routes(self) -> dict[str, Handler]:
        """Path -> handler for every served endpoint."""
        return {
            "/api/v3/ping": self.ping,
            "/api/v3/time": self.time,
            "/api/v3/exchangeInfo": self.exchange_info,
            "/api/v3/klines": self.klines,
            "/api/v3/uiKlines": self.klines,
            "/api/v3/depth": self.depth,
            "/api/v3/ticker/24hr": self.ticker_24hr,
            "/api/v3/ticker/bookTicker": self.book_ticker,
            "/api/v3/ticker/price": self.ticker_price,
            "/api/v3/aggTrades": self.agg_trades,
        }

    # ----------------------------------------------------------- helpers
    def feed(self, symbol: str) -> SymbolFeed:
        """The feed of a symbol or ``-1121``."""
        feed = self.feeds.get(symbol)
        if feed is None:
            raise errors.invalid_symbol(symbol)
        return feed

    def selected(self, params: QueryParams) -> Iterable[SymbolFeed]:
        """Feeds named by ``symbol``/``symbols``, all of them when neither is sent."""
        names = params.one_symbol_or_many()
        if names is None:
            return list(self.feeds.values())
        return [self.feed(name) for name in names]

    @staticmethod
    def limit(params: QueryParams, default: int, maximum: int) -> int:
        """The ``limit`` parameter, capped at ``maximum``."""
        value = params.integer("limit", minimum=1)
        return default if value is None else min(value, maximum)

    def book(self, feed: SymbolFeed, state: FeedState, depth: int) -> OrderBookSnapshot:
        """A book snapshot of ``depth`` levels (empty before the symbol's first candle)."""
        context = feed.book_context(state)
        if context is None:
            return OrderBookSnapshot([], [], 0, state.now_ms)
        return self.books.snapshot(context, depth)

    @staticmethod
    def levels(feed: SymbolFeed, levels: list[tuple[float, float]]) -> list[list[str]]:
        """Price levels as Binance string pairs, rounded to the symbol's grid."""
        pd_, qd = feed.rules.price_decimals, feed.rules.qty_decimals
        return [[f8(round(p, pd_)), f8(round(q, qd))] for p, q in levels]

    # ----------------------------------------------------------- endpoints
    def ping(self, params: QueryParams) -> dict:
        """``GET /api/v3/ping``."""
        return {}

    def time(self, params: QueryParams) -> dict:
        """``GET /api/v3/time``: the simulator's wall clock."""
        return {"serverTime": self.clock.now_ms()}

    def exchange_info(self, params: QueryParams) -> dict:
        """``GET /api/v3/exchangeInfo`` for all symbols or ``symbol``/``symbols``."""
        entries = [
            symbol_info(f.symbol, f.data.base, f.data.quote, f.rules) for f in self.selected(params)
        ]
        return exchange_info(entries, self.clock.now_ms())

    def klines(self, params: QueryParams) -> list[list]:
        """``GET /api/v3/klines``: 12-field Binance rows."""
        feed = self.feed(params.symbol())
        interval = params.sent("interval", required=True)
        if interval not in BINANCE_INTERVALS:
            raise errors.invalid_interval()
        start = params.integer("startTime")
        end = params.integer("endTime")
        limit = self.limit(params, KLINES_DEFAULT, KLINES_MAX)
        try:
            rows, close_time = feed.klines(interval, start, end, limit)
        except IntervalUnavailable as exc:
            raise errors.invalid_interval(str(exc)) from exc
        return [
            [
                int(rows.open_time[i]),
                f8(rows.open[i]),
                f8(rows.high[i]),
                f8(rows.low[i]),
                f8(rows.close[i]),
                f8(rows.volume[i]),
                int(close_time[i]),
                f8(rows.quote_volume[i]),
                int(rows.trades[i]),
                f8(rows.taker_buy_volume[i]),
                f8(rows.taker_buy_quote_volume[i]),
                "0",
            ]
            for i in range(len(rows))
        ]

    def depth(self, params: QueryParams) -> dict:
        """``GET /api/v3/depth``: the generated book around the current price."""
        feed = self.feed(params.symbol())
        limit = self.limit(params, DEPTH_DEFAULT, DEPTH_MAX)
        state = feed.state()
        book = self.book(feed, state, limit)
        return {
            "lastUpdateId": book.update_id,
            "bids": self.levels(feed, book.bids[:limit]),
            "asks": self.levels(feed, book.asks[:limit]),
        }

    def ticker_24hr(self, params: QueryParams) -> dict | list[dict]:
        """``GET /api/v3/ticker/24hr``: one object for ``symbol``, else a list."""
        feeds = self.selected(params)
        tickers = [self._ticker(feed) for feed in feeds]
        return tickers[0] if params.has("symbol") else tickers

    def _ticker(self, feed: SymbolFeed) -> dict:
        """24 h statistics of one symbol in Binance's layout."""
        state = feed.state()
        stats = feed.rolling_24h(state)
        top = self.book(feed, state, 1)
        bid = top.bids[0] if top.bids else (0.0, 0.0)
        ask = top.asks[0] if top.asks else (0.0, 0.0)
        if not stats:
            zero = f8(0.0)
            return {
                "symbol": feed.symbol,
                "priceChange": zero,
                "priceChangePercent": "0.000",
                "weightedAvgPrice": zero,
                "prevClosePrice": zero,
                "lastPrice": zero,
                "lastQty": zero,
                "bidPrice": zero,
                "bidQty": zero,
                "askPrice": zero,
                "askQty": zero,
                "openPrice": zero,
                "highPrice": zero,
                "lowPrice": zero,
                "volume": zero,
                "quoteVolume": zero,
                "openTime": state.now_ms - 24 * HOUR_MS,
                "closeTime": state.now_ms,
                "firstId": -1,
                "lastId": -1,
                "count": 0,
            }
        change = stats["last"] - stats["open"]
        pct = 100.0 * change / stats["open"] if stats["open"] else 0.0
        (bid_level,) = self.levels(feed, [bid])
        (ask_level,) = self.levels(feed, [ask])
        return {
            "symbol": feed.symbol,
            "priceChange": f8(change),
            "priceChangePercent": f"{pct:.3f}",
            "weightedAvgPrice": f8(stats["vwap"]),
            "prevClosePrice": f8(stats["prev_close"]),
            "lastPrice": f8(stats["last"]),
            "lastQty": f8(stats["last_qty"]),
            "bidPrice": bid_level[0],
            "bidQty": bid_level[1],
            "askPrice": ask_level[0],
            "askQty": ask_level[1],
            "openPrice": f8(stats["open"]),
            "highPrice": f8(stats["high"]),
            "lowPrice": f8(stats["low"]),
            "volume": f8(stats["volume"]),
            "quoteVolume": f8(stats["quote_volume"]),
            "openTime": stats["open_time"],
            "closeTime": stats["close_time"],
            "firstId": stats["first_id"],
            "lastId": stats["last_id"],
            "count": stats["count"],
        }

    def book_ticker(self, params: QueryParams) -> dict | list[dict]:
        """``GET /api/v3/ticker/bookTicker``: best bid/ask of the generated books."""
        result = []
        for feed in self.selected(params):
            top = self.book(feed, feed.state(), 1)
            bid = top.bids[0] if top.bids else (0.0, 0.0)
            ask = top.asks[0] if top.asks else (0.0, 0.0)
            (bid_level, ask_level) = self.levels(feed, [bid, ask])
            result.append(
                {
                    "symbol": feed.symbol,
                    "bidPrice": bid_level[0],
                    "bidQty": bid_level[1],
                    "askPrice": ask_level[0],
                    "askQty": ask_level[1],
                }
            )
        return result[0] if params.has("symbol") else result

    def ticker_price(self, params: QueryParams) -> dict | list[dict]:
        """``GET /api/v3/ticker/price``: last traded price."""
        result = []
        for feed in self.selected(params):
            price = feed.last_price(feed.state())
            result.append({"symbol": feed.symbol, "price": f8(price or 0.0)})
        return result[0] if params.has("symbol") else result

    def agg_trades(self, params: QueryParams) -> list[dict]:
        """``GET /api/v3/aggTrades``: synthetic aggregate trades."""
        feed = self.feed(params.symbol())
        from_id = params.integer("fromId")
        start = params.integer("startTime")
        end = params.integer("endTime")
        limit = self.limit(params, TRADES_DEFAULT, TRADES_MAX)
        if start is not None and end is not None:
            if end < start:
                raise errors.invalid_value("endTime", "It must not be before startTime.")
            if end - start > HOUR_MS:
                raise errors.BinanceError(
                    400,
                    errors.BAD_LOOKUP_INTERVAL,
                    "More than 1 hours between startTime and endTime.",
                )
        trades = feed.agg_trades(from_id, start, end, limit)
        return [
            {
                "a": int(trades.ids[i]),
                "p": f8(trades.price[i]),
                "q": f8(trades.qty[i]),
                "f": int(trades.ids[i]),
                "l": int(trades.ids[i]),
                "T": int(trades.time_ms[i]),
                "m": bool(trades.buyer_maker[i]),
                "M": True,
            }
            for i in range(len(trades))
        ]
