"""Order-book features in hyperbolic geometry, bad-book cleaning and order-book history.

Nothing here imports freqtrade. Layout: ``geometry`` (the reference: every formula as a
pure torch function), ``features`` (``HyperbolicOrderBook``) with its two fast paths
``_batch`` (vectorised numpy/torch) and ``_single`` (numba), ``cleaning`` (bad-book rules),
``columns`` (feature names). Main entry points:

- :class:`HyperbolicOrderBook` (``update`` one snapshot -> dict, ``batch`` (T, L, 2) -> DataFrame)
- :class:`OrderBookRecorder`, :func:`read_orderbooks`, :func:`align_to_candles`,
  :func:`load_recorded_for_candles` (recorded history)
- :func:`proxy_books_from_ohlcv`, :func:`books_from_orderflow`, :func:`select_books` and the
  ``SOURCE_*`` codes (books for backtests)
- :func:`load_bitmex_l2`, :func:`rebuild_binance_depth`, :func:`compare_with_bookticker`
"""

from .cleaning import REASONS, describe
from .columns import FEATURE_COLUMNS, SCALE_FREE_COLUMNS
from .features import HyperbolicOrderBook
from .importers import DepthReplay, compare_with_bookticker, load_bitmex_l2, rebuild_binance_depth
from .recorder import (
    OrderBookRecorder,
    align_to_candles,
    compact_file,
    load_recorded_for_candles,
    pair_path,
    read_orderbooks,
)
from .sources import (
    SOURCE_NAMES,
    SOURCE_NONE,
    SOURCE_OHLCV_PROXY,
    SOURCE_RECORDED,
    SOURCE_TRADES,
    books_from_orderflow,
    has_book,
    proxy_books_from_ohlcv,
    select_books,
)

__all__ = [
    "FEATURE_COLUMNS",
    "REASONS",
    "SCALE_FREE_COLUMNS",
    "SOURCE_NAMES",
    "SOURCE_NONE",
    "SOURCE_OHLCV_PROXY",
    "SOURCE_RECORDED",
    "SOURCE_TRADES",
    "DepthReplay",
    "HyperbolicOrderBook",
    "OrderBookRecorder",
    "align_to_candles",
    "books_from_orderflow",
    "compact_file",
    "compare_with_bookticker",
    "describe",
    "has_book",
    "load_bitmex_l2",
    "load_recorded_for_candles",
    "pair_path",
    "proxy_books_from_ohlcv",
    "read_orderbooks",
    "rebuild_binance_depth",
    "select_books",
]
