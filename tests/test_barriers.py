"""Triple-barrier labels against a plain loop over real candles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.trading.barriers import (
    BUY,
    NEUTRAL,
    SELL,
    barrier_distances,
    mean_time_return,
    time_barrier_mean_return,
    trailing_sigma,
    triple_barrier,
)
from tests.data_paths import load_candles


def naive_sigma(close: np.ndarray, window: int) -> np.ndarray:
    r = np.diff(np.log(close))
    out = np.full(close.size, np.nan)
    for t in range(window, close.size):
        out[t] = np.std(r[t - window : t], ddof=1)
    return out


def naive_labels(high, low, close, sigma, h, k_up, k_down, side):
    """One candle at a time, one future candle at a time."""
    n = close.size
    label = np.full(n, np.nan)
    ret = np.full(n, np.nan)
    for t in range(n):
        if t + h >= n or not (np.isfinite(sigma[t]) and sigma[t] > 0):
            continue
        d_take, d_stop = k_up * sigma[t] * math.sqrt(h), k_down * sigma[t] * math.sqrt(h)
        d_up, d_down = (d_take, d_stop) if side == "long" else (d_stop, d_take)
        upper, lower = close[t] * math.exp(d_up), close[t] * math.exp(-d_down)
        label[t], ret[t] = NEUTRAL, math.log(close[t + h] / close[t])
        for j in range(1, h + 1):
            up, down = high[t + j] >= upper, low[t + j] <= lower
            if up and down:  # both in one candle: the side's stop
                up, down = side == "short", side == "long"
            if up:
                label[t], ret[t] = BUY, d_up
                break
            if down:
                label[t], ret[t] = SELL, -d_down
                break
    return label, ret


@pytest.fixture(scope="module")
def btc(shared_candles) -> pd.DataFrame:
    # 6,000 candles of May 2021 (the crash: large candles that touch both barriers)
    df = load_candles("BTC", "5m")
    start = df.index[df["date"] >= pd.Timestamp("2021-05-12", tz="UTC")][0]
    return df.iloc[start : start + 6000].reset_index(drop=True)


def test_trailing_sigma_matches_the_window_std(btc):
    close = btc["close"].to_numpy()
    got = trailing_sigma(close, 50)
    want = naive_sigma(close, 50)
    assert np.isnan(got[:50]).all()
    np.testing.assert_allclose(got[50:], want[50:], rtol=1e-6)  # returns in 1e-8 units
    # the same value, to the bit, whatever the first candle (recursive-analysis stable)
    np.testing.assert_array_equal(trailing_sigma(close[777:], 50)[50:], got[777 + 50 :])


@pytest.mark.parametrize(
    ("h", "k_up", "k_down", "side"),
    [(48, 1.0, 1.0, "long"), (12, 1.5, 0.7, "long"), (2, 0.3, 0.3, "long"),
     (12, 1.5, 0.7, "short"), (2, 0.3, 0.3, "short")],
)  # fmt: skip
def test_labels_equal_a_naive_loop_on_real_candles(btc, h, k_up, k_down, side):
    high, low, close = (btc[c].to_numpy() for c in ("high", "low", "close"))
    sigma = trailing_sigma(close, 100)
    out = triple_barrier(high, low, close, sigma, h, k_up, k_down, side)
    label, ret = naive_labels(high, low, close, sigma, h, k_up, k_down, side)
    np.testing.assert_array_equal(out.label, label)
    np.testing.assert_allclose(out.log_return, ret, rtol=1e-12, equal_nan=True)
    # every class occurs; no label in the warm-up nor where the horizon passes the data
    assert set(np.unique(label[np.isfinite(label)])) == {SELL, NEUTRAL, BUY}
    assert np.isnan(out.label[-h:]).all() and np.isnan(out.label[:100]).all()
    assert np.isfinite(out.label[100:-h]).all()
    # barrier exits happen within the horizon, time exits at it
    barrier = np.isfinite(out.label) & (out.label != NEUTRAL)
    assert ((out.candles[barrier] >= 1) & (out.candles[barrier] <= h)).all()
    assert (out.candles[out.label == NEUTRAL] == h).all()


def test_a_candle_touching_both_barriers_counts_as_the_stop(btc):
    high, low, close = (btc[c].to_numpy() for c in ("high", "low", "close"))
    sigma = trailing_sigma(close, 100)
    h = 2
    take, stop = barrier_distances(sigma, h, 0.3, 0.3)
    upper, lower = close * np.exp(take), close * np.exp(-stop)
    # candles t whose next candle alone spans both barriers
    both = np.zeros(close.size, dtype=bool)
    both[:-1] = (high[1:] >= upper[:-1]) & (low[1:] <= lower[:-1])
    both &= np.isfinite(sigma)
    both[-h:] = False
    assert both.sum() >= 5  # the crash provides them: the rule is exercised
    long = triple_barrier(high, low, close, sigma, h, 0.3, 0.3, "long")
    short = triple_barrier(high, low, close, sigma, h, 0.3, 0.3, "short")
    assert (long.label[both] == SELL).all() and (long.candles[both] == 1).all()
    assert (short.label[both] == BUY).all()


def test_the_end_of_the_data_and_short_series():
    close = np.exp(np.linspace(0.0, 0.1, 30))
    sigma = np.full(30, 0.01)
    out = triple_barrier(close * 1.001, close * 0.999, close, sigma, 5, 1.0, 1.0)
    assert np.isnan(out.label[-5:]).all() and np.isfinite(out.label[:-5]).all()
    assert np.isnan(
        triple_barrier(close[:4], close[:4], close[:4], sigma[:4], 5, 1.0, 1.0).label
    ).all()


def test_steady_rise_is_buy_and_time_mean_is_the_neutral_returns():
    close = 100 * np.exp(np.r_[np.zeros(20), np.linspace(0.0, 0.2, 40)])
    sigma = np.full(close.size, 0.002)
    out = triple_barrier(close, close, close, sigma, 4, 1.0, 1.0)
    assert (out.label[22:-4] == BUY).all()
    assert (out.label[:15] == NEUTRAL).all()
    assert time_barrier_mean_return(out) == pytest.approx(
        np.mean(np.expm1(out.log_return[out.label == NEUTRAL]))
    )
    assert time_barrier_mean_return(out, "short") == pytest.approx(
        -np.mean(np.expm1(out.log_return[out.label == NEUTRAL]))
    )


def test_bad_input_is_named():
    x = np.ones(10)
    with pytest.raises(ValueError, match="horizon"):
        triple_barrier(x, x, x, x, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="multipliers"):
        triple_barrier(x, x, x, x, 2, k_up=0.0, k_down=1.0)
    with pytest.raises(ValueError, match="side"):
        triple_barrier(x, x, x, x, 2, 1.0, 1.0, side="up")
    with pytest.raises(ValueError, match="lengths"):
        triple_barrier(x, x[:5], x, x, 2, 1.0, 1.0)
    with pytest.raises(ValueError, match="window"):
        trailing_sigma(x, 1)
    with pytest.raises(ValueError, match="positive"):
        trailing_sigma(np.r_[x, -1.0], 3)


def test_mean_time_return_of_a_label_column(btc):
    high, low, close = (btc[c].to_numpy() for c in ("high", "low", "close"))
    out = triple_barrier(high, low, close, trailing_sigma(close, 100), 12, 1.0, 1.0)
    got = mean_time_return(close, out.label == NEUTRAL, 12)
    rows = [t for t in range(close.size - 12) if out.label[t] == NEUTRAL]
    assert got == pytest.approx(np.mean([close[t + 12] / close[t] - 1 for t in rows]))
    assert got == pytest.approx(time_barrier_mean_return(out))
    assert np.isnan(mean_time_return(close[:5], np.ones(5, bool), 12))


def test_trailing_sigma_of_returns_too_large_for_its_integer_sums():
    """200 x (3e8)^2 does not fit int64 (it raised "too large", issue 23): the windows
    holding such a return are the standard deviation of their own returns, whatever the
    first candle; the other windows keep the integer sums."""
    r = np.r_[0.0, np.random.default_rng(0).normal(0, 0.01, 600)]
    r[300] = 3.0  # one candle of x e^3
    close = np.exp(r.cumsum())
    sigma = trailing_sigma(close, 200)
    rows = np.arange(300, 500)  # the windows that hold r[300]
    want = [np.std(np.diff(np.log(close))[t - 200 : t], ddof=1) for t in rows]
    assert np.allclose(sigma[rows], want, rtol=1e-9)
    assert np.allclose(trailing_sigma(close[50:], 200)[rows - 50], sigma[rows], rtol=0, atol=0)
    assert np.array_equal(sigma[:300], trailing_sigma(close[:300], 200), equal_nan=True)
