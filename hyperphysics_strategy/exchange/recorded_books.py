"""Replay recorded real L2 books, rescaled to the simulated price.

A :class:`RecordedOrderBook` is an :class:`~.orderbook_model.OrderBookSource` built from
a recording: the BitMEX L2 CSV, a Binance depth stream (rebuilt with sequence checks) or
a file written by the strategy's own :class:`OrderBookRecorder`. At simulated time ``t``
it shows recorded snapshot ``(t // cadence_ms) mod T``, so the real book's dynamics
(spread changes, imbalance swings, refills) play out at ``cadence_ms`` per snapshot and
the recording loops when it runs out.

Rescaling keeps the book's shape:

* prices: every level is multiplied by ``P / m`` (``P`` the simulated last price, ``m`` the
  recorded snapshot's mid), so relative distances to the mid are those of the recording;
  then bids are floored and asks ceiled to the symbol's tick, levels that land on the
  same tick are merged (sizes summed), and a book left crossed is widened to one tick;
* sizes: multiplied by ``size_coef * V / s_med`` (``V`` the simulated candles' mean base
  volume, ``s_med`` the recording's median level size), the generative model's size
  scale, then rounded to the lot step (at least one step).

The same recording serves every symbol unless ``symbols`` restricts it (other symbols
fall back to the generative model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperphysics_strategy.engine.orderbook import (
    load_bitmex_l2,
    read_orderbooks,
    rebuild_binance_depth,
)

from .orderbook_model import BookContext, GenerativeOrderBook, OrderBookSnapshot

FORMATS = ("bitmex", "binance", "recorded")


@dataclass
class RecordedOrderBook:
    timestamps_ms: np.ndarray
    bids: np.ndarray  # (T, L, 2) [price, size], best first, NaN padded
    asks: np.ndarray
    cadence_ms: int = 1000
    size_coef: float = 0.02
    symbols: frozenset[str] | None = None
    fallback: GenerativeOrderBook = field(default_factory=GenerativeOrderBook)

    def __post_init__(self) -> None:
        if self.bids.ndim != 3 or self.bids.shape != self.asks.shape[:1] + self.bids.shape[1:]:
            raise ValueError(
                f"bids/asks must be (T, L, 2); got {self.bids.shape}, {self.asks.shape}"
            )
        if self.cadence_ms < 1:
            raise ValueError(f"cadence_ms must be >= 1, got {self.cadence_ms}")
        valid = (self.bids[:, 0, 0] > 0) & (self.asks[:, 0, 0] > self.bids[:, 0, 0])
        if not valid.any():
            raise ValueError("the recording holds no valid book (best bid < best ask)")
        self.bids, self.asks = self.bids[valid], self.asks[valid]
        self.timestamps_ms = np.asarray(self.timestamps_ms)[valid]
        sizes = np.concatenate([self.bids[..., 1].ravel(), self.asks[..., 1].ravel()])
        sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
        self.median_size = float(np.median(sizes))

    @classmethod
    def from_file(
        cls, path: str | Path, fmt: str, symbol: str | None = None, **kwargs
    ) -> RecordedOrderBook:
        """Load ``path`` as ``bitmex`` (CSV, ``symbol`` e.g. XBTUSD), ``binance`` (depth
        stream) or ``recorded`` (a parquet file of the strategy's recorder)."""
        if fmt == "bitmex":
            ts, bids, asks = load_bitmex_l2(path, symbol or "XBTUSD")
        elif fmt == "binance":
            replay = rebuild_binance_depth(path)
            keep = np.asarray(replay.in_sync, dtype=bool)
            ts, bids, asks = replay.timestamps_ms[keep], replay.bids[keep], replay.asks[keep]
        elif fmt == "recorded":
            ts, bids, asks = read_orderbooks(path)
        else:
            raise ValueError(f"unknown book format {fmt!r}; use one of {', '.join(FORMATS)}")
        if len(ts) == 0:
            raise ValueError(f"{path}: no order books found")
        return cls(np.asarray(ts), np.asarray(bids, float), np.asarray(asks, float), **kwargs)

    def __len__(self) -> int:
        return len(self.timestamps_ms)

    def snapshot(self, context: BookContext, depth: int) -> OrderBookSnapshot:
        if self.symbols is not None and context.symbol not in self.symbols:
            return self.fallback.snapshot(context, depth)
        i = int(context.time_ms // self.cadence_ms) % len(self)
        bids, asks = self.bids[i], self.asks[i]
        bids = bids[np.isfinite(bids).all(axis=1) & (bids[:, 1] > 0)][:depth]
        asks = asks[np.isfinite(asks).all(axis=1) & (asks[:, 1] > 0)][:depth]
        mid = 0.5 * (bids[0, 0] + asks[0, 0])
        price_scale = max(context.price, context.tick) / mid
        volume = context.mean_volume if context.mean_volume > 0 else 1.0
        size_scale = self.size_coef * volume / self.median_size
        tick, step = context.tick, context.step
        bid_ticks = np.floor(bids[:, 0] * price_scale / tick + 1e-9).astype(np.int64)
        ask_ticks = np.ceil(asks[:, 0] * price_scale / tick - 1e-9).astype(np.int64)
        if ask_ticks[0] <= bid_ticks[0]:  # rounding crossed the book: widen to one tick
            shift = bid_ticks[0] + 1 - ask_ticks[0]
            ask_ticks = ask_ticks + shift
        bid_levels = _merge(bid_ticks, bids[:, 1] * size_scale, tick, step, keep_positive=True)
        ask_levels = _merge(ask_ticks, asks[:, 1] * size_scale, tick, step, keep_positive=False)
        return OrderBookSnapshot(
            bids=bid_levels,
            asks=ask_levels,
            update_id=int(context.time_ms // self.cadence_ms),
            time_ms=int(context.time_ms),
            meta={"recorded_index": i, "recorded_time_ms": int(self.timestamps_ms[i])},
        )


def _merge(
    ticks: np.ndarray, sizes: np.ndarray, tick: float, step: float, keep_positive: bool
) -> list[tuple[float, float]]:
    """Sum sizes of levels on the same tick, keep the best-first order, round to the step."""
    out: dict[int, float] = {}
    for t, s in zip(ticks.tolist(), sizes.tolist(), strict=True):
        if keep_positive and t < 1:
            continue
        out[t] = out.get(t, 0.0) + s
    levels = []
    for t, s in out.items():
        lots = max(1, math.floor(s / step + 0.5))
        levels.append((t * tick, lots * step))
    return levels
