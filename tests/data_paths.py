"""Where the tests find their data: every path to test data is defined here.

- the project's shared data (``../shared/data`` beside the project root; see its README):
  Binance candles 2020-12 to 2021-07, BitMEX and Binance order books, Deribit option chains;
  absent on a fresh clone, so tests that need it skip;
- the package's bundled demo candles (``hyperphysics_strategy/demo/data/binance``): BTC, ETH
  and SOL /USDT, 5m and 1h, 2021-03-01 to 2021-04-30, the shared candles' values unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hyperphysics_strategy.demo import demo_data_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_CANDLES = SHARED_DATA / "candles" / "binance"
SHARED_ORDERBOOKS = SHARED_DATA / "orderbooks"
SHARED_OPTIONS = SHARED_DATA / "options"
DEMO_CANDLES = demo_data_dir()
#: the span of the bundled candles, where both sources hold the same values
DEMO_START = pd.Timestamp("2021-03-01", tz="UTC")
DEMO_END = pd.Timestamp("2021-05-01", tz="UTC")


def candles_dir() -> Path:
    """The shared candles when present, else the bundled demo candles; for a test that needs
    BTC, ETH or SOL inside [DEMO_START, DEMO_END) only, where the two agree."""
    return SHARED_CANDLES if SHARED_CANDLES.is_dir() else DEMO_CANDLES


def load_candles(pair: str = "BTC", timeframe: str = "5m") -> pd.DataFrame:
    """The shared candles of ``<pair>/USDT``; a test reading them takes ``shared_candles``."""
    return pd.read_feather(SHARED_CANDLES / f"{pair}_USDT-{timeframe}.feather")
