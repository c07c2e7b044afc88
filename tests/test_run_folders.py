"""Backtests and dry/live runs keep their FreqAI models apart; a dry-run against the
simulator keeps its candles apart; a purge spares model folders with cached predictions;
``hyperphysics exchange --pace``. (The whole chain, for real: tests/test_e2e_dry_run.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from freqtrade.enums import RunMode
from typer.testing import CliRunner

from hyperphysics_strategy.cli.app import app
from hyperphysics_strategy.exchange import freqtrade_exchange_config
from hyperphysics_strategy.freqai.compat.purge_old_models import install_purge_guard
from hyperphysics_strategy.freqai.run_folders import SIMULATOR_MARKER, separate_run_folders

SIMULATOR = freqtrade_exchange_config("http://127.0.0.1:8765", ["BTC/USDT"])
BINANCE = {"name": "binance", "pair_whitelist": ["BTC/USDT"]}


def config(tmp_path: Path, runmode: RunMode, exchange: dict, **extra) -> dict:
    datadir = tmp_path / "data" / "binance"
    datadir.mkdir(parents=True, exist_ok=True)
    (datadir / "BTC_USDT-5m.feather").write_bytes(b"the user's candles")
    return {
        "runmode": runmode,
        "datadir": datadir,
        "exchange": exchange,
        "freqai": {"identifier": "hp"},
        **extra,
    }


@pytest.mark.parametrize(
    ("runmode", "exchange", "extra", "identifier"),
    [
        (RunMode.BACKTEST, SIMULATOR, {}, "hp"),
        (RunMode.HYPEROPT, BINANCE, {}, "hp"),
        (RunMode.DRY_RUN, BINANCE, {}, "hp-live"),
        (RunMode.LIVE, BINANCE, {}, "hp-live"),
        (RunMode.DRY_RUN, SIMULATOR, {}, "hp-simulator"),
        (RunMode.BACKTEST, BINANCE, {"freqai_backtest_live_models": True}, "hp-live"),
    ],
)
def test_each_mode_has_its_own_model_folder(tmp_path, runmode, exchange, extra, identifier):
    conf = config(tmp_path, runmode, exchange, **extra)
    separate_run_folders(conf)
    separate_run_folders(conf)  # idempotent
    assert conf["freqai"]["identifier"] == identifier


def test_a_simulated_dry_run_reads_and_writes_candles_in_a_folder_of_its_own(tmp_path):
    conf = config(tmp_path, RunMode.DRY_RUN, SIMULATOR)
    own = tmp_path / "data" / "binance-simulator"
    own.mkdir()
    (own / SIMULATOR_MARKER).write_text("")
    (own / "BTC_USDT-1m.feather").write_bytes(b"an earlier replay")
    separate_run_folders(conf)
    assert conf["datadir"] == own
    assert sorted(p.name for p in own.iterdir()) == [SIMULATOR_MARKER]  # emptied
    assert (tmp_path / "data" / "binance" / "BTC_USDT-5m.feather").read_bytes() == (
        b"the user's candles"
    )
    # a dry-run against the real exchange downloads where freqtrade says
    real = config(tmp_path / "real", RunMode.DRY_RUN, BINANCE)
    separate_run_folders(real)
    assert real["datadir"] == tmp_path / "real" / "data" / "binance"


def test_a_simulator_folder_the_package_did_not_write_is_refused(tmp_path):
    conf = config(tmp_path, RunMode.DRY_RUN, SIMULATOR)
    own = tmp_path / "data" / "binance-simulator"
    own.mkdir()
    (own / "mine.feather").write_bytes(b"keep me")
    with pytest.raises(
        ValueError, match=f"binance-simulator holds files but no {SIMULATOR_MARKER}"
    ):
        separate_run_folders(conf)
    assert (own / "mine.feather").read_bytes() == b"keep me"


def test_purge_spares_model_folders_whose_predictions_are_cached(tmp_path):
    stamps = [1614556800 + day * 86400 for day in range(4)]
    for stamp in stamps:
        (tmp_path / f"sub-train-BTC_{stamp}").mkdir()
    predictions = tmp_path / "backtesting_predictions"
    predictions.mkdir()
    (predictions / f"cb_btc_{stamps[1]}_prediction.feather").write_bytes(b"")
    drawer = SimpleNamespace(full_path=tmp_path, freqai_info={"purge_old_models": 2})
    install_purge_guard(drawer)
    drawer.purge_old_models()
    left = sorted(p.name for p in tmp_path.glob("sub-train-*"))
    # FreqAI's own purge deletes the two oldest; the one with cached predictions stays
    assert left == [f"sub-train-BTC_{s}" for s in stamps[1:]]


def test_pace_sets_the_speed_and_freqtrades_timeframe():
    runner = CliRunner()
    done = runner.invoke(
        app, ["exchange", "--demo", "--mode", "replay", "--pace", "1m", "--print-config"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["timeframe"] == "1m"
    for args, message in [
        (["--pace", "1m"], "only applies to --mode replay"),
        (["--mode", "replay", "--pace", "1m", "--speed", "5"], "not both"),
        (["--mode", "replay", "--pace", "7m"], "not a multiple of 7m"),
        (["--port", "1", "--wait", "0.5"], "nothing answered on http://127.0.0.1:1"),
    ]:
        done = runner.invoke(app, ["exchange", "--demo", "--print-config", *args])
        assert done.exit_code in (1, 2) and message in done.output, (args, done.output)
