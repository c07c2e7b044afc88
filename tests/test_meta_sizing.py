"""hyperphysics.meta_label in the strategy (issue #25 item 4): the meta-model drops entries it
does not expect to pay, sizes the others, and reads no outcome that was unknown at its block."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hyperphysics_strategy.strategy.meta_sizing import META_P, META_SIZE, scaled_stake
from hyperphysics_strategy.strategy.settings import load_settings
from tests.test_entry_summary import run, strategy

META = {"meta_label": {"enabled": True, "min_bets": 10, "refit_hours": 1}}


@pytest.fixture
def margin_minus_one(monkeypatch):
    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    monkeypatch.setattr(HyperPhysicsStrategy.entry_ev_margin, "value", -1.0)


def meta_strategy(tmp_path, section):
    """test_entry_summary's fake strategy in a backtest (200 trusted candles, every one an
    entry at the margin -1) with ``section`` as its hyperphysics config."""
    strat, candles = strategy(tmp_path, "backtest")
    strat.settings = load_settings({"hyperphysics": section})
    strat.edge_gate.settings = strat.settings
    return strat, candles


def test_off_by_default_the_entries_are_the_rules(tmp_path, margin_minus_one):
    strat, candles = meta_strategy(tmp_path, {})
    df = run(strat, candles)
    assert df["enter_long"].sum() == 200 and META_P not in df.columns


def test_the_meta_model_drops_and_sizes_entries(tmp_path, margin_minus_one):
    strat, candles = meta_strategy(tmp_path, META)
    df = run(strat, candles)
    proposed = df["do_predict"] == 1  # the rule's entries, before the meta-model
    p, size = df.loc[proposed, META_P], df.loc[proposed, META_SIZE]
    # the first bets have no meta-model (fewer than 10 resolved bets before their hour)
    assert p.iloc[:10].isna().all() and p.notna().sum() > 150
    assert ((size >= 0) & (size <= 1) | size.isna()).all()
    entered = df["enter_long"] == 1
    assert (entered == (df[META_SIZE] > 0)).all()  # an entry is a bet worth a stake
    assert 0 < entered.sum() < 200
    assert df.loc[~proposed, META_P].isna().all()  # no bet, no probability


def test_appending_candles_changes_no_past_entry(tmp_path, margin_minus_one):
    strat, candles = meta_strategy(tmp_path, META)
    full = run(strat, candles)
    cut = run(strat, candles.iloc[:600].copy())
    cols = ["enter_long", META_P, META_SIZE]
    pd.testing.assert_frame_equal(full.loc[:599, cols], cut[cols])


def test_the_stake_is_scaled_by_the_size():
    row = pd.Series({META_SIZE: 0.25})
    assert scaled_stake(row, 100.0, 10.0) == 25.0
    assert scaled_stake(row, 100.0, 30.0) == 0.0  # below the exchange's minimum: no entry
    assert scaled_stake(pd.Series({META_SIZE: math.nan}), 100.0, 10.0) == 100.0
    assert scaled_stake(None, 100.0, None) == 100.0


def test_the_strategys_stake_goes_through_it(tmp_path, monkeypatch):
    from hyperphysics_strategy.strategy import trade_barriers

    strat, _ = meta_strategy(tmp_path, META)

    def var_stake(self, pair, current_time, current_rate, proposed_stake, min_stake, max_stake,
                  leverage, entry_tag, side, **kwargs):  # fmt: skip
        return 80.0

    monkeypatch.setattr(trade_barriers.BarrierTrades, "custom_stake_amount", var_stake)
    monkeypatch.setattr(strat, "_last_row", lambda pair: pd.Series({META_SIZE: 0.5}))
    args = {
        "pair": "BTC/USDT",
        "current_time": None,
        "current_rate": 1.0,
        "proposed_stake": 100.0,
        "min_stake": 5.0,
        "max_stake": 1000.0,
        "leverage": 1.0,
        "entry_tag": "ev_long",
        "side": "long",
    }  # fmt: skip  (as freqtrade calls it: every argument by keyword)
    assert strat.custom_stake_amount(**args) == 40.0
    assert strat.custom_stake_amount(**{**args, "min_stake": 50.0}) == 0.0
    assert strat.custom_stake_amount(*args.values()) == 40.0  # by position too
    strat.settings = load_settings({})
    assert strat.custom_stake_amount(**args) == 80.0
