"""Binance-style API errors: an HTTP status plus ``{"code": -XXXX, "msg": "..."}``.

Codes follow Binance's spot error list, so ccxt maps them to the same exception
classes it would raise against the real exchange (``-1121`` -> ``BadSymbol``,
``-1100``/``-1102``/``-1120``/``-1130`` -> ``BadRequest`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = -1000
UNSUPPORTED = -1020
ILLEGAL_CHARS = -1100
MANDATORY_PARAM = -1102
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
BAD_LOOKUP_INTERVAL = -1127
BAD_COMBINATION = -1128
BAD_PARAM_VALUE = -1130


@dataclass
class BinanceError(Exception):
    """An error the server answers with ``status`` and a Binance JSON body."""

    status: int
    code: int
    msg: str

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.msg}"

    def body(self) -> dict[str, int | str]:
        """The JSON body Binance sends."""
        return {"code": self.code, "msg": self.msg}


def bad_request(detail: str) -> BinanceError:
    """A request whose HTTP framing is malformed (HTTP 400, ``-1000``)."""
    return BinanceError(400, UNKNOWN, f"Malformed request: {detail}.")


def illegal_chars(name: str, legal: str) -> BinanceError:
    """A parameter that does not match its pattern (``-1100``)."""
    return BinanceError(
        400,
        ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.",
    )


def mandatory(name: str) -> BinanceError:
    """A required parameter that is missing (``-1102``)."""
    return BinanceError(
        400,
        MANDATORY_PARAM,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def invalid_value(name: str, detail: str = "") -> BinanceError:
    """A parameter with a value outside its range (``-1130``)."""
    extra = f" {detail}" if detail else ""
    return BinanceError(
        400, BAD_PARAM_VALUE, f"Data sent for parameter '{name}' is not valid.{extra}"
    )


def invalid_symbol(symbol: str | None = None) -> BinanceError:
    """An unknown symbol (``-1121``)."""
    detail = f" ({symbol} is not in the simulator's datadir)" if symbol else ""
    return BinanceError(400, BAD_SYMBOL, f"Invalid symbol.{detail}")


def invalid_interval(detail: str = "") -> BinanceError:
    """An unknown or unavailable kline interval (``-1120``)."""
    return BinanceError(400, BAD_INTERVAL, f"Invalid interval.{' ' + detail if detail else ''}")


def not_found(method: str, path: str) -> BinanceError:
    """A path the simulator does not serve (HTTP 404)."""
    return BinanceError(
        404,
        UNSUPPORTED,
        f"This operation is not supported: {method} {path} is not simulated (only Binance "
        "spot public market-data endpoints under /api/v3 are).",
    )


def method_not_allowed(method: str, path: str) -> BinanceError:
    """A known path called with another HTTP method (HTTP 405)."""
    return BinanceError(
        405, UNSUPPORTED, f"This operation is not supported: {path} only answers GET, not {method}."
    )
