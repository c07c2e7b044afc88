"""``ExchangeSimulator``: loads a datadir, wires the feeds and serves them over HTTP."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import numpy as np

from .clock import Clock, HistoricalTimeMap, ReplayTimeMap, SystemClock, TimeMap
from .endpoints import MarketApi
from .feed import SymbolFeed
from .market_data import OhlcvFrame, PairData, load_datadir, ms_to_timeframe
from .markets import rules_for
from .orderbook_model import GenerativeOrderBook, OrderBookSource
from .server import BinanceHTTPServer, loopback_address

logger = logging.getLogger(__name__)

Mode = Literal["historical", "replay"]
#: Share of the data kept "in the future" when ``replay_start`` is not given.
DEFAULT_FUTURE_SHARE = 0.2


def _to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class ExchangeSimulator:
    """A local imitation of Binance's public spot REST API over a freqtrade datadir.

    ``mode="historical"`` serves the candles with their real timestamps;
    ``mode="replay"`` shifts them so that data time ``replay_start`` is "now" when
    :meth:`start` is called and reveals new candles as the clock advances, ``speed``
    times faster than the data's own pace. See docs/exchange-simulator.md.

    Keyword-only extras: ``clock`` (any object with ``now_ms()``, default the system
    clock), ``book_source`` (an :class:`OrderBookSource`, default
    :class:`GenerativeOrderBook` seeded with ``seed``) and ``pairs`` (load only these
    ``BASE/QUOTE`` pairs).
    """

    def __init__(
        self,
        datadir: Path,
        mode: str = "historical",
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        replay_start: datetime | None = None,
        seed: int = 0,
        *,
        clock: Clock | None = None,
        book_source: OrderBookSource | None = None,
        pairs: list[str] | None = None,
    ) -> None:
        if mode not in ("historical", "replay"):
            raise ValueError(f"mode must be 'historical' or 'replay', got {mode!r}")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if mode == "historical" and speed != 1.0:
            raise ValueError("speed only applies to mode='replay'")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        loopback_address(host)  # refuse non-loopback hosts before loading anything
        self.datadir = Path(datadir)
        self.mode: Mode = mode  # type: ignore[assignment]
        self.host = host
        self.requested_port = port
        self.speed = float(speed)
        self.replay_start = replay_start
        self.seed = int(seed)
        self.clock: Clock = clock or SystemClock()
        self.book_source: OrderBookSource = book_source or GenerativeOrderBook(seed=self.seed)
        self.data: dict[str, PairData] = load_datadir(self.datadir, pairs)
        self._replay_origin = self._replay_origin_ms() if mode == "replay" else None
        self.timemap: TimeMap | None = None
        self.feeds: dict[str, SymbolFeed] = {}
        self._server: BinanceHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- set-up
    def _base_timeframe(self) -> int:
        """Finest timeframe in the datadir (replay mode serves it, scaled by speed)."""
        return min(min(d.frames) for d in self.data.values())

    def _replay_bases(self) -> dict[str, OhlcvFrame]:
        """The replayed frame of each pair that has the finest timeframe."""
        tf = self._base_timeframe()
        return {s: d.frames[tf] for s, d in self.data.items() if tf in d.frames}

    def _replay_origin_ms(self) -> int:
        """Validated data time that maps to the start (``replay_start`` or the default)."""
        tf = self._base_timeframe()
        served = tf / self.speed
        if abs(served - round(served)) > 1e-6 or round(served) < 1000:
            raise ValueError(
                f"speed {self.speed} does not divide the data timeframe "
                f"{ms_to_timeframe(tf)} into a whole number of milliseconds of at least "
                "one second"
            )
        bases = self._replay_bases()
        start = min(int(f.open_time[0]) for f in bases.values())
        end = max(f.end_ms for f in bases.values())
        if self.replay_start is None:
            return start + int((end - start) // tf * (1 - DEFAULT_FUTURE_SHARE)) * tf
        origin = _to_ms(self.replay_start)
        if not start < origin < end:
            raise ValueError(
                f"replay_start {self.replay_start} is outside the data "
                f"({datetime.fromtimestamp(start / 1000, UTC)} - "
                f"{datetime.fromtimestamp(end / 1000, UTC)})"
            )
        return origin

    def _build(self) -> None:
        """Create the time map and one feed per symbol (at start-up time)."""
        if self.mode == "historical":
            end = max(d.finest.end_ms for d in self.data.values())
            timemap: TimeMap = HistoricalTimeMap(end)
            bases = {s: d.finest for s, d in self.data.items()}
        else:
            tf = self._base_timeframe()
            bases = self._replay_bases()
            dropped = sorted(set(self.data) - set(bases))
            if dropped:
                logger.warning(
                    "replay serves the %s timeframe; %s have no %s data and are left out",
                    ms_to_timeframe(tf),
                    dropped,
                    ms_to_timeframe(tf),
                )
            end = max(f.end_ms for f in bases.values())
            assert self._replay_origin is not None
            timemap = ReplayTimeMap(self.clock, tf, self.speed, self._replay_origin, end)
        self.timemap = timemap
        self.feeds = {}
        for symbol, base in bases.items():
            data = self.data[symbol]
            rules = rules_for(symbol, data.quote, float(np.median(data.finest.close)))
            self.feeds[symbol] = SymbolFeed(data, base, timemap, rules, self.seed)

    # ---------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Build the feeds and serve in a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._build()
        api = MarketApi(self.feeds, self.book_source, self.clock)
        self._server = BinanceHTTPServer(self.host, self.requested_port, api.routes())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"exchange-simulator-{self._server.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "exchange simulator (%s) serving %d pairs on %s", self.mode, len(self.feeds), self.url
        )
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --------------------------------------------------------- properties
    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def pairs(self) -> list[str]:
        """Served pairs as ``BASE/QUOTE`` (all loaded pairs before :meth:`start`)."""
        symbols = self.feeds or self.data
        return sorted(self.data[s].pair for s in symbols)

    @property
    def requests_served(self) -> int:
        """Requests answered so far."""
        return self._server.requests_served if self._server is not None else 0

    def served_interval(self) -> str:
        """The natively served candle interval of the finest data (``5m`` data at
        speed 5 in replay mode -> ``1m``)."""
        tf = self._base_timeframe()
        if self.mode == "replay":
            return ms_to_timeframe(int(round(tf / self.speed)))
        return ms_to_timeframe(tf)

    def data_time(self) -> datetime | None:
        """The data timestamp the market is at now (replay), or the data's end."""
        timemap = self.timemap
        if timemap is None:
            return None
        if isinstance(timemap, ReplayTimeMap):
            ms = timemap.to_data(timemap.visible_until())
        else:
            ms = timemap.visible_until()
        return datetime.fromtimestamp(ms / 1000, UTC)
