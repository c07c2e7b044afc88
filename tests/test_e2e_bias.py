"""`freqtrade lookahead-analysis` and `recursive-analysis` on HyperPhysicsStrategy.

Both re-run FreqAI (training included) over truncated ranges, so they run on one pair
and one short backtest window. freqtrade itself says that the targets (the ``&``
columns of ``set_freqai_targets``) look ahead by design.

A FreqAI limitation shows up too: a backtest cut at a signal candle gets no prediction
for that last candle (FreqAI fills it with 0), so lookahead-analysis lists every column
FreqAI returns (the class probabilities, ``do_predict``, the model's ``hp_m_time``) and
those computed from them at that candle (``hp_ev_long``, ``enter_long``, ``enter_tag``)
among its "biased indicators" although the signals themselves agree: the cut run shows
exactly 0.0 for every class probability, which a prediction (summing to 1) never does.
The test checks that, accepts exactly those columns, and requires no biased entry or exit
signal and no other column.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from tests.freqtrade_e2e import run_freqtrade

pytestmark = pytest.mark.e2e

PAIRS = ["BTC/USDT"]
FAST = {
    "exchange": {"pair_whitelist": PAIRS},
    "freqai": {
        "identifier": "e2e-bias",
        "train_period_days": 7,
        "backtest_period_days": 2,
        "feature_parameters": {"indicator_periods_candles": [10]},
        "model_training_parameters": {
            "lightgbm": {"n_estimators": 40},
            "xgboost": {"n_estimators": 40},
        },
    },
}
# Signals are needed to check them: a negative EV margin makes the strategy trade.
TRADING = {"buy": {"entry_ev_margin": -0.3}}
FREQAI_RETURNS = {"sell", "neutral", "buy", "do_predict", "hp_m_time"}
FROM_PREDICTIONS = {"hp_ev_long", "enter_long", "enter_tag"}
LOOKAHEAD_VALUE = re.compile(r"found look ahead bias in column (\S+)\. (\S+) != (\S+)\s*$")
LOOKAHEAD_INDICATOR = re.compile(r"=> found lookahead in indicator (\S+)")


def run(tmp_path, subcommand: str, *args: str) -> str:
    return run_freqtrade(
        tmp_path, subcommand,
        "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble", *args,
        pairs=PAIRS, override=FAST, strategy_params=TRADING,
    ).log  # fmt: skip


def test_lookahead_analysis_finds_no_bias(tmp_path):
    export = tmp_path / "lookahead.csv"
    log = run(
        tmp_path, "lookahead-analysis", "--timerange", "20210420-20210422",
        "--minimum-trade-amount", "1", "--targeted-trade-amount", "2",
        "--lookahead-analysis-exportfilename", str(export),
    )  # fmt: skip
    table = pd.read_csv(export)
    assert len(table) == 1, table
    row = table.iloc[0]
    assert row["total_signals"] >= 1, log[-3000:]
    assert row["biased_entry_signals"] == 0 and row["biased_exit_signals"] == 0, row
    biased = {c.strip() for c in str(row["biased_indicators"]).split(",")} - {"", "nan"}
    others = {c for c in biased if "&" not in c} - FREQAI_RETURNS - FROM_PREDICTIONS
    assert others == set(), biased
    # the cut run did not predict its last candle: FreqAI's zero fill, not a model's output
    cut = {
        m.group(1): m.group(3) for line in log.splitlines() if (m := LOOKAHEAD_VALUE.search(line))
    }
    probabilities = {c: v for c, v in cut.items() if c in ("sell", "neutral", "buy")}
    assert probabilities and set(probabilities.values()) == {"0.0"}, cut


def test_recursive_analysis_finds_no_bias_in_the_strategy_columns(tmp_path):
    """With the regime feature group on (daily blocks, so that it adds a few fits): its
    columns, fitted per block and filtered forward, do not change with the startup candles
    either."""
    regime = {"regime": {"enabled": True, "fit_hours": 24, "refit_hours": 24, "warmup_hours": 2}}
    result = run_freqtrade(
        tmp_path, "recursive-analysis",
        "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
        "--timerange", "20210420-20210422", "--startup-candle", "600",
        pairs=PAIRS, override={**FAST, "hyperphysics": regime}, strategy_params=TRADING,
    )  # fmt: skip
    log = result.log
    lookahead = set(LOOKAHEAD_INDICATOR.findall(log))
    assert {c for c in lookahead if "&" not in c} - FREQAI_RETURNS - FROM_PREDICTIONS == set(), log[
        -3000:
    ]
    # the strategy's own columns do not change with the startup candles
    for column in ("hp_sigma", "hp_var_99_1d", "hp_es_99", "hp_regime_p1"):
        assert not re.search(rf"│\s*{column}\s*│", log), log[-3000:]
    flat = " ".join(log.split())  # freqtrade's console wraps long lines
    assert "'regime': {'enabled': True" in flat and "regime model: no fit" not in flat
    # the models were trained on the regime column (so the sub-runs computed it)
    metadata = list((result.userdir / "models").glob("*/sub-train-*/*_metadata.json"))
    assert metadata and all(
        "%-regime_p1" in json.loads(m.read_text())["training_features_list"] for m in metadata
    )
