"""The ``hyperphysics`` Typer application; each command module registers on it."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

app = typer.Typer(
    name="hyperphysics",
    help="HyperPhysics strategy for freqtrade: set up a user dir, inspect hardware, "
    "run the local exchange simulator and the demo, train the expert ensemble.",
    no_args_is_help=True,
    add_completion=False,
    # plain click-style help: flags without typer's "<bool>" placeholders
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)


def config_option(help: str) -> Any:
    """The ``-c/--config`` option of the commands that read freqtrade config files: a
    list, merged the way freqtrade merges its ``-c`` files (a later one wins)."""
    return typer.Option(None, "--config", "-c", help=help)
