"""`hyperphysics demo` counts the backtest's exits at each barrier (cli/barrier_exits.py).

A fabricated backtest export, written with freqtrade's own ``store_backtest_results``: one
trade per exit kind, each stop placed by hand at the price the strategy would have set.
"""

from __future__ import annotations

import math
import zipfile

import pandas as pd
import pytest
from freqtrade.enums import RunMode
from freqtrade.optimize.optimize_reports import store_backtest_results

from hyperphysics_strategy.cli.barrier_exits import (
    EXIT_KINDS,
    classify_exits,
    exit_summary,
    load_backtest_exits,
    stop_kind,
)
from hyperphysics_strategy.cli.demo_cmd import print_exits
from hyperphysics_strategy.strategy.settings import RiskSettings

H = 12  # label_period_candles
FEE = 0.001
T0 = pd.Timestamp("2021-02-15 00:00", tz="UTC")
FIVE = pd.Timedelta(minutes=5)


def long_loss_price(open_rate: float, loss: float) -> float:
    """The exit price at which a long's profit ratio after both fees is -loss (by hand)."""
    return open_rate * (1 + FEE) * (1 - loss) / (1 - FEE)


def fabricated() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Six trades on ADA/USDT, entered at 1.0 on the candle after their signal candle.

    tight barrier: sigma 0.002 -> lower barrier 1.0 * exp(-0.002 * sqrt(12)) = 0.99310,
    ES 0.01 -> ES stop at 0.01 * sqrt(12) = 3.46% : the barrier is the nearer stop.
    loose barrier: sigma 0.02 -> 0.93303; ES 0.002 -> 0.69% -> floor 1% : the ES stop.
    """
    signal = {  # signal candle -> (sigma, ES 99)
        0: (0.002, 0.01),  # roi
        1: (0.002, 0.01),  # time barrier
        2: (0.002, 0.01),  # stop at the lower barrier
        3: (0.02, 0.002),  # stop at the ES stop (the 1% floor)
        4: (math.nan, math.nan),  # no barrier, no ES: the static stoploss cap
        5: (0.002, 0.01),  # force exit at the end of the backtest
        6: (0.002, 0.01),  # the exit agent
    }
    candles = []
    for i, (sigma, es) in signal.items():
        day = T0 + pd.Timedelta(hours=2 * i)
        candles.append({"date": day, "hp_sigma": sigma, "hp_es_99": es})
        # a decoy on the entry candle itself: the signal is the candle strictly before
        candles.append({"date": day + FIVE, "hp_sigma": 0.5, "hp_es_99": 0.5})
    barrier = 1.0 * math.exp(-0.002 * math.sqrt(H))
    stops = [
        ("roi", barrier, 0.02),
        ("time_barrier", barrier, -0.001),
        ("stop_loss", barrier, -0.009),
        ("trailing_stop_loss", long_loss_price(1.0, 0.01), -0.01),
        ("stop_loss", long_loss_price(1.0, 0.15), -0.15),
        ("force_exit", barrier, 0.001),
        ("exit_agent", barrier, 0.004),
    ]
    trades = pd.DataFrame(
        [
            {
                "pair": "ADA/USDT",
                "open_date": T0 + pd.Timedelta(hours=2 * i) + FIVE,
                "close_date": T0 + pd.Timedelta(hours=2 * i) + 6 * FIVE,
                "open_rate": 1.0,
                "close_rate": 1.0 + profit,
                "amount": 100.0,
                "stake_amount": 100.0,
                "fee_open": FEE,
                "fee_close": FEE,
                "exit_reason": reason,
                "stop_loss_abs": round(stop, 5),  # freqtrade rounds to the price precision
                "profit_ratio": profit,
                "profit_abs": 100 * profit,
                "is_short": False,
                "leverage": 1.0,
                "enter_tag": "ev_long",
            }
            for i, (reason, stop, profit) in enumerate(stops)
        ]
    )
    return trades, {"ADA/USDT": pd.DataFrame(candles)}


def test_each_exit_is_counted_at_its_barrier():
    trades, signals = fabricated()
    kinds = classify_exits(trades, signals, H, 1.0, RiskSettings())
    assert list(kinds) == [
        "take_profit",
        "time_barrier",
        "lower_barrier",
        "es_stop",
        "other",
        "other",
        "agent",
    ]
    summary = exit_summary(trades, kinds).set_index("kind")
    assert list(summary.index) == list(EXIT_KINDS)
    assert summary["trades"].to_dict() == {
        "take_profit": 1,
        "lower_barrier": 1,
        "es_stop": 1,
        "time_barrier": 1,
        "agent": 1,
        "other": 2,
    }
    assert summary.loc["agent", "reasons"] == "exit_agent 1"
    assert summary.loc["other", "reasons"] == "stop_loss 1, force_exit 1"
    assert summary.loc["other", "mean_profit_pct"] == pytest.approx(100 * (-0.15 + 0.001) / 2)


def test_the_barrier_is_recomputed_with_k_down():
    """The barrier is recomputed with the strategy's k_down: with 3 instead of 1 it sits
    2.08% below the entry, no longer at trade 2's stop (0.69%), which then matches no
    candidate; trade 3's ES stop does not depend on k_down."""
    trades, signals = fabricated()
    kinds = classify_exits(trades, signals, H, 3.0, RiskSettings())
    assert kinds[2] == "other"  # the stop matches neither recomputed candidate
    assert kinds[3] == "es_stop"


def test_a_backtest_without_trades_counts_zero_everywhere():
    kinds = classify_exits(pd.DataFrame(), {}, H)
    summary = exit_summary(pd.DataFrame(), kinds)
    assert list(summary["kind"]) == list(EXIT_KINDS) and (summary["trades"] == 0).all()


def test_stop_kind_needs_a_candidate_at_the_stop():
    candidates = {"lower_barrier": 0.99, "es_stop": 0.97, "cap": 0.85}
    assert stop_kind(0.9901, candidates) == "lower_barrier"
    assert stop_kind(0.9699, candidates) == "es_stop"
    assert stop_kind(0.8500, candidates) == "other"  # the static stoploss
    assert stop_kind(0.9300, candidates) == "other"  # none of them
    assert stop_kind(float("nan"), candidates) == "other"


def write_export(folder, trades, signals) -> None:
    """A backtest result zip as ``freqtrade backtesting --export signals`` writes it."""
    records = trades.assign(
        open_date=trades["open_date"].map(lambda d: d.isoformat()),
        close_date=trades["close_date"].map(lambda d: d.isoformat()),
    ).to_dict("records")
    stats = {
        "metadata": {"HyperPhysicsStrategy": {"run_id": "x", "backtest_start_time": 0}},
        "strategy": {"HyperPhysicsStrategy": {"trades": records}},
        "strategy_comparison": [],
    }
    config = {
        "exportdirectory": folder,
        "export": "signals",
        "runmode": RunMode.BACKTEST,
        "original_config": {
            "freqai": {"feature_parameters": {"label_period_candles": H}},
            "hyperphysics": {"stop_floor": 0.01},
        },
    }
    analysis = {
        "signals": {"HyperPhysicsStrategy": signals},
        "rejected": {"HyperPhysicsStrategy": {}},
        "exited": {"HyperPhysicsStrategy": {}},
    }
    store_backtest_results(config, stats, "2021-03-12_00-00-00", analysis_results=analysis)


def test_the_demo_reads_and_prints_the_exits_of_a_backtest_export(tmp_path, capsys):
    trades, signals = fabricated()
    write_export(tmp_path, trades, signals)
    loaded, kinds = load_backtest_exits(tmp_path)
    assert len(loaded) == 7
    assert kinds.value_counts().to_dict() == {
        "other": 2,
        "agent": 1,
        "take_profit": 1,
        "time_barrier": 1,
        "lower_barrier": 1,
        "es_stop": 1,
    }
    print_exits(tmp_path)
    out = capsys.readouterr().out
    assert "Exits at each barrier (7 trades)" in out
    for label, count in [
        ("take-profit (upper barrier)", 1),
        ("stop at the lower barrier", 1),
        ("stop at the ES stop", 1),
        ("time barrier", 1),
        ("exit agent", 1),
        ("other", 2),
    ]:
        rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()]
        assert [label, str(count)] in [cells[:2] for cells in rows], out
    assert (
        "barrier exits: take_profit 1, lower_barrier 1, es_stop 1, time_barrier 1, agent 1, other 2"
    ) in out


def test_an_export_without_signal_candles_names_the_flag(tmp_path):
    trades, signals = fabricated()
    write_export(tmp_path, trades, signals)
    for archive in tmp_path.glob("*.zip"):  # drop the signal candles, keep the rest
        with zipfile.ZipFile(archive) as src:
            kept = {n: src.read(n) for n in src.namelist() if not n.endswith("_signals.pkl")}
        with zipfile.ZipFile(archive, "w") as dst:
            for name, data in kept.items():
                dst.writestr(name, data)
    with pytest.raises(FileNotFoundError, match="--export signals"):
        load_backtest_exits(tmp_path)
