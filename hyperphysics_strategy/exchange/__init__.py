"""Local Binance exchange simulator: Binance's public spot REST API over a datadir.

Lets ``freqtrade backtesting``, ``download-data`` and ``trade --dry-run`` run with no
network access::

    from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_exchange_config

    with ExchangeSimulator(Path("user_data/data/binance")) as sim:
        config["exchange"] = freqtrade_exchange_config(sim.url, ["BTC/USDT"])

Modules: ``market_data`` (candle files, intervals, aggregation), ``columns`` (row
selection shared by the candle and trade tables), ``clock`` (clocks and
data/served time), ``trade_model`` (synthetic trades), ``orderbook_model`` (book
sources), ``markets`` (symbol rules, exchangeInfo), ``feed`` (one symbol's market
now), ``params``/``errors``/``endpoints`` (the API), ``server`` (HTTP),
``simulator`` (wiring and lifecycle), ``config`` (freqtrade config section).
"""

from .clock import Clock, ManualClock, SystemClock
from .config import freqtrade_config_fragment, freqtrade_exchange_config
from .orderbook_model import BookContext, GenerativeOrderBook, OrderBookSnapshot, OrderBookSource
from .simulator import ExchangeSimulator

__all__ = [
    "BookContext",
    "Clock",
    "ExchangeSimulator",
    "GenerativeOrderBook",
    "ManualClock",
    "OrderBookSnapshot",
    "OrderBookSource",
    "SystemClock",
    "freqtrade_config_fragment",
    "freqtrade_exchange_config",
]
