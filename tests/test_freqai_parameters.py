"""FreqAI's own form of ``model_training_parameters`` works on every HyperPhysics class
(issue 22): the library's parameters at the top level, as FreqAI's docs and tests write
them (``n_estimators``, ``learning_rate``, ``n_jobs``), reach each expert that takes them."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from hyperphysics_strategy.engine.hardware.placement import Placement
from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.freqai import FREQAI_MODELS
from hyperphysics_strategy.freqai.shared_keys import takes
from tests.bad_input import fit_data

PAIR = "BTC/USDT"
#: as FreqAI's parameter table and tests write them
FREQAI_FORM = {"n_estimators": 7, "learning_rate": 0.2, "n_jobs": 1}


def _config(tmp_path, params: dict) -> dict:
    (tmp_path / "config.json").write_text("{}")  # FreqAI copies it into the model folder
    return {
        "config_files": [str(tmp_path / "config.json")],
        "timeframe": "5m",
        "timerange": "20210421-20210422",
        "user_data_dir": tmp_path,
        "exchange": {"pair_whitelist": [PAIR]},
        "freqai": {
            "identifier": "params",
            "train_period_days": 1,
            "backtest_period_days": 1,
            "feature_parameters": {"label_period_candles": 4, "shuffle_after_split": False},
            "data_split_parameters": {"test_size": 0.25, "shuffle": False},
            "model_training_parameters": params,
        },
    }


def _candles(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    score = X[:, 0] + 0.3 * rng.normal(size=n)
    label = np.where(score > 0.5, "buy", np.where(score < -0.5, "sell", "neutral"))
    frame = pd.DataFrame({f"%-f{i}": X[:, i] for i in range(4)})
    frame["date"] = pd.date_range("2021-04-20", periods=n, freq="5min", tz="UTC")
    frame["close"] = 100 * np.exp(np.cumsum(0.001 * X[:, 1]))
    frame["&-s"] = label
    return frame


def _train(tmp_path, name: str, params: dict):
    model = FREQAI_MODELS[name](_config(tmp_path, params))
    df = _candles()
    dk = FreqaiDataKitchen(model.config, False, PAIR)
    dk.find_features(df)
    dk.find_labels(df)
    return model, model.train(df, PAIR, dk)


def _rounds(expert) -> int:
    """Trees per class (boosting rounds; a forest's parallel trees) the expert trained."""
    if expert.name == "xgboost_rf":
        return len(expert.booster.get_dump()) // expert.n_classes
    return expert.best_iteration


@pytest.mark.parametrize("name", list(FREQAI_MODELS))
def test_freqai_top_level_parameters_reach_each_expert_that_takes_them(tmp_path, name, caplog):
    cls = FREQAI_MODELS[name]
    params = {**FREQAI_FORM, "use_processes": False, "stacking_folds": 0}
    if cls.EXPERTS is None:  # the ensemble: experts of each library, a network's own section
        params |= {"experts": ["lightgbm", "xgboost_rf", "catboost", "mlp"]}
        params |= {"mlp": {"max_epochs": 3, "learning_rate": 0.01}}
    elif make_expert(cls.EXPERTS[0]).library == "torch":
        params |= {"max_epochs": 3}  # the network's own key, at the top level too
    with caplog.at_level(logging.INFO):
        model, ensemble = _train(tmp_path, name, params)
    assert [e.name for e in ensemble.experts_] == list(model.expert_names())
    for expert in ensemble.experts_:
        own = params.get(expert.name, {})
        for key, value in FREQAI_FORM.items():
            if key in own:
                assert expert.params[key] == own[key], (expert.name, key)  # its section wins
            elif takes(expert.name, key):
                assert expert.params[key] == value, (expert.name, key)
            else:
                assert key not in expert.params, (expert.name, key)
        assert expert.placement.threads == 1  # n_jobs: 1 caps the plan's threads
        if takes(expert.name, "n_estimators"):
            assert 1 <= _rounds(expert) <= FREQAI_FORM["n_estimators"], expert.name
    log = caplog.text
    if cls.EXPERTS is None:
        assert "n_estimators=7: taken by lightgbm, xgboost_rf, catboost; not by mlp" in log
        assert "learning_rate=0.2: taken by lightgbm, catboost, mlp (its own section " in log
    elif not takes(cls.EXPERTS[0], "n_estimators"):
        assert f"n_estimators is ignored by the {cls.EXPERTS[0]} expert" in log


def test_thread_count_caps_the_plans_threads():
    """``n_jobs`` / ``thread_count``: at most that many of the threads the plan gives."""
    data = fit_data()
    for params, threads in (({"n_jobs": 2}, 2), ({"thread_count": 3}, 3), ({"n_jobs": -1}, 4)):
        expert = make_expert("lightgbm", {"n_estimators": 2, **params})
        expert.fit(data, Placement("lightgbm", threads=4))
        assert expert.placement.threads == threads, params


def test_doctor_says_where_top_level_keys_go_and_checks_them(tmp_path):
    """``hyperphysics doctor`` reads the FreqAI form too: one note per top-level key (which
    experts take it), and a bad value of either form is a problem naming the expert."""
    import json

    from hyperphysics_strategy.cli.userdir_check import check_config
    from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, write_user_dir

    write_user_dir(tmp_path)
    loaded = {
        "strategies/x.py": "HyperPhysicsStrategy",
        "freqaimodels/y.py": "HyperPhysicsEnsemble",
    }
    cases = [
        ({"n_estimators": 50, "learning_rate": 0.1}, [], ["n_estimators=50: taken by "]),
        ({"max_depth": -2}, ["xgboost: expert 'xgboost': xgboost refuses", "max_depth"], []),
        ({"xgboost": {"n_estimators": -1}}, ["n_estimators: must be a whole number"], []),
    ]
    for section, problems, notes in cases:
        fragment = tmp_path / "fragment.json"
        override = {"freqai": {"model_training_parameters": section}}
        fragment.write_text(json.dumps(override))
        got: list[str] = []
        found = check_config([tmp_path / EXAMPLE_CONFIG, fragment], loaded, got)
        text = " ".join(f"{p.where}: {p.problem}" for p in found)
        assert all(p in text for p in problems) and len(found) == min(1, len(problems)), text
        assert all(any(n in line for line in got) for n in notes) and len(got) >= len(notes), got
