"""Recorder (append safety under SIGKILL), candle alignment, book sources and importers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.orderbook import (
    FEATURE_COLUMNS,
    SOURCE_NONE,
    SOURCE_OHLCV_PROXY,
    SOURCE_RECORDED,
    SOURCE_TRADES,
    HyperbolicOrderBook,
    OrderBookRecorder,
    align_to_candles,
    books_from_orderflow,
    compare_with_bookticker,
    load_bitmex_l2,
    load_recorded_for_candles,
    pair_path,
    proxy_books_from_ohlcv,
    read_orderbooks,
    rebuild_binance_depth,
    select_books,
)
from tests.data_paths import ROOT
from tests.data_paths import SHARED_ORDERBOOKS as OB_DATA

NUMERIC = [c for c in FEATURE_COLUMNS if c != "valid"]


def snap(i, L=5):
    bids = [[100.0 - 0.1 * (k + 1) - 0.01 * i, 1.0 + k + i] for k in range(L)]
    asks = [[100.0 + 0.1 * (k + 1) + 0.01 * i, 2.0 + k] for k in range(L)]
    return bids, asks


def test_recorder_roundtrip_and_compaction(tmp_path):
    rec = OrderBookRecorder(tmp_path, "binance", levels=4, compact_every=3)
    for i in range(7):
        b, a = snap(i, L=5 if i % 2 else 2)
        rec.record("BTC/USDT", 1_000 * i, b, a)
    path = pair_path(tmp_path, "binance", "BTC/USDT")
    assert path == tmp_path / "binance" / "BTC_USDT.parquet"
    assert path.is_file()  # compacted twice
    assert len(list(path.with_name(path.name + ".parts").glob("*.parquet"))) == 1
    ts, B, A = read_orderbooks(path)
    assert list(ts) == [1_000 * i for i in range(7)]
    assert B.shape == (7, 4, 2) and A.shape == (7, 4, 2)
    b, a = snap(3)
    np.testing.assert_array_equal(B[3], np.array(b[:4]))
    assert np.isnan(B[0, 2:]).all() and not np.isnan(B[0, :2]).any()
    rec.compact()
    assert not list(path.with_name(path.name + ".parts").glob("*.parquet"))
    ts2, B2, _ = read_orderbooks(path)
    np.testing.assert_array_equal(ts2, ts)
    np.testing.assert_array_equal(B2, B)
    empty_ts, _, _ = read_orderbooks(tmp_path / "nope.parquet")
    assert len(empty_ts) == 0


WRITER = textwrap.dedent(
    """
    import sys
    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder
    root, base = sys.argv[1], int(sys.argv[2])
    rec = OrderBookRecorder(root, "kraken", levels=20, compact_every=4)
    bids = [[100.0 - k, 1.0 + k] for k in range(1, 21)]
    asks = [[100.0 + k, 1.0 + k] for k in range(1, 21)]
    i = 0
    while True:
        rec.record("ETH/USDT", base + i, bids, asks)
        print(i, flush=True)
        i += 1
    """
)


def test_sigkill_mid_append_keeps_every_completed_snapshot(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed: set[int] = set()
    maybe: set[int] = set()
    for rnd, wanted in enumerate((9, 14, 23)):
        base = 1_000_000 * (rnd + 1)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "data"), str(base)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        last = -1
        deadline = time.time() + 60
        while last < wanted and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
        time.sleep(0.003 * rnd)  # land the kill at different points of an append
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for line in proc.stdout.read().split():
            last = max(last, int(line))
        assert last >= wanted
        completed |= {base + i for i in range(last + 1)}
        maybe.add(base + last + 1)  # the append in flight may or may not have landed
        ts, B, A = read_orderbooks(pair_path(tmp_path / "data", "kraken", "ETH/USDT"))
        got = set(ts.tolist())
        assert completed <= got <= completed | maybe
        assert np.isfinite(B).all() and B.shape[1:] == (20, 2)


def test_align_to_candles_last_snapshot_at_or_before_close(tmp_path):
    ts = np.array([1_000, 2_500, 3_000, 9_000])
    B = np.arange(4, dtype=float)[:, None, None] * np.ones((4, 2, 2))
    A = B + 10
    close = np.array([500, 1_000, 2_999, 3_100, 8_000, 9_500])
    b, a, ok = align_to_candles(ts, B, A, close, tolerance_ms=1_000)
    assert ok.tolist() == [False, True, True, True, False, True]
    assert b[1, 0, 0] == 0 and b[2, 0, 0] == 1 and b[3, 0, 0] == 2 and b[5, 0, 0] == 3
    assert np.isnan(b[0]).all() and np.isnan(a[4]).all()
    rec = OrderBookRecorder(tmp_path, "binance", levels=3)
    for t in (1_000, 2_000):
        rec.record("SOL/USDT", t, *snap(t // 1000, L=3))
    b, a, ok = load_recorded_for_candles(
        tmp_path, "binance", "SOL/USDT", [1_500, 2_000, 9_000], 800
    )
    assert ok.tolist() == [True, True, False]
    b, a, ok = load_recorded_for_candles(tmp_path, "binance", "XRP/USDT", [1_500], 800)
    assert not ok.any()


def test_proxy_books_from_ohlcv():
    high = np.array([101.0, 100.0, 105.0, 100.0])
    low = np.array([99.0, 100.0, 95.0, 99.0])
    close = np.array([100.5, 100.0, 96.0, 99.5])
    vol = np.array([10.0, 5.0, 100.0, 0.0])
    B, A = proxy_books_from_ohlcv(high, low, close, vol, levels=8)
    assert B.shape == A.shape == (4, 8, 2)
    book = HyperbolicOrderBook(device="cpu", dtype=torch.float64, max_levels=8)
    df = book.batch(B, A)
    assert df.valid.tolist() == [True, True, True, False]  # zero volume: no liquidity
    assert df.spread_bps.iloc[1] == pytest.approx(1.0, rel=1e-6)  # floor when high == low
    assert df.spread_bps.iloc[2] > df.spread_bps.iloc[0]  # wider range, wider spread
    assert df.imbalance_all.iloc[0] > 0 > df.imbalance_all.iloc[2]  # close high/low in range
    assert df.bid_depth_all.iloc[2] + df.ask_depth_all.iloc[2] == pytest.approx(2 * 0.05 * 100)
    assert df.bid_lambda.iloc[1] > 0 and df.bid_fit_r2.iloc[1] > 0.5


def test_books_from_orderflow_freqtrade_format():
    # the shape freqtrade's populate_dataframe_with_trades stores per candle
    of = {
        99.0: {
            "bid": 2,
            "ask": 0,
            "delta": -3.0,
            "bid_amount": 3.0,
            "ask_amount": 0.0,
            "total_volume": 3.0,
            "total_trades": 2,
        },
        100.0: {
            "bid": 1,
            "ask": 1,
            "delta": 1.0,
            "bid_amount": 1.0,
            "ask_amount": 2.0,
            "total_volume": 3.0,
            "total_trades": 2,
        },
        101.0: {
            "bid": 0,
            "ask": 3,
            "delta": 4.0,
            "bid_amount": 0.0,
            "ask_amount": 4.0,
            "total_volume": 4.0,
            "total_trades": 3,
        },
    }
    as_json = {str(k): v for k, v in of.items()}
    B, A = books_from_orderflow([of, None, as_json, {}], close=[100.0, 100.0, 100.0, 1.0])
    np.testing.assert_array_equal(B[0, :2], [[100.0, 1.0], [99.0, 3.0]])
    np.testing.assert_array_equal(A[0, :1], [[101.0, 4.0]])
    assert np.isnan(A[0, 1:]).all() and np.isnan(B[1]).all()
    np.testing.assert_array_equal(B[2], B[0])
    df = HyperbolicOrderBook(device="cpu", dtype=torch.float64).batch(B, A)
    assert df.valid.tolist() == [True, False, True, False]


def test_select_books_priority_and_source_codes():
    T = 4
    rec_b = np.full((T, 3, 2), np.nan)
    rec_a = np.full((T, 3, 2), np.nan)
    rec_b[0], rec_a[0] = [[99, 1]] * 3, [[101, 1]] * 3
    trd_b = np.full((T, 2, 2), np.nan)
    trd_a = np.full((T, 2, 2), np.nan)
    trd_b[:2], trd_a[:2] = [[98, 2]] * 2, [[102, 2]] * 2
    prx_b, prx_a = proxy_books_from_ohlcv([101] * T, [99] * T, [100] * T, [1, 1, 1, 0], levels=3)
    b, a, src = select_books(
        [
            (rec_b, rec_a, np.array([True, True, False, False]), SOURCE_RECORDED),
            (trd_b, trd_a, None, SOURCE_TRADES),
            (prx_b, prx_a, None, SOURCE_OHLCV_PROXY),
        ],
        levels=5,
    )
    assert src.tolist() == [SOURCE_RECORDED, SOURCE_TRADES, SOURCE_OHLCV_PROXY, SOURCE_NONE]
    assert b.shape == (T, 5, 2) and b[0, 0, 0] == 99 and b[1, 0, 0] == 98
    df = HyperbolicOrderBook(device="cpu").batch(b, a, source=src)
    assert df.source.tolist() == src.tolist()
    assert df.valid.tolist() == [True, True, True, False]


needs_data = pytest.mark.skipif(not OB_DATA.is_dir(), reason="shared order-book data missing")


@needs_data
@pytest.mark.parametrize("symbol", ["XBTUSD", "ETHUSD"])
def test_bitmex_features_are_finite(symbol):
    ts, B, A = load_bitmex_l2(OB_DATA / "orderbooks.csv.gz", symbol=symbol)
    assert len(ts) > 20_000 and B.shape[1:] == (10, 2)
    assert (np.diff(ts) >= 0).all()
    if symbol == "XBTUSD":
        assert ts[0] == 1583864710984
    for dt in (torch.float32, torch.float64):
        df = HyperbolicOrderBook(device="cpu", max_levels=10, dtype=dt).batch(B, A)
        assert df.valid.all() and (df.reason == 0).all()
        assert np.isfinite(df[NUMERIC].to_numpy(dtype=float)).all()
    f = HyperbolicOrderBook(device="cpu", max_levels=10).update(B[100], A[100])
    assert f["centroid_distance"] == pytest.approx(df.centroid_distance.iloc[100], rel=1e-9)


@needs_data
@pytest.mark.parametrize("name", ["btcusdt", "ethusdt"])
def test_binance_rebuild_matches_bookticker_and_features_are_finite(name):
    rep = rebuild_binance_depth(OB_DATA / "binance-spot" / f"{name}_20240808.gz", levels=20)
    assert rep.gaps == [] and rep.in_sync.all()
    assert len(rep.update_ids) > 3000 and (np.diff(rep.update_ids) > 0).all()
    cmp = compare_with_bookticker(rep)
    assert len(cmp) == len(rep.update_ids)  # every checkpoint had a reference ticker
    assert cmp.match.all(), cmp[~cmp.match].head()
    for dt in (torch.float32, torch.float64):
        df = HyperbolicOrderBook(device="cpu", dtype=dt).batch(rep.bids, rep.asks)
        assert df.valid.all()
        assert np.isfinite(df[NUMERIC].to_numpy(dtype=float)).all()


@needs_data
def test_binance_gap_is_detected(tmp_path):
    src = OB_DATA / "binance-spot" / "ethusdt_20240808.gz"
    import gzip

    with gzip.open(src, "rt") as fh:
        lines = fh.read().splitlines()
    depth = [i for i, s in enumerate(lines) if "@depth" in s]
    del lines[depth[200]]  # lose one diff message after the snapshot
    bad = tmp_path / "gap.txt"
    bad.write_text("\n".join(lines) + "\n")
    rep = rebuild_binance_depth(bad)
    assert len(rep.gaps) == 1
    idx, expected, got = rep.gaps[0]
    assert got > expected and not rep.in_sync[idx:].any() and rep.in_sync[:idx].all()
