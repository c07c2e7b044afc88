"""Run the real freqtrade command line against the local exchange simulator.

Used by ``hyperphysics demo`` and by the end-to-end tests: prepare a user dir (stubs,
config, candles), start the simulator, write the config fragment that points freqtrade
at it, run ``python -m freqtrade ...`` as a subprocess, stop the simulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_config_fragment
from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, write_user_dir

SIMULATOR_CONFIG = "exchange-simulator.json"


def prepare_user_dir(userdir: Path, candles: Path | None = None) -> Path:
    """Write stubs and the example config, copy candles into ``data/binance``; return datadir."""
    userdir = Path(userdir).resolve()
    write_user_dir(userdir)
    datadir = userdir / "data" / "binance"
    datadir.mkdir(parents=True, exist_ok=True)
    source = Path(candles) if candles is not None else demo_data_dir()
    for file in sorted(source.glob("*.feather")):
        target = datadir / file.name
        if not target.exists() or target.stat().st_size != file.stat().st_size:
            shutil.copyfile(file, target)
    return datadir


def write_simulator_config(
    userdir: Path, simulator: ExchangeSimulator, pairs: Sequence[str]
) -> Path:
    """Write the config fragment pointing freqtrade at ``simulator``; return its path."""
    path = Path(userdir) / SIMULATOR_CONFIG
    fragment = freqtrade_config_fragment(simulator.url, list(pairs))
    path.write_text(json.dumps(fragment, indent=2) + "\n")
    return path


def freqtrade_command(
    subcommand: str, userdir: Path, configs: Sequence[Path], *args: str
) -> list[str]:
    """``python -m freqtrade SUBCOMMAND --userdir U -c A -c B ...`` with this interpreter."""
    cmd = [sys.executable, "-m", "freqtrade", subcommand, "--userdir", str(userdir)]
    for config in configs:
        cmd += ["-c", str(config)]
    return cmd + list(args)


def run_streaming(cmd: Sequence[str], log_file: Path | None = None, echo: bool = True) -> int:
    """Run ``cmd``, copying its combined output to the terminal and to ``log_file``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(log_file, "w") if log_file else None  # noqa: SIM115 (closed below)
    try:
        with subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if echo:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                if log:
                    log.write(line)
            return proc.wait()
    finally:
        if log:
            log.close()


def config_paths(userdir: Path, *extra: Path) -> list[Path]:
    userdir = Path(userdir)
    return [userdir / EXAMPLE_CONFIG, userdir / SIMULATOR_CONFIG, *extra]
