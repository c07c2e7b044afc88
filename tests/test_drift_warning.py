"""The feature-drift WARNING fires on real drift only (issue #21, finding 7).

Consecutive windows of real candles shift many features past the conventional PSI 0.25
(volatility and volume levels, the day of the week in a short recent sample); the warning's
threshold comes from benchmarks/studies/drift_calibration.py. The api.md example and a FreqAI-shaped
window of real 5m candles stay below it; the same candles shifted in level and scale do not.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hyperphysics_strategy import ExpertEnsemble, build_features, build_training_set
from hyperphysics_strategy.ensemble.drift import WARN_SHARE, feature_drift

from .data_paths import DEMO_CANDLES

DRIFT_LOG = "hyperphysics_strategy.ensemble.ensemble"


def drift_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == DRIFT_LOG and r.levelno >= logging.WARNING and "feature drift" in r.message
    ]


def test_the_api_example_trains_without_a_drift_warning(caplog):
    """docs/api.md's ensemble example (BTC/USDT 1h, the bundled candles), fewer trees."""
    candles = pd.read_feather(DEMO_CANDLES / "BTC_USDT-1h.feather")
    X, y = build_training_set(candles, horizon=12)
    ensemble = ExpertEnsemble(
        ["lightgbm"], {"lightgbm": {"n_estimators": 10}}, embargo=12, stacking_folds=0
    )
    with caplog.at_level(logging.DEBUG, logger=DRIFT_LOG):
        ensemble.fit(X.to_numpy("float32"), y.to_numpy())
    assert ensemble.report_.drift is not None and ensemble.report_.drift.n_major > 0
    assert drift_warnings(caplog) == []
    # the drift is still reported, below WARNING
    assert any("feature drift" in r.getMessage() for r in caplog.records if r.name == DRIFT_LOG)


def test_consecutive_real_windows_are_not_drift_but_a_shifted_market_is():
    """A FreqAI-shaped window of real 5m candles (24 days of training rows, the last 500 of
    the next 6 days as recent rows) is normal; the same recent candles with four times the
    swings on a 0.3%-a-candle rally (a blow-off) at ten times the volume are not."""
    candles = pd.read_feather(DEMO_CANDLES / "BTC_USDT-5m.feather")
    feats = build_features(candles).iloc[60:]
    train, test = feats.iloc[:6912], feats.iloc[6912 : 6912 + 1728]
    normal = feature_drift(train.to_numpy(), test.to_numpy()[-500:], list(feats.columns))
    assert normal.n_major > 0 and not normal.warn, normal.line()

    recent = candles.iloc[60 + 6912 + 1728 - 800 : 60 + 6912 + 1728].copy()
    first = recent["close"].iloc[0]
    rally = np.exp(0.003 * np.arange(len(recent)))
    for column in ("open", "high", "low", "close"):
        recent[column] = (first + 4.0 * (recent[column] - first)) * rally
    recent["volume"] *= 10.0
    shifted = build_features(recent).iloc[-500:]
    report = feature_drift(train.to_numpy(), shifted.to_numpy(), list(feats.columns))
    assert report.warn and report.major_share > WARN_SHARE, report.line()
    assert "beyond the" in report.line()


def test_a_shifted_distribution_is_a_warning(caplog):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)).astype("float32")
    y = np.array(["sell", "neutral", "buy"], dtype=object)[rng.integers(0, 3, 3000)]
    X[-300:] = X[-300:] * 3.0 + 2.0  # every feature drifts in the most recent rows
    ensemble = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 5}}, drift_rows=300)
    with caplog.at_level(logging.DEBUG, logger=DRIFT_LOG):
        ensemble.fit(X, y)
    assert ensemble.report_.drift.warn
    assert len(drift_warnings(caplog)) == 1
