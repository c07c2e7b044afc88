"""``hyperphysics train`` on the bundled demo candles, its input errors, and the feature
and label assembly it shares with the walk-forward benchmark."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY
from hyperphysics_strategy.strategy.features import CLASSES, build_training_set
from hyperphysics_strategy.strategy.settings import RiskSettings

runner = CliRunner()
DEMO = str(demo_data_dir())


def train(*args: str):
    return runner.invoke(app, ["train", "--datadir", DEMO, *args])


def test_build_training_set_on_demo_candles():
    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    X, y = build_training_set(candles, periods=(10, 20), horizon=12)
    assert len(X) == len(y) > 1000 and X.index.equals(y.index)
    assert all(c.startswith("%") for c in X.columns)
    assert {"%-rsi-10", "%-rsi-20", "%-pct_change", "%-hour_sin"} <= set(X.columns)
    assert np.isfinite(X.to_numpy()).all()
    assert set(y) <= set(CLASSES)
    assert X.index[-1] == len(candles) - 1 - 12  # the last horizon has no label yet


def test_train_shows_each_expert_and_the_ensemble(tmp_path):
    save = tmp_path / "models"
    result = train(
        "--pair", "ETH/USDT", "--experts", "lightgbm,xgboost", "--rows", "400", "--save", str(save)
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ETH/USDT 1h: 308 rows" in out
    # exact about the features: one timeframe, not FreqAI's expansion of the config
    scope = next(line for line in out.splitlines() if line.startswith("features: "))
    assert scope.startswith("features: 30 columns of ETH/USDT 1h candles only"), scope
    for part in ("include_timeframes ['5m'] (of ['5m', '1h'])", "include_shifted_candles 1",
                 "risk and order-book columns"):  # fmt: skip
        assert part in scope, scope
    assert "include_corr_pairlist" not in scope  # the example config has none
    for name in ("lightgbm", "xgboost"):
        assert any(name in line and "done" in line for line in out.splitlines()), out
    assert any(
        line.startswith("ensemble: ") and "val log-loss" in line for line in out.splitlines()
    )
    assert "Plan: 2 task(s)" in out  # the hardware plan summary
    folds = [line for line in out.splitlines() if line.startswith("│ fold ")]
    assert folds and all("done" in line for line in folds), out  # one row per stacking fold

    # out of sample: the printed numbers are those of the saved predictions
    assert "seen by neither the experts nor the stacker" in out
    pred = pd.read_csv(save / "out_of_sample_predictions.csv")
    assert len(pred) == 80  # 20% of the 400 rows, after a 12-row embargo
    classes = ["sell", "neutral", "buy"]
    codes = pred["label"].map(classes.index).to_numpy()
    rows = np.arange(len(pred))
    ens = -np.log(np.clip(pred[[f"proba_{c}" for c in classes]].to_numpy()[rows, codes], 1e-12, 1))
    prior = -np.log(pred[[f"prior_{c}" for c in classes]].to_numpy()[rows, codes])
    printed = next(line for line in out.splitlines() if line.startswith("out-of-sample log-loss"))
    assert f"ensemble {ens.mean():.4f}, class prior {prior.mean():.4f}" in printed
    assert f"difference {ens.mean() - prior.mean():+.4f}" in printed
    assert ("no skill over the class prior" in out) == (ens.mean() >= prior.mean())

    report = json.loads((save / "report.json").read_text())
    assert report["pair"] == "ETH/USDT" and report["rows"] == 400 - 80 - 12
    assert report["out_of_sample"]["prior_log_loss"] == pytest.approx(prior.mean())
    assert set(report["weights"]) == {"lightgbm", "xgboost"}
    assert [e["name"] for e in report["report"]["experts"]] == ["lightgbm", "xgboost"]
    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    X, _ = build_training_set(candles, horizon=report["horizon"])
    assert list(X.columns) == report["feature_names"]
    for name in ("lightgbm", "xgboost"):
        expert = EXPERT_REGISTRY[name].load(save / name)
        proba = expert.predict_proba(X.to_numpy(np.float32)[-50:])
        assert proba.shape == (50, 3) and np.allclose(proba.sum(axis=1), 1.0)


def _one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--pair", "DOGE/USDT"], "unknown pair DOGE/USDT"),
        (["--pair", "BTCUSDT"], "'BTCUSDT'"),
        (["--timeframe", "4h"], "no 4h candles"),
        (["--experts", "lightgbm,randomforest"], "unknown expert 'randomforest'"),
        (["--experts", "xgboost,xgboost"], "expert listed twice: xgboost"),
    ],
)
def test_bad_input_is_one_named_error_with_exit_code_2(args, named):
    result = train(*args)
    assert result.exit_code == 2, result.output
    assert named in _one_error_line(result)


def test_missing_data_directory_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["train", "--datadir", str(missing)])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "does not exist" in line and "nowhere" in line


def test_too_few_rows_is_an_input_error():
    result = train("--rows", "50")
    assert result.exit_code == 2
    assert "only 50 usable rows" in _one_error_line(result)


def test_expert_names_in_help_are_the_registry():
    from hyperphysics_strategy.cli.train_data import EXPERT_NAMES
    from hyperphysics_strategy.ensemble import EXPERT_REGISTRY

    assert tuple(EXPERT_REGISTRY) == EXPERT_NAMES
    assert set(EXPERT_NAMES) == set(EXPERT_REGISTRY)
    out = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "<bool>" not in out
    assert all(name in out for name in EXPERT_NAMES), out


def test_save_then_load_scores_the_rows_after_training(tmp_path):
    save = tmp_path / "m"
    first = train("--pair", "BTC/USDT", "--rows", "600", "--holdout", "0.3", "--save", str(save))
    assert first.exit_code == 0, first.output
    loaded = train("--pair", "BTC/USDT", "--rows", "600", "--load", str(save))
    assert loaded.exit_code == 0, loaded.output
    assert "loaded the ensemble" in loaded.output
    pick = [line for line in first.output.splitlines() if line.startswith("out-of-sample")]
    again = [line for line in loaded.output.splitlines() if line.startswith("out-of-sample")]
    assert pick == again  # the same tail rows, the same ensemble, the same numbers
    missing = train("--load", str(tmp_path / "nothing"))
    assert missing.exit_code == 2 and "no saved ensemble" in _one_error_line(missing)


def test_no_signal_lines_read_the_report():
    from hyperphysics_strategy.cli.train_results import no_signal_lines

    report = {
        "experts": [{"name": "lightgbm", "best_iteration": 5}, {"name": "xgboost"}],
        "calibration": {"expert_temperatures": [148.4131, 1.2]},
    }
    lines = no_signal_lines(report)
    assert len(lines) == 2
    assert "lightgbm calibrated at the temperature bound (148.4)" in lines[0]
    assert "lightgbm stopped improving" in lines[1] and "xgboost" not in " ".join(lines)


def test_strategy_settings_come_from_the_config_files(tmp_path):
    from hyperphysics_strategy.cli.train_data import InputError, strategy_settings

    default = strategy_settings(None)  # the config `hyperphysics init` writes
    assert (default.periods, default.horizon) == ((10, 20), 12)
    assert default.hyperphysics == RiskSettings().model_dump(mode="json")
    base = tmp_path / "base.json"
    base.write_text(
        '{"freqai": {"feature_parameters": {"indicator_periods_candles": [14, 30],\n'
        '  // comments, as freqtrade reads them\n  "label_period_candles": 6}},\n'
        ' "hyperphysics": {"risk_window": 100}}'
    )
    later = tmp_path / "later.json"
    later.write_text('{"freqai": {"feature_parameters": {"indicator_periods_candles": [7]}}}')
    merged = strategy_settings([base, later])  # a later -c wins, as in freqtrade
    assert (merged.periods, merged.horizon) == ((7,), 6)
    assert merged.hyperphysics["risk_window"] == 100
    assert strategy_settings([base], horizon=3).horizon == 3
    typo = tmp_path / "typo.json"
    typo.write_text('{"hyperphysics": {"risk_windw": 100}}')
    with pytest.raises(InputError, match="hyperphysics.risk_windw"):
        strategy_settings([typo])
    bad = tmp_path / "bad.json"
    bad.write_text('{"freqai": {"feature_parameters": {"indicator_periods_candles": [0]}}}')
    with pytest.raises(InputError, match="indicator_periods_candles"):
        strategy_settings([bad])


def test_train_builds_the_features_the_config_names(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        '{"freqai": {"feature_parameters": {"indicator_periods_candles": [14],'
        ' "label_period_candles": 6}}}'
    )
    save = tmp_path / "m"
    result = train("--pair", "SOL/USDT", "--experts", "lightgbm", "--rows", "300",
                   "--holdout", "0", "-c", str(config), "--save", str(save))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "indicator periods [14], label horizon 6 candles" in result.output
    assert "features: 19 columns of SOL/USDT 1h candles only" in result.output
    assert "include_timeframes" not in result.output  # this config expands nothing else
    report = json.loads((save / "report.json").read_text())
    assert report["periods"] == [14] and report["horizon"] == 6
    candles = pd.read_feather(demo_data_dir() / "SOL_USDT-1h.feather")
    X, _ = build_training_set(candles, periods=(14,), horizon=6)
    assert report["feature_names"] == list(X.columns) and "%-rsi-14" in X.columns
    typo = tmp_path / "typo.json"
    typo.write_text('{"hyperphysics": {"var_budjet": 0.1}}')
    bad = train("-c", str(typo))
    assert bad.exit_code == 2 and "hyperphysics.var_budjet" in _one_error_line(bad)
