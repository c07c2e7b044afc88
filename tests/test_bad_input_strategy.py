"""Bad input a running bot meets: the strategy's per-candle path (issue 16;
docs/reliability.md).

An exchange error, a failing step or a bad candle costs only that step or that candle's
row; the candle's predictions and signals still come.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.bad_input import book
from tests.synthetic import random_walk_candles

# -- the strategy's per-candle hot path (outside FreqAI) -------------------------------------


def _live_strategy(tmp_path: Path, orderbook: Callable):
    """The strategy as a dry run sees it: a fake ``dp`` whose ``orderbook`` is given and a
    fake FreqAI that returns fixed predictions (what FreqAI does is not under test)."""

    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    strat = HyperPhysicsStrategy(
        {
            "user_data_dir": tmp_path,
            "stake_currency": "USDT",
            "exchange": {"name": "binance"},
            "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": 12}},
            # the edge gate would keep a dry run without a champion flat: not under test here
            "hyperphysics": {"require_edge": False},
        }
    )
    strat.dp = SimpleNamespace(runmode=SimpleNamespace(value="dry_run"), orderbook=orderbook)

    def start(df, metadata, strategy):
        return df.assign(sell=0.1, neutral=0.2, buy=0.7, do_predict=1)

    strat.freqai = SimpleNamespace(start=start)
    strat.freqai_info = strat.config["freqai"]  # set by freqtrade's ft_bot_start
    return strat, random_walk_candles(400, seed=3)


def test_exchange_error_from_the_order_book_still_gives_the_candle_signals(tmp_path, caplog):
    """``dp.orderbook`` raising an exchange error used to raise before FreqAI ran, so the
    pair's candle was skipped: now a warning, and the candle's predictions and signals come."""
    from freqtrade.exceptions import TemporaryError

    def orderbook(pair, levels):
        raise TemporaryError("binance GET /api/v3/depth 503 Service Unavailable")

    strat, candles = _live_strategy(tmp_path, orderbook)
    with caplog.at_level("WARNING"):
        df = strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    assert "recording the order book failed" in caplog.text and "503" in caplog.text
    assert (df["buy"] == 0.7).all() and np.isfinite(df["hp_sigma"].iloc[-1])
    assert np.isfinite(df["hp_var_99_1d"].iloc[-1]) and "hp_ob_source" in df
    df = strat.populate_entry_trend(df, {"pair": "BTC/USDT"})
    assert "enter_long" in df and df["enter_long"].iloc[-1] in (0, 1)


def test_every_per_candle_step_outside_freqai_is_guarded(tmp_path, caplog, monkeypatch):
    """A failure in the risk columns, the order-book columns or the log line costs only
    that step: a warning names it, and the predictions and the other columns still come."""
    from hyperphysics_strategy.strategy import hyperphysics_strategy as hs

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    strat, candles = _live_strategy(tmp_path, lambda pair, levels: {"bids": [], "asks": []})
    monkeypatch.setattr(hs.risk_features, "add_risk_management_columns", broken)
    monkeypatch.setattr(strat.orderbooks, "add", broken)
    monkeypatch.setattr(hs, "_log_prediction", broken)
    with caplog.at_level("WARNING"):
        df = strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    for step in ("the risk columns", "the order-book columns", "logging the prediction"):
        assert f"{step} failed" in caplog.text
    assert (df["buy"] == 0.7).all() and np.isfinite(df["hp_sigma"].iloc[-1])
    assert "enter_long" in strat.populate_entry_trend(df, {"pair": "BTC/USDT"})


def test_ccxt_three_element_levels_are_recorded(tmp_path):
    """ccxt's ``[price, qty, count]`` levels (some exchanges add the order count) were
    rejected; the first two fields are recorded, exactly as the two-element book."""
    from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks

    bids, asks = book(0, levels=5)
    three = {"bids": [[*lv, 3] for lv in bids], "asks": [[*lv, 7] for lv in asks]}
    strat, candles = _live_strategy(tmp_path, lambda pair, levels: three)
    strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    strat.orderbooks.record("ETH/USDT", {"bids": bids, "asks": asks, "timestamp": 5}, 0)
    root = tmp_path / "orderbooks"
    _, b3, a3 = read_orderbooks(pair_path(root, "binance", "BTC/USDT"))
    _, b2, a2 = read_orderbooks(pair_path(root, "binance", "ETH/USDT"))
    assert len(b3) == 1 and np.array_equal(b3, b2, equal_nan=True)
    assert np.array_equal(a3, a2, equal_nan=True)


@pytest.mark.parametrize("bad", [np.nan, 0.0, -5.0, np.inf])
def test_a_bad_close_costs_the_risk_columns_only_its_own_row(bad):
    """One NaN, zero, negative or infinite close made ``add_risk_columns`` raise ("spot must
    be > 0"). Now it counts as missing from the returns: only its row loses values (floors
    and Greeks); every other value that was finite stays finite and close to the clean one."""
    import pandas as pd

    from hyperphysics_strategy.engine.risk import GPURiskEngine
    from hyperphysics_strategy.strategy.risk_features import add_risk_columns

    rng = np.random.default_rng(0)
    clean = pd.DataFrame({"close": 100 * np.exp(np.cumsum(rng.normal(0, 0.003, 600)))})
    dirty = clean.copy()
    dirty.loc[400, "close"] = bad
    want = add_risk_columns(clean, GPURiskEngine(seed=0), 300, window=288)
    got = add_risk_columns(dirty, GPURiskEngine(seed=0), 300, window=288)
    cols = [c for c in want.columns if c != "close"]
    lost = np.isfinite(want[cols].to_numpy()) & ~np.isfinite(got[cols].to_numpy())
    assert set(np.nonzero(lost)[0]) == {400}
    assert got.loc[400, ["hp_var_95_floor", "hp_var_99_floor", "%-atm_gamma"]].isna().all()
    others = got.drop(index=400)[cols].to_numpy()
    ok = np.isfinite(others)
    assert np.allclose(others[ok], want.drop(index=400)[cols].to_numpy()[ok], rtol=0.05)


def _set(column: str, rows, value: float) -> Callable:
    def edit(c):
        c = c.copy()
        c.loc[list(rows), column] = value
        return c

    return edit


@pytest.mark.parametrize(
    "edit, rows",
    [
        (_set("close", [600], np.nan), [600]),
        (_set("close", [600], 0.0), [600]),
        (_set("close", [600], -1.0), [600]),
        (_set("high", [600, 601, 602], np.inf), [600, 601, 602]),
        (_set("volume", [700], np.nan), [700]),
        (_set("open", [400], 0.0), [400]),
    ],
    ids=["nan-close", "zero-close", "negative-close", "inf-highs", "nan-volume", "zero-open"],
)
def test_bad_prices_cost_the_training_set_only_their_own_rows(edit, rows):
    """One NaN close in ``build_training_set`` dropped 1,247 of 1,396 rows (TA-Lib carries
    the NaN forward; the volatility of the labels now raised). A bad candle is now a flat
    candle at the last valid close for the indicators and labels of the others, and only
    its own row is dropped; the other rows' labels barely move."""
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir
    from hyperphysics_strategy.strategy.features import build_training_set

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    X, y = build_training_set(candles)
    X2, y2 = build_training_set(edit(candles))
    assert np.isfinite(X2.to_numpy()).all()
    assert sorted(set(X.index) - set(X2.index)) == rows and set(X2.index) <= set(X.index)
    assert (y2 == y.loc[X2.index]).mean() > 0.99


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0])
def test_a_bad_close_costs_the_strategys_freqai_features_only_its_own_row(tmp_path, bad):
    """The strategy's FreqAI feature hooks (indicators, candle shape, calendar, order-book
    and risk columns) on a live-sized frame with one bad close: every feature that is
    finite on the clean frame stays finite, except on the bad candle's own row."""
    strat, candles = _live_strategy(tmp_path, lambda pair, levels: {})
    meta = {"pair": "BTC/USDT"}

    def features(df):
        df = strat.feature_engineering_expand_all(df, 10, meta)
        df = strat.feature_engineering_expand_basic(df, meta)
        return strat.feature_engineering_standard(df, meta)

    clean = features(candles.copy())
    dirty = candles.copy()
    dirty.loc[350, "close"] = bad
    got = features(dirty)
    cols = [c for c in clean.columns if c.startswith("%")]
    assert len(cols) > 30 and list(got.columns) == list(clean.columns)
    lost = np.isfinite(clean[cols].to_numpy()) & ~np.isfinite(got[cols].to_numpy())
    assert set(np.nonzero(lost)[0]) == {350}


# -- candles without predictions (issue 23) ------------------------------------------------


def test_candles_without_predictions_enter_nothing_and_the_pair_goes_on(tmp_path, caplog):
    """A pair whose data starts after the backtest start gets no prediction columns from
    FreqAI, and ``populate_entry_trend`` aborted the whole backtest with ``KeyError:
    'buy'``. Now those candles enter nothing (one warning per pair); candles whose
    probabilities are NaN (features with NaN or inf) enter nothing either, and the others
    still enter."""
    strat, candles = _live_strategy(tmp_path, lambda pair, levels: {})
    strat.freqai.start = lambda df, metadata, strategy: df  # FreqAI predicted nothing
    meta = {"pair": "BTC/USDT"}
    df = strat.populate_indicators(candles, meta)
    with caplog.at_level("WARNING"):
        first = strat.populate_entry_trend(df.copy(), meta)
        second = strat.populate_entry_trend(df.copy(), meta)
    assert (first["enter_long"] == 0).all() and (second["enter_long"] == 0).all()
    assert caplog.text.count("no entries for them") == 1 and "buy" in caplog.text

    def start(df, metadata, strategy):  # confident buys; rows 340..359 without numbers
        df = df.assign(sell=0.02, neutral=0.03, buy=0.95, do_predict=1)
        df.loc[340:359, ["sell", "neutral", "buy"]] = np.nan
        return df

    strat.freqai.start = start
    out = strat.populate_entry_trend(strat.populate_indicators(candles, meta), meta)
    assert (out.loc[340:359, "enter_long"] == 0).all()
    assert out.loc[300:339, "enter_long"].sum() > 0 and out.loc[360:, "enter_long"].sum() > 0
