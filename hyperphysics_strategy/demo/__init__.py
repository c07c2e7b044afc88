"""The bundled demo: real Binance candles (BTC, ETH, SOL /USDT, 5m and 1h, March-April
2021, from the project's shared data) and the example config ``config.json``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
#: Backtest window inside the bundled data; the 30 days before it train the first model.
DEMO_TIMERANGE = "20210415-20210429"


def demo_data_dir() -> Path:
    """Directory of the bundled candles, in freqtrade's ``data/binance`` feather layout."""
    return Path(str(resources.files(__package__).joinpath("data", "binance")))
