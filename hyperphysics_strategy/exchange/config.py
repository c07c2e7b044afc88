"""The freqtrade ``exchange`` config section that points ccxt at the simulator."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit, urlunsplit


@functools.cache
def _ccxt_binance_api_urls() -> dict[str, str]:
    """``ccxt.binance().urls["api"]`` of the installed ccxt (string entries only)."""
    import ccxt  # deferred: creating the client costs a little, only config needs it

    urls = ccxt.binance().urls["api"]
    return {key: value for key, value in urls.items() if isinstance(value, str)}


def simulator_api_urls(url: str) -> dict[str, str]:
    """Every ccxt Binance API URL with its scheme and host replaced by ``url``.

    Each URL keeps its path (``https://api.binance.com/api/v3`` ->
    ``http://127.0.0.1:8765/api/v3``, ``https://fapi.binance.com/fapi/v1`` ->
    ``http://127.0.0.1:8765/fapi/v1``), so whichever key ccxt picks, the request
    reaches the simulator and never the real exchange.
    """
    base = urlsplit(url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    prefix = base.path.rstrip("/")
    return {
        key: urlunsplit((base.scheme, base.netloc, prefix + urlsplit(value).path, "", ""))
        for key, value in _ccxt_binance_api_urls().items()
    }


def freqtrade_exchange_config(url: str, pairs: list[str]) -> dict:
    """The top-level ``exchange`` section of a freqtrade config for the simulator.

    ``enable_ws`` is off (the simulator has no websocket API), ``only_from_ccxt``
    stops freqtrade from downloading from data.binance.vision, and ccxt loads spot
    markets only. freqtrade merges ``ccxt_config`` into both its sync and its async
    ccxt clients, so no ``ccxt_async_config`` is needed.
    """
    return {
        "name": "binance",
        "key": "",
        "secret": "",
        "enable_ws": False,
        "only_from_ccxt": True,
        "pair_whitelist": list(pairs),
        "pair_blacklist": [],
        "ccxt_config": {
            "urls": {"api": simulator_api_urls(url)},
            "options": {"fetchMarkets": {"types": ["spot"]}},
        },
    }


def freqtrade_config_fragment(url: str, pairs: list[str]) -> dict:
    """``{"exchange": freqtrade_exchange_config(url, pairs)}``, ready to merge into a
    freqtrade config file after the user's own.

    ``fiat_display_currency`` is emptied (freqtrade's schema allows ``""``): with a
    currency set, a dry-run's RPC fetches CoinGecko's coin list at start-up, which offline
    logs "ERROR - Could not load FIAT Cryptocurrency map"; backtests never convert."""
    return {"fiat_display_currency": "", "exchange": freqtrade_exchange_config(url, pairs)}
