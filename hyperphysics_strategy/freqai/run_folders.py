"""Folders of their own for each kind of run: models per mode, candles per exchange.

FreqAI keeps every model of an ``identifier`` in ``user_data/models/<identifier>`` and
``purge_old_models`` (keep the newest N per pair) deletes whatever else is there; a
backtest and a dry/live run under one identifier therefore delete each other's model
folders, and a dry-run's first predictions come from a model the backtest trained years
earlier. In dry/live runs FreqAI's start-up download (``download_all_data_for_training``)
appends whatever the exchange serves to the candle files of ``datadir``: against the
exchange simulator, replayed candles with today's dates land in the user's real files.

:func:`separate_run_folders` runs once, when a HyperPhysics FreqAI model is created (before
FreqAI reads the config, and before the strategy's start-up download):

* dry-run and live use ``<identifier>-live``, or ``<identifier>-simulator`` when the
  exchange is the package's simulator; backtests, hyperopt, plots and the analysis
  commands keep ``<identifier>``, unless ``--freqai-backtest-live-models`` asks for the
  dry/live run's models;
* a dry/live run against the simulator reads and downloads its candles in
  ``<datadir>-simulator`` (emptied at each start: each replay maps the data onto a new
  time axis), never in the folder the simulator serves.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

LIVE_SUFFIX = "-live"
SIMULATOR_SUFFIX = "-simulator"
#: Written into the simulator's candle folder: only a folder holding it is ever emptied.
SIMULATOR_MARKER = "HYPERPHYSICS_SIMULATOR_CANDLES.txt"
_MARKER_TEXT = (
    "Candles a dry-run downloaded from the hyperphysics exchange simulator (replayed, with\n"
    "shifted dates). The package empties this folder each time such a dry-run starts.\n"
)
_LIVE_MODES = ("dry_run", "live")


def _runmode(config: dict[str, Any]) -> str:
    mode = config.get("runmode")
    return str(getattr(mode, "value", mode) or "")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uses_simulator(config: dict[str, Any]) -> bool:
    """True when every API URL of the exchange section is on a loopback address (the
    config fragment of ``hyperphysics exchange --print-config``)."""
    urls = config.get("exchange", {}).get("ccxt_config", {}).get("urls", {}).get("api", {})
    values = [urls] if isinstance(urls, str) else list(urls.values())
    return bool(values) and all(isinstance(v, str) and _loopback(v) for v in values)


def run_identifier(config: dict[str, Any]) -> str:
    """The identifier whose model folder this run uses (see the module's docstring)."""
    freqai = config.get("freqai", {})
    base = str(freqai.get("hyperphysics_base_identifier", freqai.get("identifier", "")))
    live = _runmode(config) in _LIVE_MODES or bool(config.get("freqai_backtest_live_models"))
    if not live:
        return base
    return base + (SIMULATOR_SUFFIX if uses_simulator(config) else LIVE_SUFFIX)


def simulator_datadir(datadir: Path) -> Path:
    """The candle folder of dry-runs against the simulator, next to ``datadir``."""
    datadir = Path(datadir)
    if datadir.name.endswith(SIMULATOR_SUFFIX):
        return datadir
    return datadir.with_name(datadir.name + SIMULATOR_SUFFIX)


def _empty_simulator_datadir(folder: Path) -> None:
    """Create or empty ``folder``; refuse one that holds files the package did not write."""
    if folder.exists() and any(folder.iterdir()) and not (folder / SIMULATOR_MARKER).is_file():
        raise ValueError(
            f"{folder} holds files but no {SIMULATOR_MARKER}: it is not the folder this "
            "package keeps for dry-runs against the exchange simulator, and it empties that "
            "folder at each start. Move those files elsewhere, or pass --datadir with "
            "another folder."
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SIMULATOR_MARKER).write_text(_MARKER_TEXT)  # first: a kill below keeps it
    for entry in folder.iterdir():
        if entry.name != SIMULATOR_MARKER:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def separate_run_folders(config: dict[str, Any]) -> None:
    """Point ``config`` (in place) at this run's own model folder and, for dry/live runs
    against the simulator, its own candle folder; log what changed. Idempotent."""
    freqai = config.get("freqai")
    if not isinstance(freqai, dict) or "identifier" not in freqai:
        return
    freqai.setdefault("hyperphysics_base_identifier", str(freqai["identifier"]))
    identifier = run_identifier(config)
    if identifier != freqai["identifier"]:
        logger.info(
            "HyperPhysics: this %s run keeps its FreqAI models in models/%s (identifier %r "
            "+ %r), apart from backtests' models/%s",
            _runmode(config) or "backtest",
            identifier,
            freqai["hyperphysics_base_identifier"],
            identifier[len(freqai["hyperphysics_base_identifier"]) :],
            freqai["hyperphysics_base_identifier"],
        )
        freqai["identifier"] = identifier
    datadir = config.get("datadir")
    if _runmode(config) in _LIVE_MODES and uses_simulator(config) and datadir is not None:
        own = simulator_datadir(Path(datadir))
        if own != Path(datadir):
            _empty_simulator_datadir(own)
            logger.info(
                "HyperPhysics: dry-run against the exchange simulator: FreqAI downloads and "
                "reads candles in %s, not in %s",
                own,
                datadir,
            )
            config["datadir"] = own
