"""Order books for candles without a recorded snapshot, and the per-candle ``source`` code.

Backtests take, per candle, the best book available (highest code wins):

=========================  ====  ==================================================
source                     code  book
=========================  ====  ==================================================
``SOURCE_RECORDED``          2   a real L2 snapshot recorded by ``OrderBookRecorder``
``SOURCE_TRADES``            1   built from freqtrade's public-trades ``orderflow``
``SOURCE_OHLCV_PROXY``       0   the OHLCV proxy model (:func:`proxy_books_from_ohlcv`)
``SOURCE_NONE``             -1   nothing usable (features NaN, ``valid`` False)
=========================  ====  ==================================================

All builders return ``(bids, asks)`` arrays of shape (T, L, 2) ([price, size], best first,
NaN for missing levels), ready for ``HyperbolicOrderBook.batch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SOURCE_NONE = -1
SOURCE_OHLCV_PROXY = 0
SOURCE_TRADES = 1
SOURCE_RECORDED = 2
SOURCE_NAMES = {
    SOURCE_NONE: "none",
    SOURCE_OHLCV_PROXY: "ohlcv_proxy",
    SOURCE_TRADES: "trades",
    SOURCE_RECORDED: "recorded",
}


def _col(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series, got shape {arr.shape}")
    return arr


def proxy_books_from_ohlcv(
    high,
    low,
    close,
    volume,
    levels: int = 20,
    spread_frac: float = 0.1,
    min_spread_bps: float = 1.0,
    depth_frac: float = 0.05,
    decay_levels: float = 5.0,
    tilt: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """A documented proxy L2 book per candle from OHLCV (see docs/orderbook.md).

    Mid = close. Relative spread ``s = max(spread_frac * ln(high/low), min_spread_bps*1e-4)``;
    level k (0 = best) of each side sits at log-distance ``s/2 + k*s`` from the mid. Each side
    holds ``depth_frac * volume`` in total, split over the levels proportionally to
    ``exp(-k/decay_levels)``, and tilted by where the close sits in the candle's range
    (``tau = (2*close - high - low)/(high - low)`` in [-1, 1]): bids x ``(1 + tilt*tau)``,
    asks x ``(1 - tilt*tau)``. Zero volume gives zero sizes (an invalid, flagged book).
    """
    h, lo, c, v = (
        _col(x, n) for x, n in ((high, "high"), (low, "low"), (close, "close"), (volume, "volume"))
    )
    if not (len(h) == len(lo) == len(c) == len(v)):
        raise ValueError("high, low, close and volume must have the same length")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    with np.errstate(all="ignore"):
        rng = np.log(h / lo)
        s = np.maximum(np.nan_to_num(spread_frac * rng, nan=0.0), min_spread_bps * 1e-4)
        width = h - lo
        tau = np.where(width > 0, (2 * c - h - lo) / np.where(width > 0, width, 1.0), 0.0)
        tau = np.clip(np.nan_to_num(tau), -1.0, 1.0)
    k = np.arange(levels, dtype=np.float64)
    prof = np.exp(-k / decay_levels)
    prof /= prof.sum()
    dist = s[:, None] * (0.5 + k[None, :])
    side_depth = depth_frac * np.where(v > 0, v, 0.0)
    bids = np.empty((len(c), levels, 2))
    asks = np.empty((len(c), levels, 2))
    bids[..., 0] = c[:, None] * np.exp(-dist)
    asks[..., 0] = c[:, None] * np.exp(dist)
    bids[..., 1] = (side_depth * (1 + tilt * tau))[:, None] * prof
    asks[..., 1] = (side_depth * (1 - tilt * tau))[:, None] * prof
    return bids, asks


def _amounts(entry) -> tuple[float, float]:
    if isinstance(entry, Mapping):
        b = entry.get("bid_amount", entry.get("bid", 0.0))
        a = entry.get("ask_amount", entry.get("ask", 0.0))
        return float(b or 0.0), float(a or 0.0)
    b, a = entry  # (bid_amount, ask_amount)
    return float(b), float(a)


def books_from_orderflow(
    orderflow: Sequence, close, levels: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Books from freqtrade's per-candle ``orderflow`` column (``use_public_trades``).

    Each entry is ``{price: {"bid_amount": ..., "ask_amount": ..., ...}}`` (freqtrade's
    ``trades_to_volumeprofile_with_total_delta_bid_ask(...).to_dict(orient="index")``; price
    keys may be strings after a JSON round trip) or None/NaN for candles without trades.
    ``bid_amount`` is volume sold into the bids at that price, ``ask_amount`` volume bought
    from the asks. The traded volume profile stands in for resting liquidity: bids are the
    price levels at or below the candle's close with ``bid_amount > 0`` (best = highest),
    asks the levels strictly above it with ``ask_amount > 0``; sizes are those amounts.
    """
    c = _col(close, "close")
    if len(orderflow) != len(c):
        raise ValueError(f"orderflow has {len(orderflow)} entries but close has {len(c)}")
    bids = np.full((len(c), levels, 2), np.nan)
    asks = np.full((len(c), levels, 2), np.nan)
    for t, of in enumerate(orderflow):
        if not isinstance(of, Mapping) or not of:
            continue
        px = np.empty(len(of))
        ba = np.empty((len(of), 2))
        n = 0
        for key, entry in of.items():
            try:
                px[n] = float(key)
                ba[n] = _amounts(entry)
            except (TypeError, ValueError):
                continue
            n += 1
        px, ba = px[:n], ba[:n]
        ref = c[t]
        mb = (px <= ref) & (ba[:, 0] > 0)
        ma = (px > ref) & (ba[:, 1] > 0)
        ob = np.argsort(-px[mb])[:levels]
        oa = np.argsort(px[ma])[:levels]
        bids[t, : len(ob), 0] = px[mb][ob]
        bids[t, : len(ob), 1] = ba[mb, 0][ob]
        asks[t, : len(oa), 0] = px[ma][oa]
        asks[t, : len(oa), 1] = ba[ma, 1][oa]
    return bids, asks


def has_book(bids: np.ndarray, asks: np.ndarray) -> np.ndarray:
    """Per row: both sides have at least one level with positive finite price and size."""

    def side_ok(x):
        p, q = x[..., 0], x[..., 1]
        return ((p > 0) & (q > 0) & np.isfinite(p) & np.isfinite(q)).any(axis=1)

    return side_ok(bids) & side_ok(asks)


def select_books(
    candidates: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None, int]],
    levels: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the first candidate (in the given priority order) that has a book.

    ``candidates``: ``(bids, asks, available, source_code)`` with (T, L_i, 2) arrays and an
    optional (T,) bool mask (None: rows where :func:`has_book` holds). Returns
    ``(bids, asks, source)`` with (T, levels, 2) books and the int8 source code per row
    (``SOURCE_NONE`` where no candidate has a book).
    """
    if not candidates:
        raise ValueError("select_books needs at least one candidate")
    T = candidates[0][0].shape[0]
    out_b = np.full((T, levels, 2), np.nan)
    out_a = np.full((T, levels, 2), np.nan)
    src = np.full(T, SOURCE_NONE, dtype=np.int8)
    todo = np.ones(T, dtype=bool)
    for b, a, avail, code in candidates:
        if b.shape[0] != T or a.shape[0] != T:
            raise ValueError(f"candidate with source {code} has {b.shape[0]} rows, expected {T}")
        ok = has_book(b, a) if avail is None else (np.asarray(avail, dtype=bool) & has_book(b, a))
        take = todo & ok
        lb, la = min(levels, b.shape[1]), min(levels, a.shape[1])
        out_b[take, :lb] = b[take, :lb]
        out_a[take, :la] = a[take, :la]
        src[take] = code
        todo &= ~take
    return out_b, out_a, src
