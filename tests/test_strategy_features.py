import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.strategy import features
from tests.data_paths import load_candles


def test_barrier_labels_name_the_barrier_touched_first():
    # Flat-ish noise then a strong rise: the rise is labelled buy, the noise mostly neutral.
    rng = np.random.default_rng(0)
    steps = np.r_[rng.normal(0, 0.001, 400), np.full(50, 0.01)]
    close = 100 * np.exp(np.cumsum(steps))
    df = pd.DataFrame({"close": close, "high": close * 1.0002, "low": close * 0.9998})
    labels = features.barrier_labels(df, horizon=5, vol_window=100, k_up=2.0, k_down=2.0)
    assert labels.iloc[-5:].isna().all()  # future unknown
    assert labels.iloc[:100].isna().all()  # volatility warm-up
    assert (labels.iloc[400:440] == "buy").all()
    assert (labels.iloc[100:380] == "neutral").mean() > 0.5
    assert set(labels.dropna()) == {"buy", "neutral", "sell"}


def test_labels_reject_bad_horizon():
    df = pd.DataFrame({"close": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0]})
    with pytest.raises(ValueError, match="horizon"):
        features.barrier_labels(df, 0, 10)


def test_features_are_finite_after_warmup(shared_candles):
    df = load_candles("ETH").iloc[:2000].copy()
    df = features.add_indicator_features(df, 20)
    df = features.add_basic_features(df)
    df = features.add_calendar_features(df)
    cols = [c for c in df.columns if c.startswith("%")]
    assert len(cols) >= 15
    tail = df[cols].iloc[100:]
    assert np.isfinite(tail.to_numpy(dtype=float)).all()
