"""Triple-barrier label benchmark: the vectorised labels against a plain Python loop.

    python benchmarks/bench_labels.py [--candles 1000000] [--horizon 48] [--reps 3]

The candles are the shared Binance 5m candles of every pair, chained one after the other
(each pair rescaled to continue from the previous close) and repeated until ``--candles``
are reached, so the barriers see real highs, lows and volatility. The loop baseline runs
on the first 20,000 candles and is scaled linearly to the full count. Timings are the best
of ``--reps`` runs (wall clock); on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hyperphysics_strategy.trading.barriers import trailing_sigma, triple_barrier

try:
    from _table import print_table
    from _timing import best_time
except ImportError:  # run from the project root as a module
    from benchmarks._table import print_table
    from benchmarks._timing import best_time

CANDLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "candles" / "binance"
LOOP_CANDLES = 20_000


def chained_candles(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts, level = [], 1.0
    files = sorted(CANDLES.glob("*_USDT-5m.feather"))
    if not files:
        raise SystemExit(f"no 5m candles in {CANDLES}")
    while sum(len(p) for p in parts) < n:
        for file in files:
            df = pd.read_feather(file, columns=["high", "low", "close"])
            scale = level / float(df["close"].iloc[0])
            parts.append(df.to_numpy(dtype=np.float64) * scale)
            level = float(parts[-1][-1, 2])
    hlc = np.concatenate(parts)[:n]
    return hlc[:, 0], hlc[:, 1], hlc[:, 2]


def loop_labels(high, low, close, sigma, h, k):
    out = np.full(close.size, np.nan)
    for t in range(close.size - h):
        if not sigma[t] > 0:
            continue
        d = k * sigma[t] * h**0.5
        upper, lower = close[t] * np.exp(d), close[t] * np.exp(-d)
        out[t] = 1
        for j in range(1, h + 1):
            if low[t + j] <= lower:
                out[t] = 0
                break
            if high[t + j] >= upper:
                out[t] = 2
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--horizon", type=int, default=48)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    high, low, close = chained_candles(args.candles)
    h = args.horizon
    sigma = trailing_sigma(close, 288)

    t_sigma = best_time(lambda: trailing_sigma(close, 288), args.reps)
    t_vec = best_time(lambda: triple_barrier(high, low, close, sigma, h, 1.0, 1.0), args.reps)
    m = min(LOOP_CANDLES, close.size)
    sl = slice(0, m)
    t0 = time.perf_counter()
    ref = loop_labels(high[sl], low[sl], close[sl], sigma[sl], h, 1.0)
    t_loop = (time.perf_counter() - t0) * close.size / m
    got = triple_barrier(high[sl], low[sl], close[sl], sigma[sl], h, 1.0, 1.0).label
    assert np.array_equal(got, ref, equal_nan=True), "vectorised labels differ from the loop"

    labels = triple_barrier(high, low, close, sigma, h, 1.0, 1.0).label
    share = {c: np.mean(labels[np.isfinite(labels)] == code) for c, code in
             (("sell", 0), ("neutral", 1), ("buy", 2))}  # fmt: skip
    print_table(
        f"Triple-barrier labels, {close.size:,} candles, h = {h}, k = 1",
        ["step", "seconds", "vs loop"],
        [
            ["trailing sigma (288 candles)", f"{t_sigma:.3f}", ""],
            ["labels, vectorised", f"{t_vec:.3f}", f"{t_loop / t_vec:,.0f}x faster"],
            [f"labels, Python loop (from {m:,} candles)", f"{t_loop:.1f}", "1x"],
        ],
    )
    print("\nclass shares: " + ", ".join(f"{c} {v:.3f}" for c, v in share.items()))


if __name__ == "__main__":
    main()
