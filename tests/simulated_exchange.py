"""A local Binance simulator for the exchange tests: three days of BTC and ETH candles,
one historical-mode simulator and a ccxt client per test module, and HTTP/row helpers.

A test module imports the fixtures it uses, with those they depend on (``datadir_fixture``
gives ``datadir``; ``frames`` and ``sim`` need ``datadir``, ``client`` needs ``sim``); each
module gets its own (module scope).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_exchange_config
from tests.data_paths import candles_dir

START = pd.Timestamp("2021-03-01", tz="UTC")
END = pd.Timestamp("2021-03-04", tz="UTC")
PAIRS = ["BTC/USDT", "ETH/USDT"]
FIVE_MIN = 300_000


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module", name="datadir")
def datadir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of BTC and ETH (5m and 1h) in freqtrade's feather layout."""
    folder = tmp_path_factory.mktemp("binance")
    for base in ("BTC", "ETH"):
        for tf in ("5m", "1h"):
            df = pd.read_feather(candles_dir() / f"{base}_USDT-{tf}.feather")
            df = df[(df["date"] >= START) & (df["date"] < END)].reset_index(drop=True)
            df.to_feather(folder / f"{base}_USDT-{tf}.feather")
    return folder


@pytest.fixture(scope="module", name="frames")
def frames_fixture(datadir: Path) -> dict[str, pd.DataFrame]:
    """The files written to ``datadir``, keyed like ``BTC/USDT-5m``."""
    return {
        f"{b}/USDT-{tf}": pd.read_feather(datadir / f"{b}_USDT-{tf}.feather")
        for b in ("BTC", "ETH")
        for tf in ("5m", "1h")
    }


@pytest.fixture(scope="module", name="sim")
def sim_fixture(datadir: Path):
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


@pytest.fixture(scope="module", name="client")
def client_fixture(sim: ExchangeSimulator) -> ccxt.binance:
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
