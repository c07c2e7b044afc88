"""The strategy's order-book features: recorded history read once, kept current in memory."""

import numpy as np
import pandas as pd

from hyperphysics_strategy.engine.orderbook import SOURCE_OHLCV_PROXY, SOURCE_RECORDED
from hyperphysics_strategy.strategy import orderbook_features as obf

TF = 300  # 5m candles


def candles(n=12, start="2021-04-01"):
    dates = pd.date_range(start, periods=n, freq="5min", tz="UTC")
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {"date": dates, "open": close, "high": close + 1, "low": close - 1, "close": close,
         "volume": np.full(n, 50.0)}
    )  # fmt: skip


def book(mid, levels=5):
    bids = [[mid - 0.01 * (i + 1), 1.0 + i] for i in range(levels)]
    asks = [[mid + 0.01 * (i + 1), 2.0 + i] for i in range(levels)]
    return {"bids": bids, "asks": asks}


def close_ms(df, i):
    return int(df["date"].iloc[i].value // 1_000_000) + TF * 1000


def test_recorded_books_are_read_once_and_kept_current(tmp_path, monkeypatch):
    df = candles()
    reads = []
    real_read = obf.read_orderbooks
    monkeypatch.setattr(obf, "read_orderbooks", lambda path: reads.append(path) or real_read(path))
    live = obf.OrderBookFeatures(tmp_path, "binance", levels=5)
    for i in range(4):  # books recorded just after the close of candles 0..3
        live.record("BTC/USDT", {**book(100 + i), "timestamp": close_ms(df, i) + 1000}, 0)
    first = live.add(df.copy(), "BTC/USDT", TF)
    assert list(first["%-ob_source"][:4]) == [SOURCE_RECORDED] * 4
    assert (first["%-ob_source"][4:] == SOURCE_OHLCV_PROXY).all()
    # the next candle's book: recorded, then features again, without reading the disk
    live.record("BTC/USDT", {**book(104), "timestamp": close_ms(df, 4) + 1000}, 0)
    second = live.add(df.copy(), "BTC/USDT", TF)
    assert len(reads) == 1
    assert second["%-ob_source"].iloc[4] == SOURCE_RECORDED
    # the in-memory copy gives exactly what a fresh reader of the files gives
    fresh = obf.OrderBookFeatures(tmp_path, "binance", levels=5).add(df.copy(), "BTC/USDT", TF)
    pd.testing.assert_frame_equal(second, fresh)


def test_history_keeps_what_the_longest_request_could_use(tmp_path):
    df = candles(36)
    live = obf.OrderBookFeatures(tmp_path, "binance", levels=5)
    live.add(df.iloc[:12].copy(), "ETH/USDT", TF)  # a 12-candle request (empty history)
    for i in range(36):
        live.record("ETH/USDT", {**book(100 + i), "timestamp": close_ms(df, i) + 1000}, 0)
    assert len(live._history["ETH/USDT"][0]) == 36
    short = live.add(df.iloc[-3:].copy(), "ETH/USDT", TF)  # a shorter, recent request
    assert (short["%-ob_source"] == SOURCE_RECORDED).all()
    assert 12 <= len(live._history["ETH/USDT"][0]) <= 13  # the last 12-candle span kept
    again = live.add(df.iloc[-12:].copy(), "ETH/USDT", TF)
    assert (again["%-ob_source"] == SOURCE_RECORDED).all()


def test_a_snapshot_not_newer_than_the_last_is_not_appended():
    ts, b, a = obf._append((np.empty(0, np.int64), np.empty((0, 0, 2)), np.empty((0, 0, 2))),
                           1_000, [[1.0, 2.0]], [[1.1, 3.0], [1.2, 1.0]])  # fmt: skip
    assert b.shape == (1, 2, 2) and np.isnan(b[0, 1]).all()
    same = obf._append((ts, b, a), 1_000, [[9.0, 9.0]], [[9.1, 9.0]])
    assert same[0].tolist() == [1_000] and same[1][0, 0, 0] == 1.0
