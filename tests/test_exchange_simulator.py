"""Tests of the local Binance exchange simulator, parsed through ccxt and freqtrade."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.exchange import (
    ExchangeSimulator,
    ManualClock,
    freqtrade_exchange_config,
)
from tests.data_paths import candles_dir

START = pd.Timestamp("2021-03-01", tz="UTC")
END = pd.Timestamp("2021-03-04", tz="UTC")
PAIRS = ["BTC/USDT", "ETH/USDT"]
FIVE_MIN = 300_000


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of BTC and ETH (5m and 1h) in freqtrade's feather layout."""
    folder = tmp_path_factory.mktemp("binance")
    for base in ("BTC", "ETH"):
        for tf in ("5m", "1h"):
            df = pd.read_feather(candles_dir() / f"{base}_USDT-{tf}.feather")
            df = df[(df["date"] >= START) & (df["date"] < END)].reset_index(drop=True)
            df.to_feather(folder / f"{base}_USDT-{tf}.feather")
    return folder


@pytest.fixture(scope="module")
def frames(datadir: Path) -> dict[str, pd.DataFrame]:
    """The files written to ``datadir``, keyed like ``BTC/USDT-5m``."""
    return {
        f"{b}/USDT-{tf}": pd.read_feather(datadir / f"{b}_USDT-{tf}.feather")
        for b in ("BTC", "ETH")
        for tf in ("5m", "1h")
    }


@pytest.fixture(scope="module")
def sim(datadir: Path):
    """A historical-mode simulator for the whole module."""
    with ExchangeSimulator(datadir, seed=7) as running:
        yield running


def make_client(url: str) -> ccxt.binance:
    """A ccxt client configured exactly like freqtrade's from the config fragment."""
    cfg = freqtrade_exchange_config(url, PAIRS)
    return ccxt.binance(
        {
            "urls": cfg["ccxt_config"]["urls"],
            "options": cfg["ccxt_config"]["options"],
            "enableRateLimit": False,
        }
    )


@pytest.fixture(scope="module")
def client(sim: ExchangeSimulator) -> ccxt.binance:
    """ccxt client pointed at the module's simulator, markets loaded."""
    ex = make_client(sim.url)
    ex.load_markets()
    return ex


def get(url: str) -> tuple[int, object]:
    """HTTP GET returning (status, parsed JSON body)."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def same_rows(got: list[list[float]], expected: list[list[float]]) -> bool:
    """True when two OHLCV row lists match (timestamps exactly, values to 1e-12)."""
    a, b = np.array(got, dtype=float), np.array(expected, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=0))


def ms(ts: pd.Timestamp) -> int:
    """Milliseconds since the epoch."""
    return int(ts.timestamp() * 1000)


def as_rows(df: pd.DataFrame) -> list[list[float]]:
    """A candle frame as ccxt OHLCV rows."""
    t = df["date"].astype("datetime64[ms, UTC]").astype("int64")
    return [
        [int(a), *map(float, r)]
        for a, r in zip(t, df[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True)
    ]


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


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("/api/v3/klines?symbol=DOGEUSDT&interval=5m", 400, -1121),
        ("/api/v3/klines?symbol=BTCUSDT&interval=7m", 400, -1120),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1m", 400, -1120),
        ("/api/v3/klines?symbol=BTCUSDT", 400, -1102),
        ("/api/v3/klines?interval=5m", 400, -1102),
        ("/api/v3/klines?symbol=btcusdt&interval=5m", 400, -1100),
        ("/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=abc", 400, -1100),
        ("/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=0", 400, -1130),
        ("/api/v3/depth?symbol=BTCUSDT&limit=-5", 400, -1100),
        ("/api/v3/depth?symbol=BTCUSDT&limit=0", 400, -1130),
        ('/api/v3/ticker/24hr?symbols=["BTCUSDT","NOPE"]', 400, -1121),
        ("/api/v3/ticker/price?symbol=BTCUSDT&symbols=[]", 400, -1100),
        ("/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&endTime=7200000", 400, -1127),
        ("/api/v3/account", 404, -1020),
        ("/sapi/v1/capital/config/getall", 404, -1020),
    ],
)
def test_bad_requests_get_binance_errors(
    sim: ExchangeSimulator, query: str, status: int, code: int
) -> None:
    got_status, body = get(sim.url + query.replace('"', "%22"))
    assert got_status == status
    assert body["code"] == code and body["msg"]


def test_ccxt_maps_errors_and_post_is_refused(sim: ExchangeSimulator) -> None:
    ex = make_client(sim.url)
    ex.load_markets()
    with pytest.raises(ccxt.BadSymbol):
        ex.public_get_klines({"symbol": "NOPEUSDT", "interval": "5m"})
    with pytest.raises(ccxt.BadRequest):
        ex.fetch_ohlcv("BTC/USDT", "1m")
    request = urllib.request.Request(sim.url + "/api/v3/order", data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 404
    request = urllib.request.Request(sim.url + "/api/v3/klines", data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 405


@pytest.mark.parametrize("host", ["0.0.0.0", "8.8.8.8", "192.168.1.10", "::", "example.com"])
def test_non_loopback_hosts_are_refused(datadir: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ExchangeSimulator(datadir, host=host)


def test_localhost_is_accepted(datadir: Path) -> None:
    with ExchangeSimulator(datadir, host="localhost") as local:
        assert get(local.url + "/api/v3/ping") == (200, {})


# ----------------------------------------------------------------------------- replay
REPLAY_NOW = 1_800_000_012_345  # a wall-clock instant in 2027, 12.345 s past a minute


def test_replay_serves_shifted_candles_that_advance(
    datadir: Path, frames: dict[str, pd.DataFrame]
) -> None:
    clock = ManualClock(REPLAY_NOW)
    origin = START + pd.Timedelta(days=2)
    with ExchangeSimulator(
        datadir, mode="replay", speed=5, replay_start=origin.to_pydatetime(), clock=clock
    ) as replay:
        ex = make_client(replay.url)
        ex.load_markets()
        assert replay.served_interval() == "1m"
        candles = ex.fetch_ohlcv("BTC/USDT", "1m", limit=3)
        forming, last_closed = candles[-1], candles[-2]
        minute = 60_000
        assert forming[0] == REPLAY_NOW // minute * minute
        assert forming[0] <= REPLAY_NOW < forming[0] + minute
        assert REPLAY_NOW - minute <= last_closed[0] + minute <= REPLAY_NOW

        data = as_rows(frames["BTC/USDT-5m"])
        index = next(i for i, r in enumerate(data) if r[0] == ms(origin))
        assert same_rows([last_closed[1:]], [data[index - 1][1:]])
        final = data[index]
        assert forming[1] == final[1]
        assert final[3] <= forming[3] <= forming[2] <= final[2]
        assert forming[5] < final[5]

        trades = ex.fetch_trades("BTC/USDT", limit=1000)
        assert trades[-1]["timestamp"] <= REPLAY_NOW
        assert ex.fetch_ticker("BTC/USDT")["last"] == trades[-1]["price"]

        five = ex.fetch_ohlcv("BTC/USDT", "5m", limit=2)
        assert five[-2][0] % (5 * minute) == 0

        clock.advance(minute)
        after = ex.fetch_ohlcv("BTC/USDT", "1m", limit=2)
        assert after[0][0] == forming[0] and same_rows([after[0][1:]], [final[1:]])
        assert after[1][0] == forming[0] + minute
        with pytest.raises(ccxt.BadRequest):
            ex.fetch_ohlcv("BTC/USDT", "1s")


def test_replay_default_start_and_end_of_data(
    datadir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(REPLAY_NOW)
    with ExchangeSimulator(datadir, mode="replay", clock=clock) as replay:
        data_now = replay.data_time()
        assert data_now is not None
        span = (END - START).total_seconds()
        share = (data_now - START.to_pydatetime()).total_seconds() / span
        assert 0.79 < share < 0.81
        clock.advance(10 * 86_400_000)
        with caplog.at_level(logging.WARNING):
            _, candles = get(replay.url + "/api/v3/klines?symbol=ETHUSDT&interval=5m&limit=2")
        assert any("end of the data" in r.message for r in caplog.records)
        last = candles[-1]
        assert last[6] + 1 < REPLAY_NOW + 10 * 86_400_000
        clock.advance(3_600_000)
        assert get(replay.url + "/api/v3/klines?symbol=ETHUSDT&interval=5m&limit=2")[1] == candles


def test_replay_rejects_bad_speed_and_start(datadir: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ExchangeSimulator(datadir, mode="replay", speed=7)
    with pytest.raises(ValueError, match="outside the data"):
        ExchangeSimulator(datadir, mode="replay", replay_start=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="mode"):
        ExchangeSimulator(datadir, mode="live")
    with pytest.raises(FileNotFoundError):
        ExchangeSimulator(datadir / "missing")


# -------------------------------------------------------------------------- freqtrade
def test_freqtrade_exchange_loads_markets(sim: ExchangeSimulator) -> None:
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import ExchangeResolver

    pricing = {"price_side": "same", "use_order_book": False, "order_book_top": 1}
    config = {
        "exchange": freqtrade_exchange_config(sim.url, PAIRS),
        "dry_run": True,
        "runmode": RunMode.BACKTEST,
        "stake_currency": "USDT",
        "timeframe": "5m",
        "trading_mode": "spot",
        "margin_mode": "",
        "entry_pricing": pricing,
        "exit_pricing": pricing,
        "order_types": {"entry": "limit", "exit": "limit", "stoploss": "limit"},
    }
    exchange = ExchangeResolver.load_exchange(config, validate=True)
    try:
        assert set(PAIRS) <= set(exchange.markets)
        assert exchange.get_min_pair_stake_amount("BTC/USDT", 50_000.0, 0.0) > 5.0
    finally:
        exchange.close()


def test_cli_print_config(datadir: Path) -> None:
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    result = CliRunner().invoke(
        app, ["exchange", "--datadir", str(datadir), "--port", "9123", "--print-config"]
    )
    assert result.exit_code == 0, result.output
    fragment = json.loads(result.stdout)
    assert fragment["exchange"]["pair_whitelist"] == PAIRS
    assert fragment["exchange"]["ccxt_config"]["urls"]["api"]["public"] == (
        "http://127.0.0.1:9123/api/v3"
    )
    refused = CliRunner().invoke(app, ["exchange", "--host", "0.0.0.0", "--print-config"])
    assert refused.exit_code != 0


def test_cli_print_config_refuses_an_empty_whitelist(tmp_path: Path) -> None:
    """Merged as a later -c, an empty pair_whitelist would silently empty the user's."""
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    missing = tmp_path / "no" / "such" / "folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, why in ((missing, "does not exist"), (empty, "holds no spot candle files")):
        result = CliRunner().invoke(
            app, ["exchange", "--datadir", str(folder), "--print-config"], env={"COLUMNS": "400"}
        )
        assert result.exit_code == 2, result.output
        assert result.stdout == ""  # nothing a script could merge
        assert str(folder) in result.stderr and why in result.stderr
    named = CliRunner().invoke(
        app, ["exchange", "--datadir", str(missing), "--pairs", "BTC/USDT", "--print-config"]
    )
    assert named.exit_code == 0
    assert json.loads(named.stdout)["exchange"]["pair_whitelist"] == ["BTC/USDT"]
