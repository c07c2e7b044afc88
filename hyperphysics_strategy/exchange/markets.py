"""Trading rules per symbol and the ``/api/v3/exchangeInfo`` document.

Eight USDT pairs use the tick and lot sizes Binance spot lists for them. Any other
pair gets rules derived from its median close ``p`` (``e = floor(log10 p)``):

* ``tickSize = 10 ** clip(e - 5, -8, -2)`` (about six significant digits, at most 0.01);
* ``stepSize = minQty = 10 ** clip(-(e + 1), -8, 0)`` (one step is worth 0.1-1 quote);
* ``maxQty`` 9,000 when ``p >= 1000``, 9,000,000 when ``p >= 0.01``, else 9e10;
* ``minPrice = tickSize``, ``maxPrice = max(1000, 10 ** (e + 2))``;
* ``minNotional`` from the quote asset (5 for USD stablecoins, 0.0001 for BTC, 0.001
  for ETH, 0.01 for BNB, 5 otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

SPOT_ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]

_MIN_NOTIONAL_BY_QUOTE = {
    "USDT": "5",
    "USDC": "5",
    "FDUSD": "5",
    "TUSD": "5",
    "BUSD": "5",
    "DAI": "5",
    "BTC": "0.0001",
    "ETH": "0.001",
    "BNB": "0.01",
}
_DEFAULT_MIN_NOTIONAL = "5"


@dataclass(frozen=True)
class SymbolRules:
    """Exchange filters of one symbol, as decimal strings."""

    tick_size: str
    min_price: str
    max_price: str
    step_size: str
    min_qty: str
    max_qty: str
    market_max_qty: str
    min_notional: str
    max_notional: str = "9000000"

    @property
    def tick(self) -> float:
        """Price increment as a float."""
        return float(self.tick_size)

    @property
    def step(self) -> float:
        """Quantity increment as a float."""
        return float(self.step_size)

    @property
    def price_decimals(self) -> int:
        """Decimals needed to print a price on the tick grid."""
        return decimals(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        """Decimals needed to print a quantity on the step grid."""
        return decimals(self.step_size)


#: Filters of the pairs in the shared data set, as listed by Binance spot.
KNOWN_RULES: dict[str, SymbolRules] = {
    "BTCUSDT": SymbolRules("0.01", "0.01", "1000000", "0.00001", "0.00001", "9000", "115", "5"),
    "ETHUSDT": SymbolRules("0.01", "0.01", "1000000", "0.0001", "0.0001", "9000", "2750", "5"),
    "SOLUSDT": SymbolRules("0.01", "0.01", "10000", "0.001", "0.001", "9000000", "24000", "5"),
    "ADAUSDT": SymbolRules("0.0001", "0.0001", "1000", "0.1", "0.1", "9000000", "4800000", "5"),
    "XRPUSDT": SymbolRules("0.0001", "0.0001", "1000", "0.1", "0.1", "9222449", "2200000", "5"),
    "LTCUSDT": SymbolRules("0.01", "0.01", "100000", "0.001", "0.001", "9000000", "16000", "5"),
    "LINKUSDT": SymbolRules("0.01", "0.01", "10000", "0.01", "0.01", "9000000", "150000", "5"),
    "DOTUSDT": SymbolRules("0.001", "0.001", "10000", "0.01", "0.01", "9000000", "380000", "5"),
}


def decimals(step: str) -> int:
    """Number of decimals of a step such as ``"0.00100"`` (-> 3)."""
    exponent = Decimal(step).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fmt8(value: str | float) -> str:
    """Binance's filter format: eight decimals (``"0.01000000"``)."""
    return f"{Decimal(str(value)):.8f}"


def derive_rules(quote: str, ref_price: float) -> SymbolRules:
    """Rules for a pair Binance data is not built in for (see the module docstring)."""
    if not math.isfinite(ref_price) or ref_price <= 0:
        ref_price = 1.0
    e = math.floor(math.log10(ref_price))
    tick = f"1e{min(max(e - 5, -8), -2)}"
    step = f"1e{min(max(-(e + 1), -8), 0)}"
    if ref_price >= 1000:
        max_qty = "9000"
    elif ref_price >= 0.01:
        max_qty = "9000000"
    else:
        max_qty = "90000000000"
    max_price = str(max(1000, 10 ** (e + 2)))
    return SymbolRules(
        tick_size=fmt8(Decimal(tick)),
        min_price=fmt8(Decimal(tick)),
        max_price=max_price,
        step_size=fmt8(Decimal(step)),
        min_qty=fmt8(Decimal(step)),
        max_qty=max_qty,
        market_max_qty=max_qty,
        min_notional=_MIN_NOTIONAL_BY_QUOTE.get(quote.upper(), _DEFAULT_MIN_NOTIONAL),
    )


def rules_for(symbol: str, quote: str, ref_price: float) -> SymbolRules:
    """Built-in rules for known symbols, derived ones otherwise."""
    return KNOWN_RULES.get(symbol) or derive_rules(quote, ref_price)


def symbol_filters(rules: SymbolRules) -> list[dict]:
    """The Binance ``filters`` list of a symbol."""
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fmt8(rules.min_price),
            "maxPrice": fmt8(rules.max_price),
            "tickSize": fmt8(rules.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": fmt8(rules.min_qty),
            "maxQty": fmt8(rules.max_qty),
            "stepSize": fmt8(rules.step_size),
        },
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": fmt8(0),
            "maxQty": fmt8(rules.market_max_qty),
            "stepSize": fmt8(0),
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
            "minTrailingBelowDelta": 10,
            "maxTrailingBelowDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": fmt8(rules.min_notional),
            "applyMinToMarket": True,
            "maxNotional": fmt8(rules.max_notional),
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ]


def symbol_info(symbol: str, base: str, quote: str, rules: SymbolRules) -> dict:
    """One entry of ``exchangeInfo.symbols``."""
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(SPOT_ORDER_TYPES),
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": symbol_filters(rules),
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": list(STP_MODES),
    }


def exchange_info(symbols: list[dict], server_time_ms: int) -> dict:
    """The ``/api/v3/exchangeInfo`` response for the given symbol entries."""
    return {
        "timezone": "UTC",
        "serverTime": int(server_time_ms),
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }
