"""The window trainer that FreqAI's backtesting loop calls instead of ``model.train``.

A fake model stands in for FreqAI's (the e2e test runs the real one): it checks what the
loop sees for each window, that the windows really train at once, and where a training
error ends up.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from hyperphysics_strategy.freqai.backtest_windows import (
    WindowTrainer,
    auto_window_workers,
    concurrent_windows,
)
from hyperphysics_strategy.freqai.parameters import load_training_parameters

PAIR = "BTC/USDT"


def _config(tmp_path) -> dict:
    (tmp_path / "config.json").write_text("{}")  # FreqAI copies it into the model folder
    return {
        "config_files": [str(tmp_path / "config.json")],
        "timerange": "20210420-20210423",  # three one-day windows
        "timeframe": "5m",
        "user_data_dir": tmp_path,
        "exchange": {"pair_whitelist": [PAIR]},
        "freqai": {
            "identifier": "unit",
            "train_period_days": 2,
            "backtest_period_days": 1,
            "feature_parameters": {"buffer_train_data_candles": 0},
        },
    }


def _candles() -> pd.DataFrame:
    dates = pd.date_range("2021-04-17", "2021-04-23", freq="5min", tz="UTC", inclusive="left")
    return pd.DataFrame({"date": dates, "close": np.arange(len(dates), dtype=float)})


class Strategy:
    def set_freqai_targets(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        df["&-target"] = np.where(df["close"] % 2 == 0, "up", "down")
        return df


class FakeModel:
    """Trains in a thread only once all three windows are training (a barrier)."""

    def __init__(self, config: dict, fail: str = "", saved: str = "", at_once: int = 3) -> None:
        self.config = config
        self.fail = fail
        self.saved = saved  # a window whose model is already saved
        self.barrier = threading.Barrier(at_once, timeout=20)
        self.threads: dict[str, str] = {}

    def train(self, df, pair, dk):
        self.threads[dk.model_filename] = threading.current_thread().name
        self.barrier.wait()  # BrokenBarrierError unless the three windows train at once
        dk.feature_pipeline = ("pipeline", dk.model_filename)
        dk.data["rows"] = len(df)
        if dk.model_filename == self.fail:
            raise ValueError(f"bad window {dk.model_filename}")
        return ("model", dk.model_filename, df["date"].iloc[-1])

    def ensure_data_exists(self, n, tr_backtest, pair) -> bool:
        return True

    def model_exists(self, dk) -> bool:
        return dk.model_filename == self.saved


def _loop(model: FakeModel, trainer: WindowTrainer, raw: pd.DataFrame) -> list:
    """What FreqAI's loop does around ``train`` for each window (one kitchen for all)."""
    dk = FreqaiDataKitchen(model.config, False, PAIR)
    features = raw.assign(**{"%-f": raw["close"]})
    out = []
    for tr_train, _ in zip(dk.training_timeranges, dk.backtesting_timeranges, strict=False):
        stop = int(tr_train.stopts)
        dk.set_paths(PAIR, stop)
        dk.set_new_model_names(PAIR, stop)
        df = Strategy().set_freqai_targets(features.loc[features["date"] < tr_train.stopdt], {})
        df = dk.slice_dataframe(tr_train, df)
        if model.model_exists(dk):  # FreqAI loads it instead of training
            out.append("loaded")
            continue
        dk.find_features(df)
        dk.find_labels(df)
        try:
            model_out = trainer.train(df, PAIR, dk)
        except ValueError as exc:
            out.append(("error", str(exc)))
            continue
        out.append((model_out, dk.feature_pipeline, dk.data["rows"], len(df)))
    return out


def test_windows_train_at_once_and_the_loop_gets_each_result_in_its_order(tmp_path):
    raw = _candles()
    model = FakeModel(_config(tmp_path), fail="cb_btc_1619049600")  # the third window
    with concurrent_windows(
        model, raw, {"pair": PAIR}, FreqaiDataKitchen(model.config), Strategy(), 3
    ) as trainer:
        trainer.populated = raw.assign(**{"%-f": raw["close"]})
        assert model.train == trainer.train
        results = _loop(model, trainer, raw)
    assert "train" not in vars(model)  # the class's train again

    names = ["cb_btc_1618876800", "cb_btc_1618963200", "cb_btc_1619049600"]
    assert trainer.names == names
    for name, (model_out, pipeline, rows, n) in zip(names[:2], results[:2], strict=True):
        assert model_out[:2] == ("model", name)
        assert pipeline == ("pipeline", name) and rows == n  # training's kitchen changes
    assert results[2] == ("error", "bad window cb_btc_1619049600")
    assert all(t.startswith("hp-window") for t in model.threads.values())
    assert len(set(model.threads.values())) == 3


def test_windows_freqai_would_not_train_are_not_trained(tmp_path):
    """A saved model (FreqAI loads it) or valid saved predictions (FreqAI reuses them)."""
    raw = _candles()
    config = _config(tmp_path)
    predictions = tmp_path / "models" / "unit" / "backtesting_predictions"
    predictions.mkdir(parents=True)
    first = raw[(raw["date"] >= "2021-04-20") & (raw["date"] < "2021-04-21")]
    first[["date"]].to_feather(predictions / "cb_btc_1618876800_prediction.feather")
    model = FakeModel(config, saved="cb_btc_1618963200", at_once=1)
    kitchen = FreqaiDataKitchen(config)
    with concurrent_windows(model, raw, {"pair": PAIR}, kitchen, Strategy(), 2) as trainer:
        trainer.populated = raw.assign(**{"%-f": raw["close"]})
        trainer.next_window = 0
        trainer._prepare_until(3)
        assert list(trainer.futures) == ["cb_btc_1619049600"]  # the third window alone
        results = _loop(model, trainer, raw)
    assert results[1] == "loaded"
    assert results[0][0][1] == "cb_btc_1618876800" and results[2][0][1] == "cb_btc_1619049600"
    # the first window (which FreqAI would not have asked for) trains in the loop's thread
    assert model.threads == {
        "cb_btc_1619049600": "hp-window_0",
        "cb_btc_1618876800": threading.current_thread().name,
    }


def test_one_window_at_a_time_leaves_freqai_alone(tmp_path):
    model = FakeModel(_config(tmp_path))
    with concurrent_windows(model, _candles(), {"pair": PAIR}, None, Strategy(), 1) as trainer:
        assert trainer is None
        assert "train" not in vars(model)


@pytest.mark.parametrize(
    ("experts", "gpus", "cores", "want"),
    [(2, 0, 2, 2), (2, 0, 64, 2), (2, 0, 1, 1), (2, 8, 16, 4), (12, 8, 16, 2), (1, 3, 4, 3)],
)
def test_auto_window_count(experts, gpus, cores, want):
    assert auto_window_workers(experts, gpus, cores) == want


def test_concurrent_windows_is_validated():
    assert load_training_parameters({}).concurrent_windows is None
    assert load_training_parameters({"concurrent_windows": 4}).concurrent_windows == 4
    for bad in (0, "2", 1.5):
        with pytest.raises(ValueError, match="concurrent_windows"):
            load_training_parameters({"concurrent_windows": bad})
