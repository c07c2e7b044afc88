"""Parsing and validation of Binance query-string parameters."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from . import errors

_INT_RE = re.compile(r"^[0-9]{1,20}$")
_SYMBOL_RE = re.compile(r"^[A-Z0-9\-_.]{1,20}$")


class QueryParams:
    """Query-string parameters of one request, with Binance-style validation errors."""

    def __init__(self, query: str) -> None:
        parsed = parse_qs(query, keep_blank_values=True)
        self.values: dict[str, str] = {k: v[-1] for k, v in parsed.items()}

    def has(self, name: str) -> bool:
        """True when the parameter was sent with a non-empty value."""
        return bool(self.values.get(name))

    def sent(self, name: str, *, required: bool = False) -> str | None:
        """The non-empty value, else ``None`` (``-1102`` when ``required``)."""
        value = self.values.get(name)
        if value:
            return value
        if required:
            raise errors.mandatory(name)
        return None

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer parameter; ``-1100`` when not a number, ``-1130`` out of range."""
        value = self.sent(name, required=required)
        if value is None:
            return None
        if not _INT_RE.match(value):
            raise errors.illegal_chars(name, "^[0-9]{1,20}$")
        number = int(value)
        if minimum is not None and number < minimum:
            raise errors.invalid_value(name, f"It must be at least {minimum}.")
        if maximum is not None and number > maximum:
            raise errors.invalid_value(name, f"It must be at most {maximum}.")
        return number

    def symbol(self, name: str = "symbol", *, required: bool = True) -> str | None:
        """A symbol such as ``BTCUSDT`` (``-1102`` missing, ``-1100`` malformed)."""
        value = self.sent(name, required=required)
        if value is None:
            return None
        if not _SYMBOL_RE.match(value):
            raise errors.illegal_chars(name, "^[A-Z0-9-_.]{1,20}$")
        return value

    def symbols(self, name: str = "symbols") -> list[str] | None:
        """A JSON array of symbols, e.g. ``["BTCUSDT","ETHUSDT"]``."""
        value = self.sent(name)
        if value is None:
            return None
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(s, str) and _SYMBOL_RE.match(s) for s in items)
        ):
            raise errors.illegal_chars(name, '^\\[("[A-Z0-9-_.]{1,20}"(,)?)+\\]$')
        return items

    def one_symbol_or_many(self) -> list[str] | None:
        """``symbol`` or ``symbols`` (both at once is ``-1128``); ``None`` means all."""
        single = self.symbol(required=False)
        many = self.symbols()
        if single is not None and many is not None:
            raise errors.BinanceError(
                400,
                errors.BAD_COMBINATION,
                "Combination of optional parameters invalid: send 'symbol' or 'symbols', not both.",
            )
        if single is not None:
            return [single]
        return many
