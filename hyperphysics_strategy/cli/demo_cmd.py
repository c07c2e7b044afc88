"""``hyperphysics demo``: backtest the strategy and ensemble on the bundled data, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from hyperphysics_strategy.demo import DEMO_PAIRS, DEMO_TIMERANGE

from .app import app, console


@app.command("demo", short_help="Backtest the strategy on the bundled candles, offline.")
def demo(
    userdir: Path = typer.Option(Path("user_data"), help="freqtrade user data directory"),
    timerange: str = typer.Option(DEMO_TIMERANGE, help="backtest timerange (YYYYMMDD-YYYYMMDD)"),
    freqaimodel: str = typer.Option("HyperPhysicsEnsemble", help="FreqAI model class"),
) -> None:
    """Start the exchange simulator, run `freqtrade backtesting` with HyperPhysicsStrategy
    and the FreqAI ensemble over the bundled candles, print freqtrade's tables, stop."""
    from hyperphysics_strategy.exchange import ExchangeSimulator
    from hyperphysics_strategy.runner import (
        config_paths,
        freqtrade_command,
        prepare_user_dir,
        run_streaming,
        write_simulator_config,
    )

    userdir = userdir.resolve()
    datadir = prepare_user_dir(userdir)
    console.print(f"[bold]HyperPhysics demo[/bold]: candles in {datadir}, timerange {timerange}")
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, DEMO_PAIRS)
        console.print(f"exchange simulator listening on {sim.url}")
        cmd = freqtrade_command(
            "backtesting",
            userdir,
            config_paths(userdir),
            "--strategy",
            "HyperPhysicsStrategy",
            "--freqaimodel",
            freqaimodel,
            "--timerange",
            timerange,
            "--cache",
            "none",
            "--export",
            "trades",
        )
        rc = run_streaming(cmd, userdir / "logs" / "demo-backtest.log")
    if rc != 0:
        console.print(f"[red]freqtrade backtesting exited with code {rc}[/red]")
        raise typer.Exit(rc)
    console.print("[green]demo finished; exchange simulator stopped[/green]")
