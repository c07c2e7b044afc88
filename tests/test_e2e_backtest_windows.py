"""`freqtrade backtesting` with a pair's windows trained concurrently equals a sequential run.

The smallest backtest that still has three windows and trades: one pair, the LightGBM
expert alone with ten trees, two training days and one-day windows. The same backtest runs
with ``concurrent_windows: 1`` (FreqAI's own loop, one window after the other) and ``3``
(every window at once); trades, saved models, their metadata and the saved predictions
must be identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from freqtrade.data.btanalysis import load_backtest_data

from tests.freqtrade_e2e import LOOSE_THRESHOLDS, run_freqtrade

pytestmark = pytest.mark.e2e

IDENTIFIER = "windows"
TIMERANGE = "20210420-20210423"  # three one-day windows


def config(concurrent_windows: int) -> dict:
    return {
        "freqai": {
            "identifier": IDENTIFIER,
            "train_period_days": 2,
            "backtest_period_days": 1,
            "save_backtest_models": True,
            "feature_parameters": {"indicator_periods_candles": [10]},
            "model_training_parameters": {
                "concurrent_windows": concurrent_windows,
                "stacking_folds": 0,
                "lightgbm": {"n_estimators": 10},
            },
        },
    }


def _metadata(path: Path, userdir: Path) -> dict:
    """A model's metadata json without what differs between any two runs: the run's
    folder and the measured training seconds."""
    text = path.read_text().replace(str(userdir), "<userdir>")
    meta = json.loads(text)
    report = meta["hyperphysics_ensemble"]
    report.pop("wall_seconds")
    for expert in report["experts"]:
        expert.pop("seconds")
    return meta


def _saved_windows(userdir: Path) -> dict[str, Path]:
    root = userdir / "models" / IDENTIFIER
    return {p.name: p for p in sorted(root.glob("sub-train-*"))}


def test_concurrent_windows_give_the_sequential_backtest(tmp_path):
    runs = {}
    for n in (1, 3):
        run = run_freqtrade(
            tmp_path / f"n{n}", "backtesting",
            "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsLightGBMClassifier",
            "--timerange", TIMERANGE, "--cache", "none", "--export", "trades",
            pairs=["BTC/USDT"], override=config(n), strategy_params=LOOSE_THRESHOLDS,
        )  # fmt: skip
        runs[n] = run.log, run.userdir

    seq_log, seq_dir = runs[1]
    con_log, con_dir = runs[3]
    assert "backtest windows train at once" not in seq_log
    assert "up to 3 of 3 backtest windows train at once" in con_log
    # concurrently: every window starts training before FreqAI's loop reaches window 2
    before_second = con_log.split("2/3 trains")[0]
    assert before_second.count("Starting training BTC/USDT") == 3
    assert seq_log.split("2/3 trains")[0].count("Starting training BTC/USDT") == 1

    # the same trades
    seq_trades = load_backtest_data(seq_dir / "backtest_results")
    con_trades = load_backtest_data(con_dir / "backtest_results")
    assert len(seq_trades) > 0
    pd.testing.assert_frame_equal(seq_trades, con_trades)

    # the same three saved models, metadata, pipelines, training rows and predictions
    seq_windows, con_windows = _saved_windows(seq_dir), _saved_windows(con_dir)
    assert len(seq_windows) == 3 and seq_windows.keys() == con_windows.keys()
    for name, seq_path in seq_windows.items():
        con_path = con_windows[name]
        stem = next(seq_path.glob("*_model.joblib")).name.removesuffix("_model.joblib")
        assert _metadata(seq_path / f"{stem}_metadata.json", seq_dir) == _metadata(
            con_path / f"{stem}_metadata.json", con_dir
        )
        train_seq = pd.read_pickle(seq_path / f"{stem}_trained_df.pkl")
        pd.testing.assert_frame_equal(
            train_seq, pd.read_pickle(con_path / f"{stem}_trained_df.pkl")
        )
        pd.testing.assert_series_equal(
            pd.read_pickle(seq_path / f"{stem}_trained_dates_df.pkl"),
            pd.read_pickle(con_path / f"{stem}_trained_dates_df.pkl"),
        )
        pipeline = f"{stem}_feature_pipeline.pkl"
        assert (seq_path / pipeline).read_bytes() == (con_path / pipeline).read_bytes()
        X = train_seq.to_numpy()  # the training features, after that pipeline
        seq_model = joblib.load(seq_path / f"{stem}_model.joblib")
        con_model = joblib.load(con_path / f"{stem}_model.joblib")
        np.testing.assert_array_equal(seq_model.predict_proba(X), con_model.predict_proba(X))
        assert [e.name for e in con_model.experts_] == ["lightgbm"]

    predictions = sorted((seq_dir / "models" / IDENTIFIER / "backtesting_predictions").iterdir())
    assert len(predictions) == 3
    for path in predictions:
        other = con_dir / "models" / IDENTIFIER / "backtesting_predictions" / path.name
        pd.testing.assert_frame_equal(pd.read_feather(path), pd.read_feather(other))
