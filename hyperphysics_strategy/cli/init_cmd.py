"""``hyperphysics init``: write freqtrade stubs and an example config into a user dir."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, Action, write_user_dir

from .app import app, console, err_console

_STYLE = {
    Action.CREATED: "green",
    Action.UPDATED: "cyan",
    Action.UNCHANGED: "dim",
    Action.KEPT: "yellow",
    Action.OVERWRITTEN: "magenta",
}


@app.command("init", short_help="Write freqtrade stubs and an example config.")
def init(
    userdir: Path = typer.Argument(Path("user_data"), help="freqtrade user data directory"),
    force: bool = typer.Option(False, "--force", help="overwrite files changed by the user"),
) -> None:
    """Write strategy and FreqAI model stubs plus an example config into USERDIR."""
    try:
        results = write_user_dir(userdir, force=force)
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]hyperphysics init: {exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"hyperphysics init {userdir}")
    table.add_column("file")
    table.add_column("action")
    for r in results:
        table.add_row(str(r.path), f"[{_STYLE[r.action]}]{r.action.value}[/]")
    console.print(table)
    console.print(
        f"Run: freqtrade backtesting --userdir {userdir} -c {userdir / EXAMPLE_CONFIG} "
        "--strategy HyperPhysicsStrategy --freqaimodel HyperPhysicsEnsemble\n"
        "(with exchange access; offline, add the -c fragment of `hyperphysics exchange "
        "--print-config`: the README's block)"
    )
