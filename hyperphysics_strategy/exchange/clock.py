"""Clocks and the mapping between data time and served (exchange) time.

Two time axes exist:

* **data time**: the timestamps in the candle files;
* **served time**: the timestamps the simulator puts in its responses.

In *historical* mode both are the same and the whole data set is visible. In
*replay* mode the data is shifted (and with ``speed`` k compressed) so that data time
``replay_start`` maps to the wall clock when the simulator started; candles become
visible as the wall clock moves on::

    served(d) = S0 + (d - D0) / k          D0 = replay_start (aligned to the data timeframe)
                                           S0 = start time floored to the served interval

A data timeframe ``T`` is therefore served as the interval ``T / k``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

IntOrArray = TypeVar("IntOrArray", int, np.ndarray)


class Clock(Protocol):
    """Source of the current wall-clock time, injectable for tests."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to (for tests and scripted runs)."""

    def __init__(self, now_ms: int) -> None:
        self._now = int(now_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The time last set."""
        with self._lock:
            return self._now

    def set(self, now_ms: int) -> None:
        """Jump to ``now_ms``."""
        with self._lock:
            self._now = int(now_ms)

    def advance(self, ms: int) -> None:
        """Move forward by ``ms`` milliseconds."""
        with self._lock:
            self._now += int(ms)


class TimeMap(Protocol):
    """How data time relates to served time, and how much of it is visible now."""

    speed: float

    def served_duration(self, data_timeframe_ms: int) -> int:
        """Length in served ms of a data candle of ``data_timeframe_ms``."""
        ...

    def to_served(self, data_ms: IntOrArray) -> IntOrArray:
        """Served timestamp(s) of data timestamp(s) on the data timeframe grid."""
        ...

    def visible_until(self) -> int:
        """Served time up to which data is revealed (the market's "now")."""
        ...


class HistoricalTimeMap:
    """Identity mapping; everything up to ``data_end_ms`` is visible."""

    speed = 1.0

    def __init__(self, data_end_ms: int) -> None:
        self.data_end_ms = int(data_end_ms)

    def served_duration(self, data_timeframe_ms: int) -> int:
        """Candles keep their length."""
        return data_timeframe_ms

    def to_served(self, data_ms: IntOrArray) -> IntOrArray:
        """Timestamps are served unchanged."""
        return data_ms

    def visible_until(self) -> int:
        """The end of the data."""
        return self.data_end_ms


class ReplayTimeMap:
    """Live replay: data time ``replay_start_ms`` maps to the clock's time at creation.

    ``base_timeframe_ms / speed`` must be a whole number of milliseconds, at least one
    second. When the wall clock passes the end of the data, time stops advancing and a
    warning is logged once.
    """

    def __init__(
        self,
        clock: Clock,
        base_timeframe_ms: int,
        speed: float,
        replay_start_ms: int,
        data_end_ms: int,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        served = base_timeframe_ms / speed
        if abs(served - round(served)) > 1e-6 or round(served) < 1000:
            raise ValueError(
                f"speed {speed} does not divide the data timeframe {base_timeframe_ms} ms "
                "into a whole number of milliseconds of at least one second"
            )
        self.clock = clock
        self.speed = float(speed)
        self.base_timeframe_ms = int(base_timeframe_ms)
        self.served_base_ms = int(round(served))
        self.origin_data_ms = int(replay_start_ms) // base_timeframe_ms * base_timeframe_ms
        self.origin_served_ms = clock.now_ms() // self.served_base_ms * self.served_base_ms
        self.data_end_ms = int(data_end_ms)
        self._served_end_ms = int(self.to_served(self.data_end_ms))
        self._warned = False
        self._lock = threading.Lock()

    def served_duration(self, data_timeframe_ms: int) -> int:
        """A data candle of ``T`` ms lasts ``T / speed`` served ms."""
        return int(round(data_timeframe_ms / self.speed))

    def to_served(self, data_ms: IntOrArray) -> IntOrArray:
        """``S0 + (d - D0) / speed``, exact for timestamps on the data timeframe grid.

        Works on ints and on int64 numpy arrays.
        """
        offset = data_ms - self.origin_data_ms
        whole, rest = divmod(offset, self.base_timeframe_ms)
        return (
            self.origin_served_ms
            + whole * self.served_base_ms
            + rest * self.served_base_ms // self.base_timeframe_ms
        )

    def to_data(self, served_ms: int) -> int:
        """Data time shown at served time ``served_ms`` (inverse of :meth:`to_served`)."""
        offset = int(served_ms) - self.origin_served_ms
        whole, rest = divmod(offset, self.served_base_ms)
        return (
            self.origin_data_ms
            + whole * self.base_timeframe_ms
            + rest * self.base_timeframe_ms // self.served_base_ms
        )

    @property
    def served_end_ms(self) -> int:
        """Served time at which the data runs out."""
        return self._served_end_ms

    def visible_until(self) -> int:
        """The clock's time, frozen at the end of the data."""
        now = self.clock.now_ms()
        if now < self._served_end_ms:
            return now
        with self._lock:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "replay reached the end of the data (data time %d ms): the market is "
                    "frozen from now on",
                    self.data_end_ms,
                )
        return self._served_end_ms

    @property
    def exhausted(self) -> bool:
        """True once the wall clock has passed the end of the data."""
        return self.clock.now_ms() >= self._served_end_ms
