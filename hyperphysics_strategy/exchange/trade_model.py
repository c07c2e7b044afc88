"""Synthetic aggregate trades generated deterministically inside each candle.

Model, for a candle with open/high/low/close ``o, h, l, c``, base volume ``v`` and
close ``c`` (see docs/exchange-simulator.md):

* count ``n = clip(round(sqrt(v * c / 10)), 4, 100)`` trades, ``0`` when ``v == 0``;
* times: the first trade at the candle's open, the last one millisecond before its
  close, the other ``n - 2`` uniformly at random in between (sorted);
* prices: two of the inner trades, chosen at random, print the high and the low (in a
  random order), the first prints the open and the last the close; between those
  anchors prices follow a Brownian bridge with volatility ``(h - l) / 2`` per candle,
  rounded to the symbol's tick and clipped to ``[l, h]``;
* sizes: lognormal weights (sigma 1) scaled so the sizes sum to ``v``;
* side: tick rule - an uptick is a taker buy (``m = false``), a downtick a taker sell,
  an unchanged price a fair coin.

Every draw comes from ``numpy.random.default_rng([seed, crc32(symbol), open_ms])``
with the candle's *data* open time, so a candle's trades never depend on the mode,
the speed, or what else is in the datadir. Aggregate trade ids are consecutive per
symbol: candle ``i`` owns ids ``first_id[i] ... first_id[i] + n[i] - 1``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .columns import Columns

MIN_TRADES = 4
MAX_TRADES = 100
TRADE_SCALE = 10.0


def symbol_key(symbol: str) -> int:
    """Stable 32-bit key of a symbol for seeding."""
    return zlib.crc32(symbol.encode())


def trade_counts(volume: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Number of synthetic trades per candle (see the module docstring)."""
    n = np.rint(np.sqrt(np.maximum(volume * close, 0.0) / TRADE_SCALE))
    n = np.clip(n, MIN_TRADES, MAX_TRADES).astype(np.int64)
    return np.where(volume > 0, n, 0)


def first_ids(counts: np.ndarray) -> np.ndarray:
    """Id of each candle's first trade when ids are consecutive from 0."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


@dataclass(frozen=True)
class CandleTrades(Columns):
    """Aggregate trades in time order (of one candle, or joined over several)."""

    ids: np.ndarray
    time_ms: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    buyer_maker: np.ndarray

    @classmethod
    def empty(cls) -> CandleTrades:
        """No trades, with each column's dtype."""
        ints, floats = np.empty(0, dtype=np.int64), np.empty(0)
        return cls(ints, ints, floats, floats, np.empty(0, dtype=bool))


def generate_candle_trades(
    *,
    seed: int,
    sym_key: int,
    data_open_ms: int,
    ohlcv: tuple[float, float, float, float, float],
    count: int,
    first_id: int,
    served_open_ms: int,
    served_duration_ms: int,
    tick: float,
) -> CandleTrades:
    """Trades of one candle, timestamped in served time.

    ``ohlcv`` is the candle's (open, high, low, close, volume); ``count`` comes from
    :func:`trade_counts`. Prices between the anchors are rounded to ``tick``.
    """
    o, h, lo, c, v = ohlcv
    n = int(count)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    if n == 0:
        return CandleTrades.empty()
    rng = np.random.default_rng([int(seed), int(sym_key), int(data_open_ms)])
    inner = np.sort(rng.random(n - 2))
    frac = np.concatenate([[0.0], inner, [(served_duration_ms - 1) / served_duration_ms]])
    time_ms = served_open_ms + np.floor(frac * served_duration_ms).astype(np.int64)

    a, b = np.sort(rng.choice(np.arange(1, n - 1), size=2, replace=False))
    high_first = rng.random() < 0.5
    anchors = np.array([0, a, b, n - 1])
    values = np.array([o, h, lo, c] if high_first else [o, lo, h, c])

    steps = rng.standard_normal(n) * np.sqrt(np.diff(frac, prepend=0.0))
    walk = np.cumsum(steps) * (h - lo) / 2.0
    price = np.empty(n)
    for (i, j), (xi, xj) in zip(
        zip(anchors[:-1], anchors[1:], strict=True),
        zip(values[:-1], values[1:], strict=True),
        strict=True,
    ):
        seg = slice(i, j + 1)
        span = frac[j] - frac[i]
        w = (frac[seg] - frac[i]) / span if span > 0 else np.zeros(j - i + 1)
        bridge = walk[seg] - walk[i] - w * (walk[j] - walk[i])
        price[seg] = xi + w * (xj - xi) + bridge
    if tick > 0:
        price = np.round(price / tick) * tick
    price = np.clip(price, lo, h)
    price[anchors] = values

    weights = rng.lognormal(0.0, 1.0, n)
    qty = v * weights / weights.sum()

    coin = rng.random(n) < 0.5
    moves = np.diff(price, prepend=price[0])
    buyer_maker = np.where(moves > 0, False, np.where(moves < 0, True, coin))
    return CandleTrades(ids, time_ms, price, qty, buyer_maker)
