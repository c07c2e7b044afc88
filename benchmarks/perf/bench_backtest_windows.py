"""A FreqAI backtest's wall time: windows trained one after the other against concurrently.

    python benchmarks/perf/bench_backtest_windows.py                  # 1 pair, 6 windows, 1 vs 2
    python benchmarks/perf/bench_backtest_windows.py --workers 3 --pairs BTC/USDT ETH/USDT

Runs the real ``freqtrade backtesting`` (HyperPhysicsStrategy, HyperPhysicsEnsemble with
its default experts, the bundled candles, the exchange simulator on 127.0.0.1) twice in
one go, identical but for ``freqai.model_training_parameters.concurrent_windows``: 1
(FreqAI's own loop, one window after the other) and ``--workers``. It reports the whole
command's wall time, the FreqAI phase (from "Running backtesting" to "Backtesting with
data from" in freqtrade's log: features, training and predictions of every window) and
the speed-up of each, and checks that both runs made the same trades. With
``--repeat 2`` the runs go sequential, concurrent, concurrent, sequential and the
fastest of each counts, so that a load change on a shared machine favours neither; the
1-minute load average before each run is printed beside it. The entry margin
is loosened through freqtrade's strategy parameter file (as in the e2e test) so that there
are trades to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common.table import print_table
from freqtrade.data.btanalysis import load_backtest_data

from hyperphysics_strategy.exchange import ExchangeSimulator
from hyperphysics_strategy.runner import (
    config_paths,
    freqtrade_command,
    prepare_user_dir,
    run_streaming,
    write_simulator_config,
)

START = datetime(2021, 4, 20)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def _stamp(log: str, marker: str) -> datetime:
    for line in log.splitlines():
        if marker in line and (m := STAMP.match(line)):
            return datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f")
    raise RuntimeError(f"{marker!r} not in the freqtrade log")


def run(workdir: Path, args: argparse.Namespace, workers: int) -> dict:
    userdir = workdir / "user_data"
    datadir = prepare_user_dir(userdir)
    params = {
        "strategy_name": "HyperPhysicsStrategy",
        "params": {"buy": {"entry_ev_margin": -0.15}},
    }
    (userdir / "strategies" / "HyperPhysicsStrategy.json").write_text(json.dumps(params))
    fast = {
        "freqai": {
            "identifier": "bench",
            "train_period_days": args.train_days,
            "backtest_period_days": 1,
            "save_backtest_models": True,
            "feature_parameters": {"indicator_periods_candles": [10, 20]},
            "model_training_parameters": {
                "concurrent_windows": workers,
                **{e: {"n_estimators": args.estimators} for e in ("lightgbm", "xgboost")},
            },
        }
    }
    override = workdir / "fast.json"
    override.write_text(json.dumps(fast))
    stop = START + timedelta(days=args.windows)
    timerange = f"{START:%Y%m%d}-{stop:%Y%m%d}"
    log_path = workdir / "backtest.log"
    with ExchangeSimulator(datadir, mode="historical") as sim:
        write_simulator_config(userdir, sim, args.pairs)
        cmd = freqtrade_command(
            "backtesting",
            userdir,
            config_paths(userdir, override),
            "--strategy",
            "HyperPhysicsStrategy",
            "--freqaimodel",
            "HyperPhysicsEnsemble",
            "--timerange",
            timerange,
            "--cache",
            "none",
            "--export",
            "trades",
        )
        load = os.getloadavg()[0]
        started = time.perf_counter()
        rc = run_streaming(cmd, log_path, echo=False)
        wall = time.perf_counter() - started
    log = log_path.read_text()
    if rc != 0:
        raise RuntimeError(f"freqtrade failed (rc {rc}):\n{log[-3000:]}")
    freqai = _stamp(log, "Backtesting with data from") - _stamp(log, "Running backtesting for")
    trades = load_backtest_data(userdir / "backtest_results")
    return {"wall": wall, "freqai": freqai.total_seconds(), "trades": trades, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=["BTC/USDT"])
    parser.add_argument("--windows", type=int, default=6, help="one-day backtest windows")
    parser.add_argument("--train-days", type=int, default=5, help="train_period_days")
    parser.add_argument("--estimators", type=int, default=100, help="trees per expert")
    parser.add_argument("--workers", type=int, default=2, help="concurrent_windows")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (ABBA order)")
    args = parser.parse_args()

    order = ([1, args.workers, args.workers, 1] * args.repeat)[: 2 * args.repeat]
    results: dict[int, list[dict]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory(prefix="bench-windows-") as tmp:
        for i, workers in enumerate(order):
            results[workers].append(run(Path(tmp) / f"run{i}-{workers}", args, workers))
    seq = min(results[1], key=lambda r: r["freqai"])
    con = min(results[args.workers], key=lambda r: r["freqai"])
    for workers, runs in results.items():
        for r in runs:
            print(
                f"concurrent_windows {workers}: wall {r['wall']:.1f}s, FreqAI {r['freqai']:.1f}s, "
                f"load average before {r['load']:.1f}"
            )
    same = all(r["trades"].equals(seq["trades"]) for runs in results.values() for r in runs)
    title = (
        f"Backtest windows: {len(args.pairs)} pair(s) x {args.windows} windows "
        f"(train {args.train_days} days, lightgbm + xgboost, {args.estimators} trees)"
    )
    rows = [
        ["sequential (concurrent_windows 1)", f"{seq['wall']:.1f}", f"{seq['freqai']:.1f}", "1.00"],
        [
            f"concurrent (concurrent_windows {args.workers})",
            f"{con['wall']:.1f}",
            f"{con['freqai']:.1f}",
            f"{seq['freqai'] / con['freqai']:.2f} ({seq['wall'] / con['wall']:.2f} whole run)",
        ],
    ]
    print_table(title, ["windows", "wall s", "FreqAI phase s", "speed-up"], rows)
    print(f"\ntrades: {len(seq['trades'])} sequential, {len(con['trades'])} concurrent, ", end="")
    print("identical" if same else "DIFFERENT")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
