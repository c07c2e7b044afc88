"""Hyperbolic order-book features for every candle, from the best book source available.

freqtrade keeps no order-book history, so each candle takes the best source it has:

1. ``recorded`` (code 2): a real L2 snapshot stored by :class:`OrderBookRecorder` while the
   strategy ran dry or live (``user_data/orderbooks/<exchange>/<PAIR>.parquet``); a
   snapshot belongs to the candle whose close precedes it by less than one timeframe;
2. ``trades`` (code 1): a book built from freqtrade's public-trades ``orderflow`` column
   (``exchange.use_public_trades``);
3. ``ohlcv_proxy`` (code 0): the documented proxy from the candle's range and volume.

The source is itself a feature (``%-ob_source``), so models and users see what each
candle got. The recorded history is read from disk once per pair and process; the
snapshots this process records are appended to that copy (live runs call
:meth:`OrderBookFeatures.add` on every candle). The copy keeps what the longest request
so far could use: FreqAI asks for its whole training window when it retrains and for a
shorter recent window when it predicts.

Only scale-free features enter the model: they do not change with the pair's price
level or volume scale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hyperphysics_strategy.engine.orderbook import (
    SOURCE_NAMES,
    SOURCE_OHLCV_PROXY,
    SOURCE_RECORDED,
    SOURCE_TRADES,
    HyperbolicOrderBook,
    OrderBookRecorder,
    align_to_candles,
    books_from_orderflow,
    pair_path,
    proxy_books_from_ohlcv,
    read_orderbooks,
    select_books,
)

logger = logging.getLogger(__name__)

#: engine feature column -> model feature column
MODEL_FEATURES: dict[str, str] = {
    "spread_bps": "%-ob_spread_bps",
    "microprice_bps": "%-ob_microprice_bps",
    "imbalance_1": "%-ob_imbalance_1",
    "imbalance_5": "%-ob_imbalance_5",
    "imbalance_10": "%-ob_imbalance_10",
    "imbalance_all": "%-ob_imbalance_all",
    "centroid_distance": "%-ob_centroid_distance",
    "bid_hdist": "%-ob_bid_hdist",
    "ask_hdist": "%-ob_ask_hdist",
    "bid_dispersion": "%-ob_bid_dispersion",
    "ask_dispersion": "%-ob_ask_dispersion",
    "bid_decay_rate": "%-ob_bid_decay_rate",
    "ask_decay_rate": "%-ob_ask_decay_rate",
    "bid_fit_r2": "%-ob_bid_fit_r2",
    "ask_fit_r2": "%-ob_ask_fit_r2",
}
SOURCE_COLUMN = "%-ob_source"
#: Copies kept for plot_config: FreqAI strips ``%`` columns from what it returns.
PLOT_COLUMNS: dict[str, str] = {
    "%-ob_imbalance_5": "hp_ob_imbalance_5",
    "%-ob_centroid_distance": "hp_ob_centroid_distance",
    "%-ob_source": "hp_ob_source",
}


class OrderBookFeatures:
    """Builds the order-book feature columns and records live books for later backtests."""

    def __init__(self, root: Path, exchange: str, levels: int = 20) -> None:
        self.root = Path(root)
        self.exchange = exchange
        self.levels = levels
        self.book = HyperbolicOrderBook(max_levels=levels)
        self._recorder: OrderBookRecorder | None = None
        #: pair -> (timestamps ms, bids, asks) of the recorded history, read once
        self._history: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        #: pair -> longest span (ms) of candles asked for so far
        self._span_ms: dict[str, int] = {}

    # -- live recording ------------------------------------------------------------------
    def record(self, pair: str, orderbook: Mapping[str, Any], now_ms: int) -> bool:
        """Store one ccxt order book (``{bids, asks, timestamp}``); False if it was empty."""
        bids, asks = orderbook.get("bids") or [], orderbook.get("asks") or []
        if not bids or not asks:
            logger.warning(
                "HyperPhysics %s: empty order book from the exchange, not recorded", pair
            )
            return False
        if self._recorder is None:
            self._recorder = OrderBookRecorder(self.root, self.exchange, levels=self.levels)
        timestamp = int(orderbook.get("timestamp") or now_ms)
        self._recorder.record(pair, timestamp, bids, asks)
        if pair in self._history:
            self._history[pair] = _append(self._history[pair], timestamp, bids, asks)
        return True

    def _recorded(
        self, pair: str, close_ms: np.ndarray, tolerance_ms: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Recorded books aligned to candles (see ``align_to_candles``), from memory."""
        if pair not in self._history:
            self._history[pair] = read_orderbooks(pair_path(self.root, self.exchange, pair))
        ts, bids, asks = self._history[pair]
        span = self._span_ms[pair] = max(self._span_ms.get(pair, 0), close_ms[-1] - close_ms[0])
        keep = ts >= close_ms[-1] - span - tolerance_ms  # older ones serve no request size
        if not keep.all():
            ts, bids, asks = self._history[pair] = (ts[keep], bids[keep], asks[keep])
        if len(ts) == 0:
            empty = np.full((len(close_ms), 1, 2), np.nan)
            return empty, empty.copy(), np.zeros(len(close_ms), dtype=bool)
        return align_to_candles(ts, bids, asks, close_ms, tolerance_ms)

    # -- features ------------------------------------------------------------------------
    def add(
        self, df: pd.DataFrame, pair: str, timeframe_seconds: int, features: bool = True
    ) -> pd.DataFrame:
        """Add ``%-ob_*`` feature columns, ``%-ob_source`` and the ``hp_ob_*`` plot copies to
        ``df`` (one row per candle); only the plot copies when ``features`` is False."""
        n = len(df)
        if n == 0:
            return df
        tf_ms = int(timeframe_seconds * 1000)
        close_ms = _epoch_ms(df["date"]) + tf_ms
        # A snapshot taken in [close, close + timeframe) belongs to this candle.
        rec_b, rec_a, available = self._recorded(pair, close_ms + tf_ms - 1, tf_ms - 1)
        candidates = [(rec_b, rec_a, available, SOURCE_RECORDED)]
        if "orderflow" in df.columns:
            tr_b, tr_a = books_from_orderflow(df["orderflow"], df["close"], levels=self.levels)
            candidates.append((tr_b, tr_a, None, SOURCE_TRADES))
        px_b, px_a = proxy_books_from_ohlcv(
            df["high"], df["low"], df["close"], df["volume"], levels=self.levels
        )
        candidates.append((px_b, px_a, None, SOURCE_OHLCV_PROXY))
        bids, asks, source = select_books(candidates, levels=self.levels)

        feats = self.book.batch(bids, asks)
        for engine_col, model_col in MODEL_FEATURES.items():
            df[model_col] = feats[engine_col].to_numpy()
        df[SOURCE_COLUMN] = source.astype(np.float64)
        for feature, plot_column in PLOT_COLUMNS.items():
            df[plot_column] = df[feature]
        if not features:
            return df.drop(columns=[*MODEL_FEATURES.values(), SOURCE_COLUMN])
        counts = {SOURCE_NAMES[c]: int((source == c).sum()) for c in np.unique(source)}
        logger.info("HyperPhysics %s order books per candle: %s", pair, counts)
        return df


def _epoch_ms(dates: pd.Series) -> np.ndarray:
    """Candle times as int64 milliseconds since the epoch, whatever the datetime unit."""
    return pd.to_datetime(dates, utc=True).astype("datetime64[ms, UTC]").astype("int64").to_numpy()


def _append(
    history: tuple[np.ndarray, np.ndarray, np.ndarray], timestamp: int, bids, asks
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``history`` with one ccxt snapshot appended (NaN padded or cut to its depth);
    unchanged if the snapshot is not newer than the last one kept."""
    ts, b, a = history
    if len(ts) and timestamp <= ts[-1]:
        return history
    levels = b.shape[1] if len(ts) else max(len(bids), len(asks))
    rows = []
    for side in (bids, asks):
        row = np.full((1, levels, 2), np.nan)
        side = np.asarray([level[:2] for level in side[:levels]], dtype=np.float64)
        row[0, : len(side)] = side
        rows.append(row)
    if not len(ts):
        return np.array([timestamp], dtype=np.int64), rows[0], rows[1]
    return np.append(ts, timestamp), np.concatenate([b, rows[0]]), np.concatenate([a, rows[1]])
