"""``hyperphysics exchange``: run the local Binance simulator or print its config."""

from __future__ import annotations

import json
import logging
import time
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


@app.command("exchange", short_help="Serve Binance's public REST API from local candles.")
def exchange(
    datadir: Path = typer.Option(
        Path("user_data/data/binance"),
        help="freqtrade data folder with <BASE>_<QUOTE>-<tf>.feather candle files.",
    ),
    mode: str = typer.Option(
        "historical",
        help="historical: real timestamps. replay: data shifted so it unfolds live.",
    ),
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind."),
    port: int = typer.Option(8765, help="Port to bind (0 = any free port)."),
    speed: float = typer.Option(
        1.0, help="Replay speed-up: 5m data at speed 5 is served as 1m candles."
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
        fragment = freqtrade_config_fragment(f"http://{bracketed}:{port}", whitelist)
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
        f"[cyan]{sim.url}[/cyan] serving {', '.join(sim.pairs)}"
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
