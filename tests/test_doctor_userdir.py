"""``hyperphysics doctor --userdir``: stubs that cannot load, config keys that do not
exist and candle files the config needs that are missing or short are flagged, one line
each with a fix; a fresh ``init`` dir with its candles is clean."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from freqtrade.configuration.load_config import load_config_file
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.freqai_names import freqai_model_names
from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, write_user_dir

runner = CliRunner()


def doctor(*args: str):
    return runner.invoke(app, ["doctor", *args], env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh ``init`` dir with the candles its config needs (the bundled demo candles)."""
    return with_candles(tmp_path_factory.mktemp("ud"))


def with_candles(userdir):
    """``init``'s files and the demo candles (every candle file the example config needs)."""
    write_user_dir(userdir)
    shutil.copytree(demo_data_dir(), userdir / "data" / "binance", dirs_exist_ok=True)
    return userdir


def test_fresh_user_dir_has_no_problems(fresh):
    result = doctor("--userdir", str(fresh), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["config"] == [str(fresh / EXAMPLE_CONFIG)]
    assert sorted(report["loaded"].values()) == sorted(
        [*freqai_model_names(), "HyperPhysicsStrategy"]
    )


def test_flags_a_stub_that_cannot_load_and_unknown_config_keys(tmp_path):
    with_candles(tmp_path)
    broken = tmp_path / "freqaimodels" / "HyperPhysicsKANClassifier.py"
    broken.write_text(broken.read_text().replace("import HyperPhysicsKANClassifier", "import Nope"))
    config = load_config_file(str(tmp_path / EXAMPLE_CONFIG))
    config["hyperphysics"] = {"var_budget": 0.01, "var_budjet": 0.02}
    config["stake_ammount"] = 10
    config["max_open_trades"] = "three"
    config["freqai"]["model_training_parameters"]["experts"] = ["lightgbm", "lgbm"]
    config["freqai"]["model_training_parameters"]["stacking_fold"] = 2
    path = tmp_path / "my_config.json"
    path.write_text(json.dumps(config))

    result = doctor("--userdir", str(tmp_path), "--config", str(path), "--json")
    assert result.exit_code == 1, result.output
    problems = {p["where"]: p for p in json.loads(result.stdout)["problems"]}
    kan = problems["freqaimodels/HyperPhysicsKANClassifier.py"]
    assert "does not load" in kan["problem"] and "has no class Nope" in kan["problem"]
    typo = problems["config hyperphysics.var_budjet"]
    assert typo["problem"] == "unknown key" and "did you mean 'var_budget'" in typo["fix"]
    assert "did you mean 'stake_amount'" in problems["config stake_ammount"]["fix"]
    assert "config max_open_trades" in problems  # freqtrade's own schema: not an integer
    assert "'lgbm'" in problems["config freqai.model_training_parameters.experts"]["problem"]
    fold = problems["config freqai.model_training_parameters.stacking_fold"]
    assert fold["problem"] == "unknown key" and "did you mean 'stacking_folds'" in fold["fix"]
    assert len(problems) == 6, problems

    text = doctor("--userdir", str(tmp_path), "--config", str(path))
    assert text.exit_code == 1
    lines = [line for line in text.output.splitlines() if line.startswith("problem:")]
    assert len(lines) == 6 and all(" fix: " in line for line in lines), text.output


def test_missing_user_dir_and_config_without_userdir(tmp_path):
    result = doctor("--userdir", str(tmp_path / "nope"), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"][0]["fix"].startswith("hyperphysics init")
    assert doctor("--config", "x.json").exit_code == 2


def test_configs_merge_like_freqtrades(fresh, tmp_path):
    """A fragment alone lacks freqtrade's required keys; merged after the main one it is fine,
    and its own bad key is still found."""
    fragment = tmp_path / "fragment.json"
    fragment.write_text(json.dumps({"hyperphysics": {"stop_floor": 0.5, "stop_cap": 0.1}}))
    main = str(fresh / EXAMPLE_CONFIG)
    result = doctor("--userdir", str(fresh), "-c", main, "-c", str(fragment), "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and "exceeds stop_cap" in problems[0]["problem"], problems


def test_flags_missing_and_short_candle_files(tmp_path):
    """The whitelist (BTC, ETH, SOL) at 5m and 1h (the strategy's timeframe and
    include_timeframes), plus a corr pair; a file shorter than FreqAI's train_period_days +
    backtest_period_days (30 + 7) plus the startup candles is short."""
    write_user_dir(tmp_path)
    datadir = tmp_path / "data" / "binance"
    datadir.mkdir(parents=True, exist_ok=True)
    for name in ("SOL_USDT-5m.feather", "SOL_USDT-1h.feather", "BTC_USDT-1h.feather"):
        shutil.copy(demo_data_dir() / name, datadir / name)
    btc = pd.read_feather(demo_data_dir() / "BTC_USDT-5m.feather")
    btc.iloc[: 288 * 10].to_feather(datadir / "BTC_USDT-5m.feather")  # ten days
    fragment = tmp_path / "corr.json"
    fragment.write_text(
        json.dumps({"freqai": {"feature_parameters": {"include_corr_pairlist": ["DOT/USDT"]}}})
    )
    main = str(tmp_path / EXAMPLE_CONFIG)
    result = doctor("--userdir", str(tmp_path), "-c", main, "-c", str(fragment), "--json")
    assert result.exit_code == 1, result.output
    problems = {p["where"]: p for p in json.loads(result.stdout)["problems"]}
    assert set(problems) == {
        "candles BTC/USDT 5m",
        "candles ETH/USDT 5m",
        "candles ETH/USDT 1h",
        "candles DOT/USDT 5m",
        "candles DOT/USDT 1h",
    }, problems
    short = problems["candles BTC/USDT 5m"]
    assert short["problem"].startswith("short: 2880 candles") and "38 days" in short["problem"]
    assert "no feather candle file" in problems["candles ETH/USDT 1h"]["problem"]
    fix = problems["candles ETH/USDT 5m"]["fix"]
    assert fix.startswith("freqtrade download-data") and "--timeframes 5m 1h" in fix


def test_an_init_dir_without_candles_is_not_clean(tmp_path):
    write_user_dir(tmp_path)
    text = doctor("--userdir", str(tmp_path))
    assert text.exit_code == 1 and "No problems found" not in text.output
    lines = [line for line in text.output.splitlines() if line.startswith("problem: candles")]
    assert len(lines) == 6, text.output  # 3 pairs x 2 timeframes
