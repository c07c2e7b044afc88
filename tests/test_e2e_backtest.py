"""The real `freqtrade backtesting` against the exchange simulator, with `init`'s stubs."""

from __future__ import annotations

import joblib
import pytest
from freqtrade.data.btanalysis import load_backtest_data

from hyperphysics_strategy.exchange import ExchangeSimulator
from hyperphysics_strategy.runner import (
    config_paths,
    freqtrade_command,
    prepare_user_dir,
    run_streaming,
    write_simulator_config,
)
from tests.freqtrade_e2e import assert_clean_log, model_files, write_json

pytestmark = pytest.mark.e2e

PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20210420-20210426"  # two 3-day backtest windows
FAST = {
    "freqai": {
        "identifier": "e2e",
        "train_period_days": 10,
        "backtest_period_days": 3,
        "save_backtest_models": True,
        "feature_parameters": {"indicator_periods_candles": [10, 20]},
        "model_training_parameters": {
            "lightgbm": {"n_estimators": 80},
            "xgboost": {"n_estimators": 80},
        },
    },
}


def run_backtest(tmp_path, freqaimodel: str):
    userdir = tmp_path / "user_data"
    datadir = prepare_user_dir(userdir)
    override = write_json(tmp_path / "fast.json", FAST)
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, PAIRS)
        cmd = freqtrade_command(
            "backtesting",
            userdir,
            config_paths(userdir, override),
            "--strategy",
            "HyperPhysicsStrategy",
            "--freqaimodel",
            freqaimodel,
            "--timerange",
            TIMERANGE,
            "--cache",
            "none",
            "--export",
            "trades",
        )
        log_path = tmp_path / "backtest.log"
        rc = run_streaming(cmd, log_path, echo=False)
    return rc, log_path.read_text(), userdir


def test_backtesting_with_the_ensemble_trades_and_saves_every_window(tmp_path):
    rc, log, userdir = run_backtest(tmp_path, "HyperPhysicsEnsemble")
    assert rc == 0, log[-4000:]
    assert_clean_log(log)

    models = model_files(userdir, "e2e")
    assert set(models) == {"BTC", "ETH"}, models
    assert all(len(files) == 2 for files in models.values()), models  # one per window

    model = joblib.load(next(iter(models.values()))[0])
    assert [e.name for e in model.experts] == ["lightgbm", "xgboost"]
    assert list(model.classes_) == ["sell", "neutral", "buy"]

    trades = load_backtest_data(userdir / "backtest_results")
    assert len(trades) > 0
    assert set(trades["pair"]) <= set(PAIRS)
    assert "HyperPhysics" in log and "val log-loss" in log


def test_backtesting_with_a_single_expert_model(tmp_path):
    rc, log, userdir = run_backtest(tmp_path, "HyperPhysicsLightGBMClassifier")
    assert rc == 0, log[-4000:]
    assert_clean_log(log)
    models = model_files(userdir, "e2e")
    model = joblib.load(models["BTC"][0])
    assert [e.name for e in model.experts] == ["lightgbm"]
