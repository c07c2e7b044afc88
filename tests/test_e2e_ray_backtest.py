"""The real `freqtrade backtesting` with the ``ray`` training backend: FreqAI's models are
trained as Ray tasks on the session's loopback cluster (``ray_cluster`` in conftest),
joined through ``hyperphysics.cluster.address`` in the config."""

from __future__ import annotations

import joblib
import pytest

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

TIMERANGE = "20210423-20210426"  # one 3-day backtest window, one pair: kept small


def test_backtesting_trains_the_ensemble_on_the_ray_cluster(tmp_path, ray_cluster):
    from hyperphysics_strategy.ensemble import ray_backend

    userdir = tmp_path / "user_data"
    datadir = prepare_user_dir(userdir)
    override = write_json(
        tmp_path / "ray.json",
        {
            "hyperphysics": {"cluster": {"address": ray_cluster.address}},
            "freqai": {
                "identifier": "e2e-ray",
                "train_period_days": 10,
                "backtest_period_days": 3,
                "save_backtest_models": True,
                "feature_parameters": {"indicator_periods_candles": [10, 20]},
                "model_training_parameters": {
                    "backend": "ray",
                    "experts": ["lightgbm"],
                    "lightgbm": {"n_estimators": 20},
                    "stacking_folds": 1,
                },
            },
        },
    )
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, ["BTC/USDT"])
        cmd = freqtrade_command(
            "backtesting",
            userdir,
            config_paths(userdir, override),
            "--strategy",
            "HyperPhysicsStrategy",
            "--freqaimodel",
            "HyperPhysicsEnsemble",
            "--timerange",
            TIMERANGE,
            "--cache",
            "none",
        )
        log_path = tmp_path / "backtest.log"
        rc = run_streaming(cmd, log_path, echo=False)
    log = log_path.read_text()
    assert rc == 0, log[-4000:]
    assert_clean_log(log)
    assert f"joining the Ray cluster at {ray_cluster.address}" in log
    assert "(ray node 127.0.0.1)" in log  # each expert's line names the node it ran on

    models = model_files(userdir, "e2e-ray")
    assert set(models) == {"BTC"} and len(models["BTC"]) == 1, models
    model = joblib.load(models["BTC"][0])
    assert model.backend == "ray"
    assert [e.worker for e in model.report_.experts] == ["ray"]
    jobs = ray_backend.last_round()["jobs"]  # the cluster kept where the last jobs ran
    assert [j["expert"] for j in jobs] == ["lightgbm"] and jobs[0]["error"] is None
