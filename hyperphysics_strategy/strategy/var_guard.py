"""A protection that pauses entries when realised losses breach VaR too often.

A closed trade *breaches* when its realised loss exceeds the one-day 99% VaR recorded at
its entry. A correct 99% VaR is breached by about one trade in a hundred; several
breaches within a short lookback mean the risk model understates the market, and new
entries pause until the lookback has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ClosedTrade:
    close_date: datetime
    close_profit: float  # ratio, negative for a loss
    var_1d: float | None  # one-day 99% VaR at entry, positive fraction


def count_breaches(trades: Iterable[ClosedTrade], now: datetime, lookback: timedelta) -> int:
    start = now - lookback
    return sum(
        1
        for t in trades
        if t.var_1d is not None
        and t.close_date is not None
        and t.close_date >= start
        and -t.close_profit > t.var_1d
    )


def should_pause(
    trades: Iterable[ClosedTrade], now: datetime, lookback: timedelta, max_breaches: int
) -> bool:
    return count_breaches(trades, now, lookback) >= max_breaches
