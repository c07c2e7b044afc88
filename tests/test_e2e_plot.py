"""`freqtrade plot-dataframe` renders the strategy's plot_config.

As a freqtrade user would: backtest first (FreqAI saves each window's model), then plot
the same timerange with the backtest's trades; FreqAI reuses the saved models.
"""

from __future__ import annotations

import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator
from hyperphysics_strategy.runner import (
    config_paths,
    freqtrade_command,
    prepare_user_dir,
    run_streaming,
    write_simulator_config,
)
from hyperphysics_strategy.strategy import HyperPhysicsStrategy
from tests.freqtrade_e2e import assert_clean_log, write_json

pytestmark = pytest.mark.e2e


def test_plot_dataframe_renders_probabilities_var_and_orderbook_panels(tmp_path):
    userdir = tmp_path / "user_data"
    datadir = prepare_user_dir(userdir)
    override = write_json(
        tmp_path / "fast.json",
        {
            "freqai": {
                "identifier": "e2e-plot",
                "train_period_days": 10,
                "backtest_period_days": 3,
                "save_backtest_models": True,
                "feature_parameters": {"indicator_periods_candles": [10]},
                "model_training_parameters": {
                    "lightgbm": {"n_estimators": 40},
                    "xgboost": {"n_estimators": 40},
                },
            }
        },
    )
    common = ["--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
              "--timerange", "20210422-20210425"]  # fmt: skip
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, ["BTC/USDT"])
        configs = config_paths(userdir, override)
        backtest = freqtrade_command(
            "backtesting", userdir, configs, *common, "--cache", "none", "--export", "trades"
        )
        assert run_streaming(backtest, tmp_path / "backtest.log", echo=False) == 0
        plot = freqtrade_command("plot-dataframe", userdir, configs, *common, "-p", "BTC/USDT")
        rc = run_streaming(plot, tmp_path / "plot.log", echo=False)
    log = (tmp_path / "plot.log").read_text()
    assert rc == 0, log[-4000:]
    assert_clean_log(log)
    pages = list((userdir / "plot").glob("*.html"))
    assert len(pages) == 1, pages
    html = pages[0].read_text()
    for panel in HyperPhysicsStrategy.plot_config["subplots"]:
        assert panel in html, f"panel {panel!r} missing from the plot"
    for series in ("hp_var_99_floor", "hp_var_99_1d", "hp_ob_imbalance_5", "buy", "sell"):
        assert f'"name":"{series}"' in html.replace(" ", ""), series
