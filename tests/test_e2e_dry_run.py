"""The real `freqtrade trade --dry-run` against the simulator in accelerated live replay.

Checks that FreqAI trains the three pairs in rounds (several pairs at once, each round
logging every model's age), that predictions reach the strategy, that a retrain after a
new candle succeeds (freqtrade's live-retraining date bug would make every such retrain
fail), that SIGINT stops the bot cleanly, and that the L2 books recorded while it ran
are what a backtest over the same window then uses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pandas as pd
import pytest

from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks
from hyperphysics_strategy.runner import freqtrade_command
from tests.freqtrade_e2e import assert_clean_log, freqtrade, simulator, user_dir, write_json

pytestmark = pytest.mark.e2e

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TRAINED = re.compile(r"HyperPhysics (\S+): model trained on candles through (.+)$")
PREDICTED = re.compile(
    r"HyperPhysics (\S+) \S+ \S+: p\(sell\)=(\S+)\s+p\(neutral\)=\S+\s+p\(buy\)=\S+ do_predict=1"
)
RECORDED = re.compile(r"HyperPhysics (\S+) order books per candle: \{.*'recorded': (\d+)")
ROUND = re.compile(r"HyperPhysics round (\d+): trained (.+) together in (\S+) s")
AGES = re.compile(r"HyperPhysics round (\d+): model ages: (.+)$")
STARTING = re.compile(r"-+ Starting training (\S+) -+")
DONE = re.compile(r"-+ Done training (\S+) ")
DEADLINE_S = 420


def rounds_together(log: str) -> list[tuple[list[str], list[str]]]:
    """(pairs trained together, pairs with a model age) of each round that trained
    several pairs."""
    trained: dict[str, list[str]] = {}
    aged: dict[str, list[str]] = {}
    for line in log.splitlines():
        if m := ROUND.search(line):
            trained[m.group(1)] = m.group(2).split("; ")[0].split(", ")
        elif m := AGES.search(line):
            aged[m.group(1)] = [a.rsplit(" ", 2)[0] for a in m.group(2).split(", ")]
    return [(t, aged.get(n, [])) for n, t in trained.items() if len(t) >= 2]


def most_training_at_once(log: str) -> int:
    """The most pairs between FreqAI's 'Starting training' and 'Done training' at once."""
    running: set[str] = set()
    most = 0
    for line in log.splitlines():
        if m := STARTING.search(line):
            running.add(m.group(1))
            most = max(most, len(running))
        elif m := DONE.search(line):
            running.discard(m.group(1))
    return most


def trained_through(log: str) -> dict[str, list[pd.Timestamp]]:
    out: dict[str, list[pd.Timestamp]] = {}
    for line in log.splitlines():
        m = TRAINED.search(line)
        if m:
            out.setdefault(m.group(1), []).append(pd.Timestamp(m.group(2)))
    return out


def retrained_after_new_candle(log: str) -> bool:
    """Some pair was trained again on data reaching past its first model's last candle."""
    return any(len(ts) >= 2 and max(ts) > ts[0] for ts in trained_through(log).values())


def test_dry_run_trains_predicts_retrains_and_stops_on_sigint(tmp_path):
    userdir, configs = user_dir(
        tmp_path,
        {
            "timeframe": "1m",
            "dry_run": True,
            "db_url": f"sqlite:///{tmp_path / 'dryrun.sqlite'}",
            "freqai": {
                "identifier": "e2e-live",
                # plumbing, not model quality: one day of 1m candles, one stacking fold,
                # small forests keep each round short on two cores
                "train_period_days": 1,
                "live_retrain_hours": 0,
                "expiration_hours": 0,
                "feature_parameters": {
                    "include_timeframes": ["1m"],
                    "indicator_periods_candles": [10],
                    "label_period_candles": 6,
                },
                "model_training_parameters": {
                    "stacking_folds": 1,
                    "lightgbm": {"n_estimators": 20},
                    "xgboost": {"n_estimators": 20},
                },
            },
        },
        candles=False,
    )
    log_path = tmp_path / "dry-run.log"
    started = pd.Timestamp.now(tz="UTC")
    # 5m candles replayed 5x faster: freqtrade sees a new 1m candle every wall-clock minute.
    with simulator(userdir, PAIRS, demo_data_dir(), mode="replay", speed=5):
        cmd = freqtrade_command(
            "trade",
            userdir,
            configs,
            "--strategy",
            "HyperPhysicsStrategy",
            "--freqaimodel",
            "HyperPhysicsEnsemble",
            "--dry-run",
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "w") as log_file:
            proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
            try:
                start = time.monotonic()
                while time.monotonic() - start < DEADLINE_S and proc.poll() is None:
                    log = log_path.read_text()
                    if (
                        retrained_after_new_candle(log)
                        and PREDICTED.search(log)
                        and rounds_together(log)
                    ):
                        break
                    time.sleep(2)
                still_running = proc.poll() is None
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        backtest_log = backtest_recorded_window(tmp_path, userdir, configs, started)
    log = log_path.read_text()
    assert still_running, "freqtrade exited early:\n" + log[-4000:]
    assert_clean_log(log)
    assert PREDICTED.search(log), "no prediction reached the strategy:\n" + log[-4000:]
    assert retrained_after_new_candle(log), (
        f"no retrain on a new candle: {trained_through(log)}\n" + log[-4000:]
    )
    # FreqAI's one-pair-at-a-time loop is replaced by rounds: the pairs trained together,
    # and each round logged the age of every pair's model.
    together = rounds_together(log)
    assert together, "no round trained several pairs:\n" + log[-4000:]
    assert any(sorted(ages) == sorted(PAIRS) for _, ages in together), together
    assert most_training_at_once(log) >= 2, "the pairs' trainings never overlapped"
    # freqtrade answers SIGINT like Ctrl-C: it cleans up and exits with 128 + SIGINT.
    assert rc == 130, f"exit code {rc} after SIGINT:\n" + log[-3000:]
    for step in ("Cleaning up modules", "Stopping FreqAI", "SIGINT received, aborting"):
        assert step in log, f"no {step!r} in the shutdown:\n" + log[-3000:]

    # Order books were recorded to parquet while the bot traded...
    for pair in PAIRS:
        timestamps, bids, asks = read_orderbooks(pair_path(userdir / "orderbooks", "binance", pair))
        assert len(timestamps) >= 2, f"{pair}: {len(timestamps)} recorded books"
        assert (bids[:, 0, 0] < asks[:, 0, 0]).all()
    # ...and a backtest over that window (exit 0, clean log) takes them as its source.
    recorded = {m.group(1): int(m.group(2)) for m in RECORDED.finditer(backtest_log)}
    assert recorded and max(recorded.values()) >= 1, backtest_log[-3000:]


def backtest_recorded_window(tmp_path, userdir, configs, started: pd.Timestamp) -> str:
    """Download the replayed candles up to now, then backtest the dry run's window."""
    now = pd.Timestamp.now(tz="UTC")
    day = pd.Timedelta(days=1)
    fmt = "%Y%m%d"
    freqtrade(
        userdir, configs, "download-data",
        "--datadir", str(userdir / "data" / "binance"),
        "--timeframes", "1m",
        "--timerange", f"{(started - 4 * day).strftime(fmt)}-{(now + day).strftime(fmt)}",
        log=tmp_path / "download.log",
    )  # fmt: skip
    window = write_json(
        tmp_path / "window.json",
        {"freqai": {"identifier": "e2e-window", "backtest_period_days": 0.1}},
    )
    start = (started - pd.Timedelta(minutes=10)).strftime("%Y%m%dT%H%M")
    end = now.floor("min").strftime("%Y%m%dT%H%M")
    return freqtrade(
        userdir, [*configs, window], "backtesting",
        "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
        "--timerange", f"{start}-{end}", "--cache", "none",
        log=tmp_path / "window-backtest.log",
    )  # fmt: skip
