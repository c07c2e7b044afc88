"""The local Binance simulator's market data (markets, klines, books, tickers, trades),
parsed through ccxt."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_exchange_config
from tests.simulated_exchange import (  # noqa: F401 (fixtures)
    FIVE_MIN,
    PAIRS,
    START,
    as_rows,
    client_fixture,
    datadir_fixture,
    frames_fixture,
    get,
    ms,
    same_rows,
    sim_fixture,
)


# --------------------------------------------------------------------- config & markets
def test_config_maps_every_ccxt_url_keeping_its_path() -> None:
    cfg = freqtrade_exchange_config("http://127.0.0.1:9999", PAIRS)
    real = ccxt.binance().urls["api"]
    mapped = cfg["ccxt_config"]["urls"]["api"]
    assert set(mapped) == {k for k, v in real.items() if isinstance(v, str)}
    for key, url in mapped.items():
        assert url == "http://127.0.0.1:9999" + urllib.parse.urlsplit(real[key]).path
    assert cfg["name"] == "binance" and cfg["enable_ws"] is False
    assert cfg["only_from_ccxt"] is True and cfg["pair_whitelist"] == PAIRS
    assert cfg["ccxt_config"]["options"] == {"fetchMarkets": {"types": ["spot"]}}


def test_load_markets_limits_match_filters(sim: ExchangeSimulator, client: ccxt.binance) -> None:
    assert sorted(client.markets) == PAIRS
    status, info = get(sim.url + "/api/v3/exchangeInfo")
    assert status == 200
    for entry in info["symbols"]:
        market = client.markets_by_id[entry["symbol"]][0]
        filters = {f["filterType"]: f for f in entry["filters"]}
        assert market["spot"] and market["active"]
        assert market["precision"]["price"] == float(filters["PRICE_FILTER"]["tickSize"])
        assert market["precision"]["amount"] == float(filters["LOT_SIZE"]["stepSize"])
        assert market["limits"]["amount"]["min"] == float(filters["LOT_SIZE"]["minQty"])
        assert market["limits"]["cost"]["min"] == 5.0
        assert {"ICEBERG_PARTS", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS"} <= set(filters)
        assert entry["permissionSets"] == [["SPOT"]]
    btc = client.market("BTC/USDT")
    assert (btc["precision"]["price"], btc["precision"]["amount"]) == (0.01, 0.00001)
    status, one = get(sim.url + "/api/v3/exchangeInfo?symbol=ETHUSDT")
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]


def test_time_and_ping(sim: ExchangeSimulator, client: ccxt.binance) -> None:
    now = datetime.now(UTC).timestamp() * 1000
    assert abs(client.fetch_time() - now) < 5_000
    assert get(sim.url + "/api/v3/ping") == (200, {})


# ----------------------------------------------------------------------------- klines
def test_fetch_ohlcv_equals_file(client: ccxt.binance, frames: dict[str, pd.DataFrame]) -> None:
    rows = as_rows(frames["BTC/USDT-5m"])
    since = rows[100][0]
    got = client.fetch_ohlcv("BTC/USDT", "5m", since=since, limit=50)
    assert same_rows(got, rows[100:150])
    assert same_rows(client.fetch_ohlcv("BTC/USDT", "5m", limit=10), rows[-10:])
    hourly = as_rows(frames["ETH/USDT-1h"])
    assert same_rows(client.fetch_ohlcv("ETH/USDT", "1h", since=hourly[0][0]), hourly)


def test_fetch_ohlcv_pagination_covers_the_file(
    client: ccxt.binance, frames: dict[str, pd.DataFrame]
) -> None:
    rows = as_rows(frames["ETH/USDT-5m"])
    got: list[list[float]] = []
    since = rows[0][0]
    while True:
        page = client.fetch_ohlcv("ETH/USDT", "5m", since=since, limit=300)
        if not page:
            break
        got += page
        since = page[-1][0] + FIVE_MIN
    assert same_rows(got, rows)


def test_klines_row_format_and_aggregation(
    sim: ExchangeSimulator, frames: dict[str, pd.DataFrame]
) -> None:
    start = ms(START)
    status, body = get(f"{sim.url}/api/v3/klines?symbol=BTCUSDT&interval=4h&startTime={start}")
    assert status == 200 and len(body) == 18
    row = body[0]
    assert len(row) == 12 and isinstance(row[0], int) and isinstance(row[1], str)
    assert row[6] == start + 4 * 3_600_000 - 1 and isinstance(row[8], int)
    df = frames["BTC/USDT-5m"].set_index("date")
    expected = df.resample("4h").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    got = np.array([[float(x) for x in r[1:6]] for r in body])
    assert got == pytest.approx(expected.to_numpy())
    status, body = get(f"{sim.url}/api/v3/klines?symbol=BTCUSDT&interval=1d&limit=5")
    assert [r[0] for r in body] == [ms(START + pd.Timedelta(days=d)) for d in range(3)]


# ------------------------------------------------------------------------ order books
@pytest.mark.parametrize("limit", [5, 10, 20, 100, 500])
def test_order_book_is_valid(client: ccxt.binance, limit: int) -> None:
    book = client.fetch_order_book("BTC/USDT", limit)
    bids, asks = np.array(book["bids"]), np.array(book["asks"])
    assert len(bids) == len(asks) == limit
    assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all()
    assert bids[0, 0] < asks[0, 0]
    assert (bids[:, 1] > 0).all() and (asks[:, 1] > 0).all()
    tick, step = 0.01, 0.00001
    for side in (bids, asks):
        assert np.allclose(np.round(side[:, 0] / tick) * tick, side[:, 0])
        assert np.allclose(np.round(side[:, 1] / step) * step, side[:, 1])
    last = client.fetch_ticker("BTC/USDT")["last"]
    assert bids[0, 0] <= last <= asks[0, 0]
    deeper = client.fetch_order_book("BTC/USDT", 1000)
    assert deeper["bids"][:limit] == book["bids"] and deeper["asks"][:limit] == book["asks"]


def test_books_and_trades_are_seeded(datadir: Path, sim: ExchangeSimulator) -> None:
    query = "/api/v3/depth?symbol=ETHUSDT&limit=20"
    with ExchangeSimulator(datadir, seed=7) as same, ExchangeSimulator(datadir, seed=8) as other:
        assert get(same.url + query) == get(sim.url + query)
        assert get(other.url + query) != get(sim.url + query)
        trades = "/api/v3/aggTrades?symbol=ETHUSDT&limit=50"
        assert get(same.url + trades) == get(sim.url + trades)


# ---------------------------------------------------------------------------- tickers
def test_tickers_follow_the_last_candle(
    client: ccxt.binance, frames: dict[str, pd.DataFrame]
) -> None:
    df = frames["BTC/USDT-5m"]
    ticker = client.fetch_ticker("BTC/USDT")
    assert ticker["last"] == df["close"].iloc[-1]
    day = df[df["date"] >= df["date"].iloc[-1] - pd.Timedelta(hours=23, minutes=55)]
    assert ticker["high"] == day["high"].max() and ticker["low"] == day["low"].min()
    assert ticker["baseVolume"] == pytest.approx(day["volume"].sum())
    assert ticker["bid"] < ticker["ask"]
    tickers = client.fetch_tickers()
    assert sorted(tickers) == PAIRS
    assert tickers["ETH/USDT"]["last"] == frames["ETH/USDT-5m"]["close"].iloc[-1]
    bids_asks = client.fetch_bids_asks(PAIRS)
    assert sorted(bids_asks) == PAIRS
    assert bids_asks["BTC/USDT"]["bid"] == ticker["bid"]
    assert client.fetch_last_prices()["ETH/USDT"]["price"] == tickers["ETH/USDT"]["last"]


# ----------------------------------------------------------------------------- trades
def test_trades_stay_inside_their_candles(
    client: ccxt.binance, frames: dict[str, pd.DataFrame]
) -> None:
    df = frames["BTC/USDT-5m"].iloc[10:14]
    since = ms(df["date"].iloc[0])
    trades = client.fetch_trades("BTC/USDT", since=since, limit=1000)
    assert trades and trades[0]["timestamp"] >= since
    ids = [int(t["id"]) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    times = np.array([t["timestamp"] for t in trades])
    assert (np.diff(times) >= 0).all()
    for _, candle in df.iterrows():
        start = ms(candle["date"])
        inside = [t for t in trades if start <= t["timestamp"] < start + FIVE_MIN]
        prices = [t["price"] for t in inside]
        assert inside[0]["price"] == candle["open"] and inside[-1]["price"] == candle["close"]
        assert min(prices) == candle["low"] and max(prices) == candle["high"]
        assert sum(t["amount"] for t in inside) == pytest.approx(candle["volume"], rel=1e-6)
        assert {t["side"] for t in inside} <= {"buy", "sell"}
    paged = client.fetch_trades("BTC/USDT", limit=20, params={"fromId": ids[5]})
    assert [int(t["id"]) for t in paged] == ids[5:25]
    recent = client.fetch_trades("BTC/USDT", limit=5)
    assert recent[-1]["price"] == frames["BTC/USDT-5m"]["close"].iloc[-1]
