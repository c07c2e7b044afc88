"""Bad requests to the local Binance simulator get Binance's errors; only loopback hosts
are served."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import ccxt
import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator
from tests.simulated_exchange import datadir_fixture, get, make_client, sim_fixture  # noqa: F401 (fixtures)


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
