"""The bundled demo: real Binance candles (BTC, ETH, SOL, ADA /USDT, 5m and 1h, January to
April 2021, from the project's shared data), the example config ``config.json`` and the
demo's own fragment ``demo.json``: its FreqAI window, and ``hyperphysics.require_edge`` false,
so that the demo's configs trade without a champion from ``hyperphysics search`` in a dry-run
too (a backtest always trades the rule)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Every pair of the bundled candles.
DEMO_PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "ADA/USDT")
#: The pairs and the window ``hyperphysics demo`` backtests by default: two 14-day FreqAI
#: windows (``demo.json``), each predicted by a model trained on the 30 days before it.
#: Chosen because the strategy, with its defaults, trades there (see docs/results.md,
#: run 5, whose windows these are); most windows it sits out.
DEMO_BACKTEST_PAIRS = ("ADA/USDT",)
DEMO_TIMERANGE = "20210212-20210312"


def demo_data_dir() -> Path:
    """Directory of the bundled candles, in freqtrade's ``data/binance`` feather layout."""
    return Path(str(resources.files(__package__).joinpath("data", "binance")))


def demo_config_path() -> Path:
    """The demo's config fragment (its FreqAI window, the edge gate off), merged after the
    example config."""
    return Path(str(resources.files(__package__).joinpath("demo.json")))
