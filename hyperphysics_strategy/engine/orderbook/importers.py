"""Importers for real order-book data: BitMEX L2 CSV and Binance spot depth streams.

Both return books as (T, L, 2) arrays ([price, size], best first, NaN padded) with int64
millisecond UTC timestamps, ready for ``HyperbolicOrderBook.batch`` or the recorder.
"""

from __future__ import annotations

import gzip
import heapq
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def load_bitmex_l2(
    path: str | os.PathLike, symbol: str | None = "XBTUSD", levels: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the BitMEX L2 snapshot CSV (no header; see ../shared/data/README.md).

    Columns: timestamp (``YYYY-mm-dd HH:MM:SS``, UTC), a millisecond part, symbol (NUL or space
    padded), ``levels`` ask prices, ask sizes, bid prices, bid sizes (best first).
    Returns ``(timestamps_ms, bids, asks)`` for ``symbol`` (all rows when None).
    """
    df = pd.read_csv(path, header=None)
    want = 3 + 4 * levels
    if df.shape[1] != want:
        raise ValueError(f"{path}: expected {want} columns for {levels} levels, got {df.shape[1]}")
    sym = df[2].astype(str).str.strip(" \x00")
    if symbol is not None:
        df = df[sym == symbol]
    when = pd.to_datetime(df[0], utc=True)
    epoch = pd.Timestamp(0, tz="UTC")
    ts = (when - epoch) // pd.Timedelta(milliseconds=1) + df[1].astype("int64")
    v = df.iloc[:, 3:].to_numpy(dtype=np.float64)
    L = levels
    asks = np.stack((v[:, 0:L], v[:, L : 2 * L]), axis=-1)
    bids = np.stack((v[:, 2 * L : 3 * L], v[:, 3 * L : 4 * L]), axis=-1)
    return ts.to_numpy(dtype=np.int64), bids, asks


@dataclass
class DepthReplay:
    """A Binance depth stream rebuilt from its snapshot and diff events.

    One checkpoint per applied diff event: ``timestamps_ms`` (event time ``E``),
    ``update_ids`` (the event's final id ``u``), the top ``levels`` of the book
    (``bids``/``asks``, (T, L, 2)) and ``in_sync`` (False after a sequence gap: from then on
    the book cannot be trusted without a new snapshot). ``gaps`` lists every sequence
    problem as ``(checkpoint_index, expected_first_id, got_first_id)``; checkpoint -1 means
    the first event after the snapshot did not straddle ``lastUpdateId + 1``.
    ``tickers``: the stream's own bookTicker messages as (N, 5) float64
    ``[u, bid, bid_qty, ask, ask_qty]``.
    """

    symbol: str
    snapshot_update_id: int
    timestamps_ms: np.ndarray
    update_ids: np.ndarray
    bids: np.ndarray
    asks: np.ndarray
    in_sync: np.ndarray
    gaps: list[tuple[int, int, int]] = field(default_factory=list)
    dropped_events: int = 0
    tickers: np.ndarray = field(default_factory=lambda: np.empty((0, 5)))


def _top(book: dict[float, float], levels: int, descending: bool) -> np.ndarray:
    out = np.full((levels, 2), np.nan)
    keys = heapq.nlargest(levels, book) if descending else heapq.nsmallest(levels, book)
    for i, k in enumerate(keys):
        out[i, 0] = k
        out[i, 1] = book[k]
    return out


def _apply(book: dict[float, float], changes) -> None:
    for p, q in changes:
        price, qty = float(p), float(q)
        if qty == 0.0:
            book.pop(price, None)
        else:
            book[price] = qty


def rebuild_binance_depth(path: str | os.PathLike, levels: int = 20) -> DepthReplay:
    """Rebuild a Binance spot book from a recorded stream file with sequence-id checks.

    File format: one ``<local ns timestamp> <json>`` per line; a REST depth snapshot line
    (``{"lastUpdateId": ..., "bids": ..., "asks": ...}``) and combined-stream messages
    ``@depth@100ms`` (diffs with first/final ids ``U``/``u``) and ``@bookTicker``.
    Binance's spot rules: drop diffs with ``u <= lastUpdateId``; the first applied diff must
    have ``U <= lastUpdateId + 1 <= u``; each next one ``U == previous u + 1``. Violations
    are recorded in ``gaps`` (never raised) and mark later checkpoints out of sync.
    """
    snapshot = None
    diffs: list[dict] = []
    tickers: list[tuple[float, ...]] = []
    symbol = ""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            _, _, payload = line.partition(" ")
            try:
                msg = json.loads(payload)
            except json.JSONDecodeError:
                continue
            if "lastUpdateId" in msg:
                if snapshot is None:
                    snapshot = msg
                continue
            stream = msg.get("stream", "")
            data = msg.get("data", {})
            if "@depth" in stream:
                diffs.append(data)
                symbol = data.get("s", symbol)
            elif stream.endswith("@bookTicker"):
                tickers.append(
                    (float(data["u"]), float(data["b"]), float(data["B"]))
                    + (float(data["a"]), float(data["A"]))
                )
    if snapshot is None:
        raise ValueError(f"{path}: no depth snapshot (a line with lastUpdateId) in the file")
    last_id = int(snapshot["lastUpdateId"])
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    _apply(bids, snapshot["bids"])
    _apply(asks, snapshot["asks"])
    ts, ids, ob, oa, sync = [], [], [], [], []
    gaps: list[tuple[int, int, int]] = []
    dropped = 0
    prev_u = None
    in_sync = True
    for d in diffs:
        U, u = int(d["U"]), int(d["u"])
        if u <= last_id:
            dropped += 1
            continue
        if prev_u is None:
            if not (U <= last_id + 1 <= u):
                gaps.append((-1, last_id + 1, U))
                in_sync = False
        elif prev_u + 1 != U:
            gaps.append((len(ts), prev_u + 1, U))
            in_sync = False
        _apply(bids, d.get("b", ()))
        _apply(asks, d.get("a", ()))
        prev_u = u
        ts.append(int(d.get("E", 0)))
        ids.append(u)
        ob.append(_top(bids, levels, True))
        oa.append(_top(asks, levels, False))
        sync.append(in_sync)
    shape = (0, levels, 2)
    return DepthReplay(
        symbol=symbol,
        snapshot_update_id=last_id,
        timestamps_ms=np.asarray(ts, dtype=np.int64),
        update_ids=np.asarray(ids, dtype=np.int64),
        bids=np.stack(ob) if ob else np.empty(shape),
        asks=np.stack(oa) if oa else np.empty(shape),
        in_sync=np.asarray(sync, dtype=bool),
        gaps=gaps,
        dropped_events=dropped,
        tickers=np.asarray(tickers, dtype=np.float64).reshape(-1, 5),
    )


def compare_with_bookticker(replay: DepthReplay) -> pd.DataFrame:
    """Check each checkpoint's best bid/ask against the stream's own bookTicker.

    bookTicker pushes every change of the best bid/ask with the book's update id ``u``, so
    the book after diff id ``u`` must show the last ticker with id ``<= u``. Checkpoints
    before the first ticker have no reference and are left out. Returns one row per
    compared checkpoint: ``checkpoint``, ``update_id``, ``ticker_id``, book and ticker
    best prices and quantities, and ``match`` (prices and quantities equal).
    """
    tk = replay.tickers
    if len(tk) == 0 or len(replay.update_ids) == 0:
        return pd.DataFrame(columns=["checkpoint", "update_id", "ticker_id", "match"])
    order = np.argsort(tk[:, 0], kind="stable")
    tk = tk[order]
    pos = np.searchsorted(tk[:, 0], replay.update_ids.astype(np.float64), side="right") - 1
    has = pos >= 0
    cp = np.flatnonzero(has)
    ref = tk[pos[has]]
    bb, bq = replay.bids[has, 0, 0], replay.bids[has, 0, 1]
    ba, aq = replay.asks[has, 0, 0], replay.asks[has, 0, 1]
    df = pd.DataFrame(
        {
            "checkpoint": cp,
            "update_id": replay.update_ids[has],
            "ticker_id": ref[:, 0].astype(np.int64),
            "book_bid": bb,
            "ticker_bid": ref[:, 1],
            "book_bid_qty": bq,
            "ticker_bid_qty": ref[:, 2],
            "book_ask": ba,
            "ticker_ask": ref[:, 3],
            "book_ask_qty": aq,
            "ticker_ask_qty": ref[:, 4],
        }
    )
    df["match"] = (
        (df.book_bid == df.ticker_bid)
        & (df.book_ask == df.ticker_ask)
        & (df.book_bid_qty == df.ticker_bid_qty)
        & (df.book_ask_qty == df.ticker_ask_qty)
    )
    return df
