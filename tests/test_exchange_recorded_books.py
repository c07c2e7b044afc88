"""The simulator replays recorded real books (BitMEX L2), rescaled to the simulated price."""

import ccxt
import numpy as np
import pytest

from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, pair_path
from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_exchange_config
from hyperphysics_strategy.exchange.orderbook_model import BookContext
from hyperphysics_strategy.exchange.recorded_books import RecordedOrderBook
from tests.data_paths import DEMO_START, SHARED_ORDERBOOKS, candles_dir

BITMEX = SHARED_ORDERBOOKS / "orderbooks.csv.gz"


@pytest.fixture(scope="module")
def bitmex_source():
    if not BITMEX.exists():
        pytest.skip("shared BitMEX order books not found")
    return RecordedOrderBook.from_file(BITMEX, "bitmex", "XBTUSD", cadence_ms=1000)


def context(t_ms: int, price: float = 50_000.0) -> BookContext:
    return BookContext("BTCUSDT", t_ms, price, 0.01, 0.00001, 0.01, 100.0)


def test_recorded_book_is_rescaled_with_its_shape_kept(bitmex_source):
    snap = bitmex_source.snapshot(context(7_000), depth=10)
    i = snap.meta["recorded_index"]
    rec_bids, rec_asks = bitmex_source.bids[i], bitmex_source.asks[i]
    rec_mid = 0.5 * (rec_bids[0, 0] + rec_asks[0, 0])
    bids, asks = np.array(snap.bids), np.array(snap.asks)
    assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all()
    assert bids[0, 0] < asks[0, 0]
    # Relative distance of each level to the mid is the recording's, within one tick.
    mid = 50_000.0
    for ours, theirs in (
        (bids[:, 0], rec_bids[: len(bids), 0]),
        (asks[:, 0], rec_asks[: len(asks), 0]),
    ):
        np.testing.assert_allclose(ours / mid, theirs / rec_mid, atol=0.02 / mid)
    # Sizes keep their proportions (up to lot rounding).
    ratio = bids[:, 1] / rec_bids[: len(bids), 1]
    assert ratio.max() / ratio.min() < 1.01


def test_recorded_books_advance_with_time_and_loop(bitmex_source):
    a = bitmex_source.snapshot(context(0), 5).meta["recorded_index"]
    b = bitmex_source.snapshot(context(5_000), 5).meta["recorded_index"]
    c = bitmex_source.snapshot(context(len(bitmex_source) * 1000), 5).meta["recorded_index"]
    assert (a, b, c) == (0, 5, 0)


def test_simulator_serves_recorded_books_through_ccxt(tmp_path, bitmex_source):
    import pandas as pd

    data = tmp_path / "data"
    data.mkdir()
    df = pd.read_feather(candles_dir() / "BTC_USDT-5m.feather")
    df = df[df["date"] >= DEMO_START].iloc[:2000].reset_index(drop=True)
    df.to_feather(data / "BTC_USDT-5m.feather")
    with ExchangeSimulator(data, mode="historical", book_source=bitmex_source) as sim:
        cfg = freqtrade_exchange_config(sim.url, ["BTC/USDT"])["ccxt_config"]
        api = ccxt.binance({**cfg, "enableRateLimit": False})
        api.load_markets()
        book = api.fetch_order_book("BTC/USDT", limit=10)
    last = float(df["close"].iloc[-1])
    assert book["bids"][0][0] < last < book["asks"][0][0] * 1.01
    assert len(book["bids"]) >= 5 and len(book["asks"]) >= 5


def test_recorder_file_replays(tmp_path):
    rec = OrderBookRecorder(tmp_path, "binance", levels=3)
    for k in range(3):
        rec.record("ETH/USDT", 1_000 * k, [[100 - k, 1], [99 - k, 2]], [[101 - k, 1], [102 - k, 2]])
    rec.compact()
    source = RecordedOrderBook.from_file(pair_path(tmp_path, "binance", "ETH/USDT"), "recorded")
    assert len(source) == 3
    snap = source.snapshot(BookContext("ETHUSDT", 1_000, 200.0, 0.01, 0.001, 0.01, 10.0), 2)
    assert snap.bids[0][0] < 200.0 < snap.asks[0][0]


def test_bad_recordings_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown book format"):
        RecordedOrderBook.from_file(tmp_path / "x", "csv")
    bad = np.full((2, 3, 2), np.nan)
    with pytest.raises(ValueError, match="no valid book"):
        RecordedOrderBook(np.array([0, 1]), bad, bad)
