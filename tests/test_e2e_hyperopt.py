"""A short real `freqtrade hyperopt` over the strategy's entry space (the EV margin).

As a FreqAI user does it: after a backtest, over the same pairs, timerange and FreqAI
config, so that FreqAI loads the backtest's saved predictions instead of training again.
The backtest is the session's shared one (``demo_backtest``, tests/freqtrade_e2e.py); the
hyperopt runs on a copy of its user dir.
"""

from __future__ import annotations

import json

import pytest

from tests.freqtrade_e2e import DEMO_OVERRIDE, DEMO_PAIRS, DEMO_TIMERANGE, run_freqtrade

pytestmark = pytest.mark.e2e

EPOCHS = 6


def test_hyperopt_over_the_entry_space(demo_backtest, tmp_path):
    assert demo_backtest.returncode == 0, demo_backtest.output[-4000:]
    run = run_freqtrade(
        tmp_path, "hyperopt",
        "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
        "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", "buy",
        "--epochs", str(EPOCHS), "--timerange", DEMO_TIMERANGE,
        "-j", "1", "--random-state", "1", "--print-json", "--disable-param-export",
        pairs=DEMO_PAIRS, override=DEMO_OVERRIDE, copy_of=demo_backtest.userdir,
    )  # fmt: skip
    # every window's predictions came from the backtest: no model was trained again
    assert "Found backtesting prediction file" in run.log, run.log[-4000:]
    assert "Could not find backtesting prediction file" not in run.log, run.log[-4000:]
    results = list((run.userdir / "hyperopt_results").glob("*.fthypt"))
    assert results, "no hyperopt results file"
    epochs = [json.loads(line) for line in results[0].read_text().splitlines() if line.strip()]
    assert len(epochs) == EPOCHS
    spaces = set()
    for epoch in epochs:
        spaces |= set(epoch["params_details"])
    assert "buy" in spaces
    margins = {epoch["params_details"]["buy"]["entry_ev_margin"] for epoch in epochs}
    assert len(margins) > 1 and all(0.0 <= m <= 0.5 for m in margins)
