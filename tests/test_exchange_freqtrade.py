"""freqtrade loads the simulator's markets; ``hyperphysics exchange --print-config``."""

from __future__ import annotations

import json
from pathlib import Path

from hyperphysics_strategy.exchange import ExchangeSimulator, freqtrade_exchange_config
from tests.simulated_exchange import PAIRS, datadir_fixture, sim_fixture  # noqa: F401 (fixtures)


# -------------------------------------------------------------------------- freqtrade
def test_freqtrade_exchange_loads_markets(sim: ExchangeSimulator) -> None:
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import ExchangeResolver

    pricing = {"price_side": "same", "use_order_book": False, "order_book_top": 1}
    config = {
        "exchange": freqtrade_exchange_config(sim.url, PAIRS),
        "dry_run": True,
        "runmode": RunMode.BACKTEST,
        "stake_currency": "USDT",
        "timeframe": "5m",
        "trading_mode": "spot",
        "margin_mode": "",
        "entry_pricing": pricing,
        "exit_pricing": pricing,
        "order_types": {"entry": "limit", "exit": "limit", "stoploss": "limit"},
    }
    exchange = ExchangeResolver.load_exchange(config, validate=True)
    try:
        assert set(PAIRS) <= set(exchange.markets)
        assert exchange.get_min_pair_stake_amount("BTC/USDT", 50_000.0, 0.0) > 5.0
    finally:
        exchange.close()


def test_cli_print_config(datadir: Path) -> None:
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    result = CliRunner().invoke(
        app, ["exchange", "--datadir", str(datadir), "--port", "9123", "--print-config"]
    )
    assert result.exit_code == 0, result.output
    fragment = json.loads(result.stdout)
    assert fragment["exchange"]["pair_whitelist"] == PAIRS
    assert fragment["exchange"]["ccxt_config"]["urls"]["api"]["public"] == (
        "http://127.0.0.1:9123/api/v3"
    )
    assert fragment["fiat_display_currency"] == ""  # see the test below
    refused = CliRunner().invoke(app, ["exchange", "--host", "0.0.0.0", "--print-config"])
    assert refused.exit_code != 0


def test_cli_print_config_refuses_an_empty_whitelist(tmp_path: Path) -> None:
    """Merged as a later -c, an empty pair_whitelist would silently empty the user's."""
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    missing = tmp_path / "no" / "such" / "folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, why in ((missing, "does not exist"), (empty, "holds no spot candle files")):
        result = CliRunner().invoke(
            app, ["exchange", "--datadir", str(folder), "--print-config"], env={"COLUMNS": "400"}
        )
        assert result.exit_code == 2, result.output
        assert result.stdout == ""  # nothing a script could merge
        assert str(folder) in result.stderr and why in result.stderr
    named = CliRunner().invoke(
        app, ["exchange", "--datadir", str(missing), "--pairs", "BTC/USDT", "--print-config"]
    )
    assert named.exit_code == 0
    assert json.loads(named.stdout)["exchange"]["pair_whitelist"] == ["BTC/USDT"]


def test_offline_dry_run_config_fetches_no_fiat_map(tmp_path: Path, caplog, monkeypatch) -> None:
    """The example config (``fiat_display_currency`` USD) with the simulator's fragment
    merged after it, as every offline run merges them: freqtrade's RPC, which a dry-run
    creates at start-up, gets no fiat converter. With one, it fetches CoinGecko's coin list,
    and offline logs "ERROR - Could not load FIAT Cryptocurrency map"."""
    import logging
    from types import SimpleNamespace

    from freqtrade.configuration import Configuration
    from freqtrade.rpc import RPC

    from hyperphysics_strategy.runner import config_paths, write_simulator_config
    from hyperphysics_strategy.stubs import write_user_dir

    userdir = tmp_path / "user_data"
    write_user_dir(userdir)
    write_simulator_config(userdir, SimpleNamespace(url="http://127.0.0.1:9"), PAIRS)
    monkeypatch.chdir(tmp_path)  # freqtrade's default user_data_dir: ./user_data
    config = Configuration.from_files([str(path) for path in config_paths(userdir)])
    with caplog.at_level(logging.WARNING):
        rpc = RPC(SimpleNamespace(config=config))
    assert rpc._fiat_converter is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
