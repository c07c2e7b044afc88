"""Trials per hour of ``hyperphysics search`` on this machine, and how busy its lanes are.

    python benchmarks/perf/bench_search.py [--pairs BTC,ETH,SOL,ADA,XRP,LTC] [--trials 4]
        [--timeframes 1h] [--experts lightgbm,xgboost] [--concurrent 1,2]
        [--timerange 20210101-20210401] [--test-days 30]

For each ``--concurrent`` setting, a fresh study (its own OUT, an empty cache) runs
``--trials`` trials of the search over the pairs' real candles (../shared/data, 5m and 1h)
with the CLI's defaults for everything else, the same sampler seed each time. Reported side by
side: wall time, seconds per finished trial, trials per hour (and the ratio to the first
setting), pruned and failed trials, and the lanes-busy fraction (job-seconds of the round
scheduler's expert jobs over its CPU budget x the wall time, ``trading.search.usage``), then
the extrapolation to 60 trials. Trials differ (timeframe, experts, training window), so a
few trials are a rough measure: say how many when quoting it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
CANDLES = ROOT.parent / "shared" / "data" / "candles" / "binance"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="BTC,ETH,SOL,ADA,XRP,LTC")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--timeframes", default="1h")
    ap.add_argument("--experts", default="lightgbm,xgboost")
    ap.add_argument("--concurrent", default="1,2")
    ap.add_argument("--timerange", default="20210101-20210401")
    ap.add_argument("--test-days", type=int, default=30)
    args = ap.parse_args()

    for p in (str(ROOT), str(BENCH)):
        if p not in sys.path:
            sys.path.insert(0, p)
    import pandas as pd
    from common.table import print_table

    from hyperphysics_strategy.cli.search_data import resample
    from hyperphysics_strategy.ensemble.scheduling import default_scheduler
    from hyperphysics_strategy.strategy.search_features import trial_features
    from hyperphysics_strategy.trading.search import Market, SearchRun, SearchSpace, search
    from hyperphysics_strategy.trading.search.study import FINISHED
    from hyperphysics_strategy.trading.search.usage import busy_fraction

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("hyperphysics_strategy").setLevel(logging.ERROR)
    start, end = (pd.Timestamp(x, tz="UTC") for x in args.timerange.split("-"))
    pairs = args.pairs.split(",")
    candles = {
        f"{p}/USDT": {
            tf: pd.read_feather(CANDLES / f"{p}_USDT-{tf}.feather") for tf in ("5m", "1h")
        }
        for p in pairs
    }
    for by_tf in candles.values():  # other timeframes: resampled from 5m, as the CLI does
        for tf in args.timeframes.split(","):
            by_tf.setdefault(tf, resample(by_tf["5m"], tf))
    space = SearchSpace(
        timeframes=tuple(args.timeframes.split(",")), experts=tuple(args.experts.split(","))
    )
    sched = default_scheduler()
    rows, first = [], None
    for concurrent in (int(c) for c in args.concurrent.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            market = Market(
                candles, trial_features, test_days=args.test_days, cache_dir=out / "cache"
            )
            run = SearchRun(out, start, end, args.trials, space=space, concurrent=concurrent)
            t0 = time.perf_counter()
            study = search(market, run)
            wall = time.perf_counter() - t0
            busy = busy_fraction(
                sched.finished_jobs(), sched.executor.cpu_budget or 1, t0, t0 + wall
            )
            trials = study.trials  # read before the folder goes
        done = [t for t in trials if t.state in FINISHED]
        pruned = sum(t.state.name == "PRUNED" for t in done)
        failed = sum(t.state.name == "FAIL" for t in trials)
        per_hour = 3600 * len(done) / wall
        first = first or per_hour
        rows.append(
            [
                concurrent,
                len(done),
                pruned,
                failed,
                f"{wall:.0f}",
                f"{wall / max(1, len(done)):.0f}",
                f"{per_hour:.1f}",
                f"{per_hour / first:.2f}",
                f"{busy:.0%}",
                f"{60 * wall / max(1, len(done)) / 60:.0f}",
            ]
        )
    print_table(
        f"hyperphysics search: {len(pairs)} pairs, {args.timerange}, timeframes "
        f"{args.timeframes}, experts {args.experts}, test blocks of {args.test_days} days",
        [
            "trials at once",
            "finished",
            "pruned",
            "failed",
            "wall s",
            "s per trial",
            "trials/hour",
            "ratio",
            "lanes busy",
            "60 trials (min)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
