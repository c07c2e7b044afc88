"""A short real `freqtrade hyperopt` over the strategy's entry space (the EV margin)."""

from __future__ import annotations

import json

import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator
from hyperphysics_strategy.runner import (
    config_paths,
    freqtrade_command,
    prepare_user_dir,
    run_streaming,
    write_simulator_config,
)
from tests.freqtrade_e2e import assert_clean_log, write_json

pytestmark = pytest.mark.e2e

EPOCHS = 6


def test_hyperopt_over_the_entry_space(tmp_path):
    userdir = tmp_path / "user_data"
    datadir = prepare_user_dir(userdir)
    override = write_json(
        tmp_path / "fast.json",
        {
            "exchange": {"pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
            "freqai": {
                "identifier": "e2e-hyperopt",
                "train_period_days": 10,
                "backtest_period_days": 3,
                "feature_parameters": {"indicator_periods_candles": [10]},
                "model_training_parameters": {
                    "lightgbm": {"n_estimators": 60},
                    "xgboost": {"n_estimators": 60},
                },
            },
        },
    )
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, ["BTC/USDT", "ETH/USDT"])
        cmd = freqtrade_command(
            "hyperopt", userdir, config_paths(userdir, override),
            "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
            "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", "buy",
            "--epochs", str(EPOCHS), "--timerange", "20210420-20210426",
            "-j", "1", "--random-state", "1", "--print-json", "--disable-param-export",
        )  # fmt: skip
        log_path = tmp_path / "hyperopt.log"
        rc = run_streaming(cmd, log_path, echo=False)
    log = log_path.read_text()
    assert rc == 0, log[-4000:]
    assert_clean_log(log)
    results = list((userdir / "hyperopt_results").glob("*.fthypt"))
    assert results, "no hyperopt results file"
    epochs = [json.loads(line) for line in results[0].read_text().splitlines() if line.strip()]
    assert len(epochs) == EPOCHS
    spaces = set()
    for epoch in epochs:
        spaces |= set(epoch["params_details"])
    assert "buy" in spaces
    margins = {epoch["params_details"]["buy"]["entry_ev_margin"] for epoch in epochs}
    assert len(margins) > 1 and all(0.0 <= m <= 0.5 for m in margins)
