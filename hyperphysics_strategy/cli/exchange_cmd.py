"""``hyperphysics exchange``: run the local Binance simulator or print its config."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.live import Live
from rich.text import Text

from .app import app, console, err_console

if TYPE_CHECKING:
    from ..exchange import ExchangeSimulator


def _parse_pairs(pairs: list[str] | None) -> list[str] | None:
    """``--pairs`` values, repeated and/or comma-separated, as ``BASE/QUOTE``."""
    if not pairs:
        return None
    result = [p.strip().upper() for item in pairs for p in item.split(",") if p.strip()]
    bad = [p for p in result if "/" not in p]
    if bad:
        raise typer.BadParameter(f"pairs must look like BTC/USDT, got {bad}", param_hint="--pairs")
    return result


def _parse_start(value: str | None) -> datetime | None:
    """``--replay-start`` as an aware UTC datetime."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"not an ISO date/time: {value!r}", param_hint="--replay-start"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _speed_for_pace(pace: str | None, speed: float, datadir: Path) -> float:
    """``--speed`` from ``--pace``: the finest timeframe in ``datadir`` over the pace."""
    if pace is None:
        return speed
    from ..exchange.market_data import discover_files, timeframe_to_ms

    if speed != 1.0:
        raise typer.BadParameter("give --pace or --speed, not both", param_hint="--pace")
    try:
        pace_ms = timeframe_to_ms(pace)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--pace") from exc
    frames = [tf for files in discover_files(datadir).values() for tf in files]
    if not frames:
        raise typer.BadParameter(f"{datadir} holds no candle files", param_hint="--datadir")
    finest = min(frames)
    if finest % pace_ms:
        raise typer.BadParameter(
            f"the data's finest timeframe is not a multiple of {pace}", param_hint="--pace"
        )
    return finest / pace_ms


def _wait_until_serving(url: str, seconds: float) -> None:
    """Poll ``GET /api/v3/ping`` until the simulator at ``url`` answers, or fail."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=2):
                return
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                err_console.print(
                    f"[bold red]hyperphysics exchange:[/bold red] nothing answered on {url} "
                    f"within {seconds:g} s: start the simulator first (same --host/--port).",
                    soft_wrap=True,
                )
                raise typer.Exit(1) from None
            time.sleep(0.5)


@app.command("exchange", short_help="Serve Binance's public REST API from local candles.")
def exchange(
    datadir: Path = typer.Option(
        Path("user_data/data/binance"),
        help="freqtrade data folder with <BASE>_<QUOTE>-<tf>.feather candle files "
        "(only read: dry-runs against the simulator download into <datadir>-simulator).",
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Serve the bundled candles (BTC, ETH, SOL, ADA /USDT, 5m + 1h, Jan-Apr 2021) "
        "instead of --datadir.",
    ),
    mode: str = typer.Option(
        "historical",
        help="historical: real timestamps. replay: data shifted so it unfolds live.",
    ),
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind."),
    port: int = typer.Option(8765, help="Port to bind (0 = any free port)."),
    speed: float = typer.Option(
        1.0,
        help="Replay speed-up: 5m data at speed 5 is served as 1m candles, one per "
        "wall-clock minute (speed 1: one 5m candle per five minutes).",
    ),
    pace: str | None = typer.Option(
        None,
        help="Replay: one candle of the finest data per this much wall-clock time, e.g. "
        "1m (5m data -> speed 5); --print-config then sets freqtrade's timeframe to it.",
    ),
    replay_start: str | None = typer.Option(
        None,
        help="Data time (ISO, UTC) that maps to now in replay mode "
        "(default: leave the last 20% of the data for the future).",
    ),
    print_config: bool = typer.Option(
        False,
        "--print-config",
        help='Print the freqtrade config fragment {"exchange": {...}} and exit.',
    ),
    wait: float = typer.Option(
        0.0,
        help="With --print-config: first wait up to this many seconds until a simulator "
        "answers on --host/--port.",
    ),
    books: Path | None = typer.Option(
        None,
        help="Replay recorded real L2 books from this file instead of generated ones "
        "(rescaled to the simulated price).",
    ),
    books_format: str = typer.Option(
        "recorded",
        help="Format of --books: bitmex (L2 CSV), binance (depth stream) or recorded "
        "(a parquet file of the strategy's recorder).",
    ),
    books_symbol: str | None = typer.Option(
        None, help="Symbol inside a BitMEX file (default XBTUSD)."
    ),
    books_cadence_ms: int = typer.Option(
        1000, help="Simulated milliseconds each recorded book is shown."
    ),
    pairs: list[str] | None = typer.Option(
        None,
        help="Pairs to serve / whitelist, e.g. BTC/USDT (repeat or comma-separate; "
        "default: every pair in the datadir).",
    ),
) -> None:
    """Serve Binance's public spot REST API from local candles (no network needed)."""
    from ..exchange import ExchangeSimulator, freqtrade_config_fragment
    from ..exchange.market_data import discover_pairs
    from ..exchange.server import loopback_address

    if mode not in ("historical", "replay"):
        raise typer.BadParameter("must be 'historical' or 'replay'", param_hint="--mode")
    if demo:
        from ..demo import demo_data_dir

        datadir = demo_data_dir()
    if pace is not None and mode != "replay":
        raise typer.BadParameter("only applies to --mode replay", param_hint="--pace")
    speed = _speed_for_pace(pace, speed, datadir)
    wanted = _parse_pairs(pairs)
    try:
        loopback_address(host)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from exc

    if print_config:
        whitelist = wanted if wanted is not None else discover_pairs(datadir)
        if not whitelist:
            # merged as a later -c, an empty pair_whitelist would empty the user's own
            why = (
                "does not exist"
                if not datadir.is_dir()
                else "holds no spot candle files (<BASE>_<QUOTE>-<timeframe>.feather)"
            )
            err_console.print(
                f"[bold red]hyperphysics exchange:[/bold red] the data folder {datadir} {why}, "
                "so the pair whitelist would be empty. Download candles first (freqtrade "
                "download-data), point --datadir at them, or name the pairs with --pairs.",
                soft_wrap=True,
                highlight=False,
            )
            raise typer.Exit(2)
        bracketed = f"[{host}]" if ":" in host else host
        url = f"http://{bracketed}:{port}"
        if wait > 0:
            _wait_until_serving(url, wait)
        fragment = freqtrade_config_fragment(url, whitelist)
        if pace is not None:  # freqtrade's candles are the served ones
            fragment["timeframe"] = pace
        typer.echo(json.dumps(fragment, indent=2))
        return

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    book_source = None
    if books is not None:
        from ..exchange.recorded_books import RecordedOrderBook

        try:
            book_source = RecordedOrderBook.from_file(
                books, books_format, books_symbol, cadence_ms=books_cadence_ms
            )
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--books") from exc
        console.print(f"replaying {len(book_source)} recorded books from {books}")
    try:
        sim = ExchangeSimulator(
            datadir,
            mode=mode,
            host=host,
            port=port,
            speed=speed,
            replay_start=_parse_start(replay_start),
            pairs=wanted,
            book_source=book_source,
        )
        sim.start()
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]cannot start the exchange simulator:[/red] {exc}")
        raise typer.Exit(1) from exc

    console.print(
        f"[bold]Binance simulator[/bold] ({mode}, {sim.served_interval()} candles) on "
        f"[cyan]{sim.url}[/cyan] serving {', '.join(sim.pairs)} from {datadir}"
    )
    if mode == "replay":
        console.print(
            f"replay pace: a new {sim.served_interval()} candle every "
            f"{sim.served_interval()} of wall-clock time (speed {sim.speed:g}); freqtrade's "
            f"timeframe should be {sim.served_interval()}"
        )
    console.print(
        "freqtrade config: run with [bold]--print-config[/bold] (same --host/--port) "
        "for the exchange section. Ctrl-C stops."
    )
    try:
        with Live(_status(sim), console=console, refresh_per_second=2, transient=True) as live:
            while True:
                time.sleep(0.5)
                live.update(_status(sim))
    except KeyboardInterrupt:
        pass
    finally:
        served = sim.requests_served
        sim.stop()
    console.print(f"stopped after {served} requests")


def _status(sim: ExchangeSimulator) -> Text:
    """One status line: data time, wall time and request count."""
    data_time = sim.data_time()
    shown = data_time.strftime("%Y-%m-%d %H:%M:%S") if data_time else "-"
    wall = datetime.now(UTC).strftime("%H:%M:%S")
    return Text.assemble(
        ("● ", "green"),
        f"{sim.mode} | data time {shown} UTC | wall {wall} UTC | "
        f"{sim.requests_served} requests | {sim.url}",
    )
