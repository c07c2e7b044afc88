"""``hyperphysics demo``: backtest the strategy and ensemble on the bundled data, offline,
count the exits at each barrier, then chart one pair with freqtrade's ``plot-dataframe``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import typer

from hyperphysics_strategy.demo import DEMO_BACKTEST_PAIRS, DEMO_PAIRS, DEMO_TIMERANGE

from .app import app, config_option, console


def _pairs(value: str) -> list[str]:
    pairs = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in DEMO_PAIRS]
    if not pairs or unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown) or 'no pair'}: the bundled data has {', '.join(DEMO_PAIRS)}",
            param_hint="--pairs",
        )
    return pairs


def plot_page(userdir: Path, pair: str, since: float) -> Path:
    """The HTML file that ``freqtrade plot-dataframe`` wrote for ``pair`` after ``since``
    (freqtrade names it ``plot/freqtrade-plot-<pair file name>-<timeframe>.html``)."""
    from freqtrade.misc import pair_to_filename

    pages = [
        page
        for page in (userdir / "plot").glob(f"freqtrade-plot-{pair_to_filename(pair)}-*.html")
        if page.stat().st_mtime >= since
    ]
    if not pages:
        raise FileNotFoundError(f"freqtrade plot-dataframe wrote no chart for {pair} in {userdir}")
    return max(pages, key=lambda page: page.stat().st_mtime)


def plot_dataframe(
    userdir: Path, configs: Sequence[Path], common: Sequence[str], pair: str
) -> tuple[int, Path | None]:
    """Run ``freqtrade plot-dataframe`` for ``pair`` with the backtest's arguments and its
    trades; return its exit code and the chart's path (None when there is none)."""
    from hyperphysics_strategy.runner import freqtrade_command, run_streaming

    since = time.time() - 1  # file systems with coarse timestamps
    cmd = freqtrade_command("plot-dataframe", userdir, configs, *common, "--pairs", pair)
    rc = run_streaming(cmd, userdir / "logs" / "demo-plot.log")
    if rc != 0:
        return rc, None
    try:
        return rc, plot_page(userdir, pair, since)
    except FileNotFoundError:
        return rc, None


NOT_EVIDENCE = (
    "Not evidence of edge. Each FreqAI window is predicted by a model trained only on the "
    "days before it (out of sample for the model), but the strategy's defaults were chosen "
    "by a walk-forward on the data before 2021-04-01 (a window before that date is in sample "
    "for them), and the demo's default window was picked because the strategy trades there; "
    "it is out of sample for nothing else. The out-of-sample evaluation, which finds no "
    "edge after fees, is in docs/results.md. The demo's fragment sets "
    "hyperphysics.require_edge false (the log's 'edge gate' lines give the verdict): a "
    "backtest trades the rule regardless, and a dry-run with these configs would too, "
    "without a champion from hyperphysics search."
)


def print_exits(results_dir: Path) -> None:
    """Print the backtest's trades per barrier (``barrier_exits``): a table, then one line."""
    from rich.table import Table

    from .barrier_exits import exit_summary, load_backtest_exits

    trades, kinds = load_backtest_exits(results_dir)
    summary = exit_summary(trades, kinds)
    table = Table(title=f"Exits at each barrier ({len(trades)} trades)")
    table.add_column("exit", no_wrap=True)
    table.add_column("trades", justify="right")
    table.add_column("mean profit %", justify="right")
    table.add_column("freqtrade exit reasons")
    for row in summary.itertuples():
        mean = "-" if row.trades == 0 else f"{row.mean_profit_pct:+.2f}"
        table.add_row(row.exit, str(row.trades), mean, row.reasons)
    console.print(table)
    counts = ", ".join(f"{row.kind} {row.trades}" for row in summary.itertuples())
    console.print(f"barrier exits: {counts}", soft_wrap=True)


@app.command("demo", short_help="Backtest the strategy on the bundled candles, offline; chart it.")
def demo(
    userdir: Path = typer.Option(Path("user_data"), help="freqtrade user data directory"),
    timerange: str = typer.Option(DEMO_TIMERANGE, help="backtest timerange (YYYYMMDD-YYYYMMDD)"),
    freqaimodel: str = typer.Option("HyperPhysicsEnsemble", help="FreqAI model class"),
    pairs: str = typer.Option(
        ",".join(DEMO_BACKTEST_PAIRS),
        help=f"comma-separated pairs to backtest, from the bundled data ({', '.join(DEMO_PAIRS)})",
    ),
    plot_pair: str | None = typer.Option(
        None, help="pair to chart with plot-dataframe (default: the first pair)"
    ),
    config: list[Path] | None = config_option(
        "extra config file(s) merged after the demo's own, as freqtrade merges -c files"
    ),
) -> None:
    """Start the exchange simulator, run `freqtrade backtesting` with HyperPhysicsStrategy
    and the FreqAI ensemble over the bundled candles, print freqtrade's tables and the
    count of exits at each barrier, then write freqtrade's `plot-dataframe` chart of one
    pair (the strategy's plot_config: VaR bands, class probabilities, order-book panel,
    the backtest's trades) and print its path."""
    from hyperphysics_strategy.demo import demo_config_path
    from hyperphysics_strategy.exchange import ExchangeSimulator
    from hyperphysics_strategy.runner import (
        config_paths,
        freqtrade_command,
        prepare_user_dir,
        run_streaming,
        write_simulator_config,
    )

    chosen = _pairs(pairs)
    plot_pair = plot_pair or chosen[0]
    if plot_pair not in chosen:
        raise typer.BadParameter(
            f"{plot_pair} is not backtested: {pairs}", param_hint="--plot-pair"
        )
    for path in config or []:
        if not path.is_file():
            raise typer.BadParameter(f"{path} does not exist", param_hint="--config")
    userdir = userdir.resolve()
    datadir = prepare_user_dir(userdir)
    console.print(f"[bold]HyperPhysics demo[/bold]: candles in {datadir}, timerange {timerange}")
    common = ["--strategy", "HyperPhysicsStrategy", "--freqaimodel", freqaimodel,
              "--timerange", timerange]  # fmt: skip
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, chosen)
        console.print(f"exchange simulator listening on {sim.url}")
        extra = (p.resolve() for p in config or [])
        configs = config_paths(userdir, demo_config_path(), *extra)
        # "signals" exports the trades and their signal candles (barrier_exits reads both)
        cmd = freqtrade_command(
            "backtesting", userdir, configs, *common, "--cache", "none", "--export", "signals"
        )
        rc = run_streaming(cmd, userdir / "logs" / "demo-backtest.log")
        if rc != 0:
            console.print(f"[red]freqtrade backtesting exited with code {rc}[/red]")
            raise typer.Exit(rc)
        print_exits(userdir / "backtest_results")
        console.print(NOT_EVIDENCE)
        # FreqAI reuses the backtest's saved predictions; the backtest's trades are drawn.
        console.print(f"[bold]charting {plot_pair}[/bold] with freqtrade plot-dataframe")
        rc, page = plot_dataframe(userdir, configs, common, plot_pair)
    if rc != 0:
        console.print(f"[red]freqtrade plot-dataframe exited with code {rc}[/red]")
        raise typer.Exit(rc)
    if page is None:
        console.print(f"[red]freqtrade plot-dataframe wrote no chart for {plot_pair}[/red]")
        raise typer.Exit(1)
    console.print("[green]demo finished; exchange simulator stopped[/green]")
    console.print(f"chart of {plot_pair} (open it in a browser): {page}", soft_wrap=True)
