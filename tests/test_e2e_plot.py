"""`hyperphysics demo` ends with freqtrade's `plot-dataframe` chart of the strategy's plot_config.

The demo command itself, over a short window of one pair with a small model (an extra
``-c`` file): it backtests (FreqAI saves each window's predictions), prints the count of
exits at each barrier (counted from a fabricated export in test_demo_exits.py), then
plots the same timerange with the backtest's trades, and prints the chart's path.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hyperphysics_strategy.strategy import HyperPhysicsStrategy
from tests.freqtrade_e2e import assert_clean_log, write_json

pytestmark = pytest.mark.e2e


def test_demo_writes_the_plot_dataframe_chart_and_prints_its_path(tmp_path):
    userdir = tmp_path / "user_data"
    fast = write_json(
        tmp_path / "fast.json",
        {
            "freqai": {
                "identifier": "e2e-plot",
                "train_period_days": 10,
                "backtest_period_days": 3,
                "feature_parameters": {"indicator_periods_candles": [10]},
                "model_training_parameters": {
                    "lightgbm": {"n_estimators": 40},
                    "xgboost": {"n_estimators": 40},
                },
            }
        },
    )
    done = subprocess.run(
        [sys.executable, "-m", "hyperphysics_strategy.cli", "demo", "--userdir", str(userdir),
         "--timerange", "20210422-20210425", "--pairs", "BTC/USDT", "-c", str(fast)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for log in ("demo-backtest.log", "demo-plot.log"):
        assert_clean_log((userdir / "logs" / log).read_text())
    # after freqtrade's tables: the exits at each barrier, then what the numbers are not
    counts = re.search(
        r"^barrier exits: take_profit (\d+), lower_barrier (\d+), es_stop (\d+), "
        r"time_barrier (\d+), other (\d+)$",
        done.stdout,
        re.M,
    )
    assert counts, done.stdout[-3000:]
    trades = re.search(r"Exits at each barrier \((\d+) trades\)", done.stdout)
    assert trades and sum(map(int, counts.groups())) == int(trades.group(1))
    assert "Not evidence of edge" in done.stdout and "docs/results.md" in done.stdout
    printed = re.search(r"^chart of BTC/USDT \(open it in a browser\): (\S+)$", done.stdout, re.M)
    assert printed, done.stdout[-2000:]
    page = userdir / "plot" / "freqtrade-plot-BTC_USDT-5m.html"
    assert printed.group(1) == str(page.resolve())
    html = page.read_text().replace(" ", "")
    for panel in HyperPhysicsStrategy.plot_config["subplots"]:
        assert panel.replace(" ", "") in html, f"panel {panel!r} missing from the plot"
    for series in ("hp_var_99_floor", "hp_var_99_1d", "hp_ob_imbalance_5", "buy", "sell"):
        assert f'"name":"{series}"' in html, series


def test_demo_refuses_a_pair_the_bundled_data_lacks(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "hyperphysics_strategy.cli", "demo", "--userdir",
         str(tmp_path / "ud"), "--pairs", "DOGE/USDT"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "DOGE/USDT" in done.stderr and "BTC/USDT, ETH/USDT, SOL/USDT" in done.stderr
    assert not (tmp_path / "ud").exists()
