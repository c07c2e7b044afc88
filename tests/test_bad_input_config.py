"""Bad input a running bot meets: configuration (issue 16; see docs/reliability.md).

FreqAI parameters, the ``hyperphysics`` config section and the CLI's arguments are checked
at start-up, with errors naming the key or argument.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tests.bad_input import fit_data, labels

# -- FreqAI parameters: validated at start-up, strict types, unknown keys named --------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"use_processes": "false"},
            r"use_processes: Input should be a valid boolean \(got 'false'\)",
        ),
        ({"expert_timeout": "10"}, r"expert_timeout: Input should be a valid number \(got '10'\)"),
        ({"stacking_fold": 2}, r"stacking_fold: unknown key, did you mean 'stacking_folds'\?"),
        ({"stacking_c": 0.1}, r"stacking_c: unknown key, did you mean 'stacking_C'\?"),
        ({"experts": ["lightgbm", "lgbm"]}, r"unknown expert\(s\) \['lgbm'\].*'lightgbm'"),
        ({"blend_method": "simplex"}, r"blend_method: unknown key"),  # the one blend: stack
        ({"calibrate": False}, r"calibrate: unknown key"),
        ({"use_processes": 1}, r"use_processes: Input should be a valid boolean"),
    ],
)
def test_bad_freqai_parameters_fail_at_start_up_naming_the_key(params, message):
    """``use_processes: "false"`` read as true, ``expert_timeout: "10"`` failed every
    expert, misspelled keys were ignored. Now the model's constructor refuses them before
    FreqAI sets anything up, naming the key (and the closest valid one)."""
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble, HyperPhysicsMLPClassifier

    for model in (HyperPhysicsEnsemble, HyperPhysicsMLPClassifier):
        with pytest.raises(ValueError, match=message) as info:
            model({"freqai": {"model_training_parameters": params}})
        assert "freqai.model_training_parameters." in str(info.value)


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        (
            "LightGBM",
            {"n_estimator": 300},
            r"n_estimator: unknown key, did you mean 'n_estimators'",
        ),
        ("MLP", {"max_epoch": 3}, r"max_epoch: unknown key, did you mean 'max_epochs'\?"),
        ("MLP", {"trainer_kwargs": {"n_epochs": 3}}, r"trainer_kwargs: unknown key.*max_epochs"),
        (
            "",
            {"experts": ["mlp", "kan"], "n_estimators": 300},
            r"n_estimators: unknown key.*no selected expert takes it: mlp \(torch has no "
            r"parameter 'n_estimators'\), kan",
        ),
        ("", {"device": "cuda"}, r"device: refused: devices come from the hardware plan"),
        ("CatBoost", {"task_type": "GPU"}, r"task_type: refused: devices come from the hardware"),
        ("XGBoost", {"n_jobs": 0}, r"n_jobs: threads must be -1 \(the plan's share\) or 1..4096"),
    ],
)
def test_library_keys_at_the_top_level_are_checked_against_the_library(model, params, message):
    """FreqAI's form (issue 22): a single-expert class reads its library's parameters at the
    top level, the ensemble gives each to the experts that take it; a misspelt key, one no
    selected expert takes, and a device setting are still errors naming the key."""
    from hyperphysics_strategy.freqai import FREQAI_MODELS

    cls = FREQAI_MODELS[f"HyperPhysics{model}Classifier" if model else "HyperPhysicsEnsemble"]
    with pytest.raises(ValueError, match=message):
        cls({"freqai": {"model_training_parameters": params}})


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        # trained a 0-tree XGBoost that stayed in the blend
        ("XGBoost", {"n_estimators": -1}, r"xgboost': n_estimators: must be a whole number"),
        ("", {"xgboost": {"n_estimators": -1}}, r"xgboost': n_estimators: must be a whole number"),
        ("", {"lightgbm": {"learning_rate": -0.1}}, r"lightgbm refuses .*learning_rate\) > \(0"),
        ("CatBoost", {"depth": 40}, r"catboost refuses .*Maximum tree depth is 16"),
        ("XGBoostRF", {"subsample": 2.0}, r"xgboost refuses .*subsample exceed bound \[0,1\]"),
        ("Transformer", {"learning_rate": -1.0}, r"torch refuses .*Invalid learning rate"),
    ],
)
def test_expert_parameters_break_no_library_rule_before_training(model, params, message):
    """Expert parameters passed unchecked (issue 23); now each expert is fitted once, one
    round on a tiny set, at start-up, and the library's own error names the problem."""
    from hyperphysics_strategy.freqai import FREQAI_MODELS

    cls = FREQAI_MODELS[f"HyperPhysics{model}Classifier" if model else "HyperPhysicsEnsemble"]
    with pytest.raises(ValueError, match=message):
        cls({"freqai": {"model_training_parameters": params}})


def test_a_misspelled_torch_parameter_fails_at_start_up_naming_it():
    """An expert's own section goes to its library, but a torch expert knows its keys: a
    misspelled one used to train silently with the default."""
    from hyperphysics_strategy.freqai import HyperPhysicsMLPClassifier

    config = {"freqai": {"model_training_parameters": {"mlp": {"max_epoch": 3}}}}
    with pytest.raises(ValueError, match=r"expert 'mlp': unknown parameter 'max_epoch'"):
        HyperPhysicsMLPClassifier(config)


def test_freqai_parameter_defaults_are_unchanged_and_reach_the_ensemble():
    """An empty section gives the ensemble's own defaults, and a valid
    ``stacking_folds: 0`` really reaches the trained ensemble."""
    import inspect

    import pandas as pd

    from hyperphysics_strategy.ensemble import ExpertEnsemble
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble
    from hyperphysics_strategy.freqai.parameters import load_training_parameters

    defaults = load_training_parameters({})
    signature = inspect.signature(ExpertEnsemble).parameters
    keys = ["experts", "seed", "max_train_rows", "drift_rows", "use_processes"]
    keys += ["expert_timeout", "stacking_folds", "stacking_C"]
    for key in keys:
        assert getattr(defaults, key) == signature[key].default, key
    assert load_training_parameters(None) == defaults

    data = fit_data()
    columns = [f"%f{i}" for i in range(data.X.shape[1])]
    params = {"stacking_folds": 0, "use_processes": False, "lightgbm": {"n_estimators": 5}}
    model = SimpleNamespace(
        params=load_training_parameters(params),
        expert_names=lambda: ("lightgbm",),
        class_names=["buy", "neutral", "sell"],
        _label_period=lambda: 0,
    )
    dictionary = {
        "train_features": pd.DataFrame(data.X, columns=columns),
        "train_labels": pd.DataFrame({"&s": labels(data.y)}),
        "train_weights": data.weight,
        "test_features": pd.DataFrame(data.X_val, columns=columns),
        "test_labels": pd.DataFrame({"&s": labels(data.y_val)}),
        "test_weights": data.weight_val,
    }
    ensemble = HyperPhysicsEnsemble.fit(model, dictionary, SimpleNamespace(pair="BTC", data={}))
    assert ensemble.stacking_folds == 0
    assert ensemble.report_.to_dict()["calibration"]["stacking_blocks"] == 1
    assert ensemble.experts_[0].params == {"n_estimators": 5}
    assert np.isfinite(ensemble.predict_proba(data.X_val)).all()


# -- bad config keys and CLI arguments ----------------------------------------------


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"var_budjet": 0.02}, "hyperphysics.var_budjet: Extra inputs are not permitted"),
        ({"orderbook_levels": "twenty"}, "hyperphysics.orderbook_levels"),
        ({"stop_floor": 0.2, "stop_cap": 0.1}, "stop_floor 0.2 exceeds stop_cap 0.1"),
    ],
)
def test_bad_hyperphysics_config_keys_are_named(section, named):
    """The strategy's own section refuses unknown keys and bad values, naming them (the
    strategy reads it at start-up; ``hyperphysics doctor`` suggests the closest key)."""
    from hyperphysics_strategy.strategy.settings import load_settings

    with pytest.raises(ValueError, match="invalid hyperphysics config") as info:
        load_settings({"hyperphysics": section})
    assert named in str(info.value)


def _cli(*args: str):
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "--rows", "abc"], "Invalid value for '--rows'"),
        (["train", "--holdout", "0.95"], "Invalid value for '--holdout'"),
        (["train", "--no-such-option"], "No such option: --no-such-option"),
        (["exchange", "--host", "0.0.0.0"], "refusing to bind the exchange simulator"),
        (["train", "--pair", "BTCUSDT"], "pair must look like BTC/USDT"),
    ],
)
def test_bad_cli_arguments_exit_2_with_a_message(args, named):
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_train_save_onto_an_unwritable_path_fails_before_training(tmp_path, monkeypatch):
    """``--save`` onto a path that cannot be written used to fail after training (the
    model was lost); now it is exit 2 naming the path, before anything trains, and the
    file in the way is untouched."""
    from hyperphysics_strategy.cli import train_cmd
    from hyperphysics_strategy.demo import demo_data_dir

    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train_cmd, "_train", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    common = ["train", "--datadir", str(demo_data_dir()), "--rows", "200"]
    for save, problem in [
        (blocker / "models", "cannot write there"),
        (blocker, "exists and is not a folder"),
    ]:
        result = _cli(*common, "--save", str(save))
        assert result.exit_code == 2, result.output
        line = " ".join(result.output.split())
        assert f"--save {save}" in line and problem in line, line
    assert blocker.read_text() == "keep me"


# -- upper bounds (issue 23): a number no user could mean is refused at start-up ------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        # passed validation, then every training failed with OverflowError
        ({"expert_timeout": 1e12}, r"expert_timeout: Input should be less than or equal to 604800"),
        ({"stacking_folds": 10**9}, r"stacking_folds: Input should be less than or equal to 50"),
    ],
)
def test_freqai_numbers_beyond_their_bound_are_refused_at_start_up(section, message):
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble

    with pytest.raises(ValueError, match=message):
        HyperPhysicsEnsemble({"freqai": {"model_training_parameters": section}})


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        # overflowed inside confirm_trade_entry: freqtrade's default True, no VaR pause
        ("breach_lookback_hours", 1e12, "8760"),
        ("risk_window", 10**7, "10000"),  # longer than any data: risk columns all NaN
        ("option_days", 1e12, "730"),  # NaN Greeks
        ("breach_pause_minutes", 10**12, "525600"),
    ],
)
def test_strategy_numbers_beyond_their_bound_are_refused(key, value, bound):
    from hyperphysics_strategy.strategy.settings import load_settings

    with pytest.raises(ValueError, match="invalid hyperphysics config") as info:
        load_settings({"hyperphysics": {key: value}})
    assert f"hyperphysics.{key}: Input should be less than or equal to {bound}" in str(info.value)
    assert f"(got {value!r})" in str(info.value)


def test_doctor_reports_each_out_of_range_value(tmp_path):
    """``hyperphysics doctor`` said OK for all of these."""
    import json

    from hyperphysics_strategy.cli.userdir_check import check_config
    from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, write_user_dir

    write_user_dir(tmp_path)
    fragment = tmp_path / "fragment.json"
    fragment.write_text(
        json.dumps(
            {
                "hyperphysics": {
                    "breach_lookback_hours": 1e12,
                    "risk_window": 10**7,
                    "option_days": 1e12,
                },
                "freqai": {"model_training_parameters": {"expert_timeout": 1e12}},
            }
        )
    )
    loaded = {
        "strategies/x.py": "HyperPhysicsStrategy",
        "freqaimodels/y.py": "HyperPhysicsEnsemble",
    }
    problems = {
        p.where: p.problem for p in check_config([tmp_path / EXAMPLE_CONFIG, fragment], loaded)
    }
    for where, value in [
        ("config hyperphysics.breach_lookback_hours", "1000000000000.0"),
        ("config hyperphysics.risk_window", "10000000"),
        ("config hyperphysics.option_days", "1000000000000.0"),
        ("config freqai.model_training_parameters.expert_timeout", "1000000000000.0"),
    ]:
        assert "less than or equal to" in problems[where] and value in problems[where], where
    assert len(problems) == 4, problems
