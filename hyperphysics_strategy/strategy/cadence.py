"""How often a per-pair line is logged live: once per pair, then at most once per interval.

Live and dry-run call ``populate_entry_trend`` on every new candle of every pair; a line that
explains the strategy's state (why it is flat, what it may trade) should reach the log the
first time and then hourly, not every five minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class Cadence:
    """``due(key)`` is true on the first call for ``key`` and then once per ``interval``
    seconds of ``clock`` (monotonic by default, so a wall-clock jump neither silences nor
    floods the log)."""

    def __init__(self, interval: float = 3600.0, clock: Callable[[], float] = time.monotonic):
        if not interval >= 0:
            raise ValueError(f"a cadence's interval is seconds >= 0, got {interval!r}")
        self.interval = interval
        self.clock = clock
        self._last: dict[Hashable, float] = {}

    def due(self, key: Hashable) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        return True

    def reset(self, key: Hashable) -> None:
        """Make the next ``due(key)`` true (the state the line describes has changed)."""
        self._last.pop(key, None)
