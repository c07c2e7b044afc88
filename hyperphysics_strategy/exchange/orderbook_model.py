"""L2 order books: the source interface and a seeded generative model.

:class:`OrderBookSource` is the seam for other book sources (a later one will replay
recorded real books); the server only ever calls ``snapshot(context, depth)``.

:class:`GenerativeOrderBook` draws a fresh, always-valid book around the current
price. With ``P`` the last price, ``r`` the mean relative range ``(high - low) / close``
of the last closed candles (floored at 1e-4), ``V`` their mean base volume and
``tick``/``step`` the symbol's filters (formulas also in docs/exchange-simulator.md):

* spread in ticks ``s = max(1, round(spread_coef * r * P / tick * U(0.8, 1.2)))``;
  best bid ``floor(P / tick - s / 2)`` ticks, best ask ``s`` ticks above it;
* level ``i >= 1`` on each side lies ``gap_i = max(1, round(g0 * growth ** min(i, 1000) *
  U(0.5, 1.5)))`` ticks beyond level ``i - 1``, ``g0 = max(1, round(gap_coef * r * P /
  tick))``: spacing on the tick grid growing geometrically;
* size at relative distance ``d = |price / P - 1|``:
  ``size_coef * V * exp(-d / (decay_coef * r)) * LogNormal(0, size_sigma)``, rounded
  to the step and at least one step;
* bid levels that would reach a price of zero are dropped.

Draws come from ``default_rng([seed, crc32(symbol), t // bucket_ms, side, chunk])`` per
chunk of 100 levels, so a book is reproducible, constant within a time bucket, and a
shallower book is always a prefix of a deeper one (``bookTicker`` equals the top of
``depth``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .trade_model import symbol_key

CHUNK_LEVELS = 100
_MAX_GROWTH_LEVEL = 1000


@dataclass(frozen=True)
class BookContext:
    """What a book source may know about the market when a snapshot is requested."""

    symbol: str
    time_ms: int
    price: float
    tick: float
    step: float
    range_frac: float
    mean_volume: float


@dataclass(frozen=True)
class OrderBookSnapshot:
    """Price levels as ``(price, size)``; bids descending, asks ascending."""

    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    update_id: int
    time_ms: int
    meta: dict = field(default_factory=dict)


class OrderBookSource(Protocol):
    """Anything that can produce a book snapshot for a symbol at a time."""

    def snapshot(self, context: BookContext, depth: int) -> OrderBookSnapshot:
        """The top ``depth`` levels per side."""
        ...


@dataclass(frozen=True)
class GenerativeOrderBook:
    """Seeded synthetic books (see the module docstring for the model)."""

    seed: int = 0
    bucket_ms: int = 1000
    spread_coef: float = 0.002
    gap_coef: float = 0.002
    growth: float = 1.002
    size_coef: float = 0.02
    decay_coef: float = 10.0
    size_sigma: float = 0.5

    def snapshot(self, context: BookContext, depth: int) -> OrderBookSnapshot:
        """The top ``depth`` levels per side at ``context.time_ms``."""
        tick, step = context.tick, context.step
        price = max(context.price, tick)
        r = max(context.range_frac, 1e-4)
        bucket = context.time_ms // self.bucket_ms
        key = [int(self.seed), symbol_key(context.symbol), int(bucket)]

        meta = np.random.default_rng([*key, 2])
        spread = max(1, round(self.spread_coef * r * price / tick * meta.uniform(0.8, 1.2)))
        best_bid = max(1, math.floor(price / tick - spread / 2))
        best_ask = best_bid + spread
        g0 = max(1, round(self.gap_coef * r * price / tick))

        volume = context.mean_volume if context.mean_volume > 0 else 1.0
        ctx = (price, tick, r, volume)
        bid_ticks, bid_sizes = self._side(key, 0, best_bid, -1, g0, depth, ctx)
        ask_ticks, ask_sizes = self._side(key, 1, best_ask, +1, g0, depth, ctx)
        keep = bid_ticks >= 1
        bid_ticks, bid_sizes = bid_ticks[keep], bid_sizes[keep]

        sizes_b = np.maximum(np.round(bid_sizes / step), 1) * step
        sizes_a = np.maximum(np.round(ask_sizes / step), 1) * step
        return OrderBookSnapshot(
            bids=list(zip((bid_ticks * tick).tolist(), sizes_b.tolist(), strict=True)),
            asks=list(zip((ask_ticks * tick).tolist(), sizes_a.tolist(), strict=True)),
            update_id=int(bucket),
            time_ms=int(context.time_ms),
            meta={"spread_ticks": spread, "base_gap_ticks": g0},
        )

    def _side(
        self,
        key: list[int],
        side: int,
        best: int,
        direction: int,
        g0: int,
        depth: int,
        context: tuple[float, float, float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tick positions and raw sizes of one side, generated chunk by chunk.

        ``context`` is ``(price, tick, range_frac, mean_volume)``.
        """
        price, tick, r, volume = context
        gaps: list[np.ndarray] = []
        noise: list[np.ndarray] = []
        for chunk in range(math.ceil(depth / CHUNK_LEVELS)):
            rng = np.random.default_rng([*key, side, chunk])
            level = np.arange(chunk * CHUNK_LEVELS, (chunk + 1) * CHUNK_LEVELS)
            grow = self.growth ** np.minimum(level, _MAX_GROWTH_LEVEL)
            gap = np.maximum(1, np.rint(g0 * grow * rng.uniform(0.5, 1.5, CHUNK_LEVELS)))
            gaps.append(gap.astype(np.int64))
            noise.append(rng.lognormal(0.0, self.size_sigma, CHUNK_LEVELS))
        gap_all = np.concatenate(gaps)[:depth]
        gap_all[0] = 0
        ticks = best + direction * np.cumsum(gap_all)
        distance = np.abs(ticks * tick / price - 1.0)
        sizes = (
            self.size_coef
            * volume
            * np.exp(-distance / (self.decay_coef * r))
            * np.concatenate(noise)[:depth]
        )
        return ticks, sizes
