"""The real `freqtrade backtesting` with the ``ray`` training backend: FreqAI's models are
trained as Ray tasks on the session's loopback cluster (``ray_cluster`` in conftest),
joined through ``hyperphysics.cluster.address`` in the config."""

from __future__ import annotations

import joblib
import pytest

from tests.freqtrade_e2e import model_files, run_freqtrade

pytestmark = pytest.mark.e2e

TIMERANGE = "20210423-20210426"  # one 3-day backtest window, one pair: kept small


def test_backtesting_trains_the_ensemble_on_the_ray_cluster(tmp_path, ray_cluster):
    from hyperphysics_strategy.ensemble.scheduling.ray_cluster import last_round

    override = {
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
    }
    run = run_freqtrade(
        tmp_path, "backtesting",
        "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
        "--timerange", TIMERANGE, "--cache", "none",
        pairs=["BTC/USDT"], override=override,
    )  # fmt: skip
    log, userdir = run.log, run.userdir
    assert f"joining the Ray cluster at {ray_cluster.address}" in log
    assert "(ray node 127.0.0.1)" in log  # each expert's line names the node it ran on

    models = model_files(userdir, "e2e-ray")
    assert set(models) == {"BTC"} and len(models["BTC"]) == 1, models
    model = joblib.load(models["BTC"][0])
    assert model.backend == "ray"
    assert [e.worker for e in model.report_.experts] == ["ray"]
    jobs = last_round()["jobs"]  # the cluster kept where the last jobs ran
    assert [j["expert"] for j in jobs] == ["lightgbm"] and jobs[0]["error"] is None
