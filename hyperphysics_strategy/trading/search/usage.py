"""How busy the round scheduler's lanes were: the share of lane-seconds its jobs filled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def busy_fraction(records: Iterable[Any], lanes: int, since: float, until: float) -> float:
    """Job-seconds of ``records`` (the scheduler's ``JobRecord``: ``started``, ``finished``,
    ``time.perf_counter()`` seconds) inside ``[since, until]``, over ``lanes`` x that span."""
    span = until - since
    if span <= 0 or lanes < 1:
        return 0.0
    filled = sum(max(0.0, min(r.finished, until) - max(r.started, since)) for r in records)
    return min(1.0, filled / (lanes * span))
