"""Every silence explained (issue #21, finding 5; #25 item 5): per pair, the entries, the
share of candles with ``do_predict`` 1 and the highest EV reached against the entry margin,
logged once per pair in a backtest, at most hourly live, never in hyperopt."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy
from tests.synthetic import random_walk_candles

LOGGER = "hyperphysics_strategy.strategy.hyperphysics_strategy"
N = 700  # candles, 300 of them before the first prediction (FreqAI fills them with zeros)


def strategy(tmp_path, runmode: str) -> tuple[HyperPhysicsStrategy, pd.DataFrame]:
    """The strategy with a fake ``dp`` in ``runmode`` and a fake FreqAI whose probabilities
    sit at the class frequencies (no edge: EV about minus the fees), trusted on half the
    predicted candles."""
    strat = HyperPhysicsStrategy(
        {
            "user_data_dir": tmp_path,
            "stake_currency": "USDT",
            "exchange": {"name": "binance"},
            "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": 12}},
        }
    )
    strat.dp = SimpleNamespace(runmode=SimpleNamespace(value=runmode))

    def start(df, metadata, strategy):
        predicted = np.arange(len(df)) >= 300
        return df.assign(
            sell=np.where(predicted, 0.3, 0.0),
            neutral=np.where(predicted, 0.4, 0.0),
            buy=np.where(predicted, 0.3, 0.0),
            do_predict=np.where(predicted & (np.arange(len(df)) % 2 == 0), 1, 0),
        )

    strat.freqai = SimpleNamespace(start=start)
    strat.freqai_info = strat.config["freqai"]
    return strat, random_walk_candles(N, seed=5)


def summaries(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and "predicted candles" in r.getMessage()
    ]


def run(strat, candles, pair="BTC/USDT") -> pd.DataFrame:
    df = strat.populate_indicators(candles.copy(), {"pair": pair})
    return strat.populate_entry_trend(df, {"pair": pair})


def test_a_flat_backtest_says_why_per_pair(tmp_path, caplog):
    strat, candles = strategy(tmp_path, "backtest")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
        run(strat, candles, "ETH/USDT")
    lines = summaries(caplog)
    assert len(lines) == 2 and "ETH/USDT" in lines[1], lines
    line = lines[0]
    assert df["enter_long"].sum() == 0
    assert line.startswith("HyperPhysics BTC/USDT: 0 entry signal(s) over 400 predicted candles")
    assert "do_predict 1 on 50.0%" in line
    best = re.search(r"best long EV ([-+]\d\.\d{3}) x sigma\*sqrt\(h\)", line)
    assert best and float(best.group(1)) < 0 and "below the margin +0.00" in line, line
    # the reported best is the highest EV / (sigma sqrt h) over the trusted candles
    trusted = df[df["do_predict"] == 1]
    expected = (trusted["hp_ev_long"] / (trusted["hp_sigma"] * 12**0.5)).max()
    assert float(best.group(1)) == pytest.approx(expected, abs=5e-4)
    assert line.endswith("; no entry: the model never priced a bet above the margin after fees")


def test_a_pair_freqai_never_trusted_says_so(tmp_path, caplog):
    strat, candles = strategy(tmp_path, "backtest")
    start = strat.freqai.start
    strat.freqai.start = lambda df, metadata, s: start(df, metadata, s).assign(do_predict=0)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(strat, candles)
    (line,) = summaries(caplog)
    assert "do_predict 1 on 0.0%" in line and "best long EV: none" in line
    assert line.endswith(
        "; no entry: FreqAI trusted no candle (its outlier checks set them all aside)"
    )


def test_an_entry_clears_the_margin(tmp_path, caplog, monkeypatch):
    strat, candles = strategy(tmp_path, "backtest")
    # every trusted candle clears it (the parameter object is the class's: undone after)
    monkeypatch.setattr(strat.entry_ev_margin, "value", -1.0)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    (line,) = summaries(caplog)
    n = int(df["enter_long"].sum())
    assert n == 200 and line.startswith(f"HyperPhysics BTC/USDT: {n} entry signal(s)")
    assert "clears the margin -1.00" in line


def test_live_is_hourly_per_pair_and_hyperopt_is_quiet(tmp_path, caplog):
    strat, candles = strategy(tmp_path, "dry_run")
    now = [0.0]
    strat.entry_summaries.cadence.clock = lambda: now[0]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(strat, candles)
        now[0] = 3000.0
        run(strat, candles)  # same pair within the hour: quiet
        run(strat, candles, "ETH/USDT")
        now[0] = 3601.0
        run(strat, candles)
    assert [line.split(":")[0] for line in summaries(caplog)] == [
        "HyperPhysics BTC/USDT", "HyperPhysics ETH/USDT", "HyperPhysics BTC/USDT",
    ]  # fmt: skip
    caplog.clear()
    strat, candles = strategy(tmp_path, "hyperopt")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(strat, candles)
    assert summaries(caplog) == []


@pytest.mark.e2e
def test_the_demo_backtest_explains_each_pair(demo_backtest):
    """The shared demo backtest (tests/freqtrade_e2e.py; its pinned margin is -0.15): one
    line per pair in freqtrade's log (which the demo wraps: whitespace is joined)."""
    assert demo_backtest.returncode == 0, demo_backtest.output[-4000:]
    log = " ".join((demo_backtest.userdir / "logs" / "demo-backtest.log").read_text().split())
    # rows whose features FreqAI finds NaN get no prediction (do_predict 0, NaN
    # probabilities): FreqAI logs each window's count, the windows of one pair in turn
    blocks = re.split(r"HyperPhysics (\S+): up to \d+ of \d+ backtest windows", log)
    dropped = {
        pair: sum(map(int, re.findall(r"dropped (\d+) of \d+ prediction data points", block)))
        for pair, block in zip(blocks[1::2], blocks[2::2], strict=True)
    }
    for pair in ("BTC/USDT", "ETH/USDT"):
        found = re.findall(
            rf"HyperPhysics {pair}: (\d+) entry signal\(s\) over (\d+) predicted candles "
            r"\([^)]+\); do_predict 1 on ([\d.]+)%; best long EV ([-+]\d\.\d{3}) x "
            r"sigma\*sqrt\(h\) \(\S+\) at .{16}, (clears|below) the margin -0\.15",
            log,
        )
        assert len(found) == 1, (pair, found)
        entries, candles, trusted, best, verdict = found[0]
        assert int(candles) == 6 * 288 - dropped[pair] and 0 < float(trusted) <= 100
        assert int(entries) > 0 and verdict == "clears" and float(best) > -0.15
