"""Forward returns of the candles by the ensemble's predicted edge, from a backtest.

    python benchmarks/edge_by_probability.py WORKDIR [--split 2021-04-01]

``WORKDIR`` is the user directory of a backtest with FreqAI (for example the work dir
``benchmarks/compare_freqai_example.py`` prints); its
``models/*/backtesting_predictions/*.feather`` hold the out-of-sample class
probabilities FreqAI predicted for every candle. For each candle with ``do_predict ==
1`` the return of entering at the next open and selling at the close 12 candles later
(one hour of 5m candles) comes from ../shared/data/candles; the table gives the count
and mean return (basis points) per bucket of ``p(buy) - p(sell)`` and per half of the
period, which is how the strategy's default entry thresholds were chosen (first half)
and checked (second half). A round trip pays 20 bp of fees at 0.1% per side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _table import print_table

CANDLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "candles" / "binance"
EDGES = [-1.0, 0.0, 0.05, 0.10, 0.15, 0.20, 0.30, 1.0]


def load(workdir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(workdir.glob("**/backtesting_predictions/*_prediction.feather")):
        pair = path.name.split("_")[1].upper()
        frame = pd.read_feather(path)[["date", "sell", "buy", "do_predict"]]
        frames.append(frame.assign(pair=pair))
    if not frames:
        raise SystemExit(f"no backtesting_predictions under {workdir}")
    predictions = pd.concat(frames)
    out = []
    for pair, rows in predictions.groupby("pair"):
        candles = pd.read_feather(CANDLES / f"{pair}_USDT-5m.feather")[["date", "open", "close"]]
        candles["fwd"] = candles["close"].shift(-12) / candles["open"].shift(-1) - 1
        out.append(rows.merge(candles[["date", "fwd"]], on="date"))
    return pd.concat(out).query("do_predict == 1").dropna(subset=["fwd"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--split", default="2021-04-01")
    args = ap.parse_args()
    rows = load(args.workdir)
    split = pd.Timestamp(args.split, tz="UTC")
    rows["half"] = np.where(rows["date"] < split, f"before {args.split}", f"from {args.split}")
    rows["edge"] = pd.cut(rows["buy"] - rows["sell"], EDGES)
    stats = rows.groupby(["edge", "half"], observed=True)["fwd"].agg(["count", "mean"])
    table = []
    for edge in stats.index.get_level_values(0).unique():
        cells = [str(edge)]
        for half in sorted(rows["half"].unique()):
            if (edge, half) in stats.index:
                count, mean = stats.loc[(edge, half)]
                cells += [f"{int(count):,}", f"{mean * 1e4:+.1f}"]
            else:
                cells += ["0", "-"]
        table.append(cells)
    halves = sorted(rows["half"].unique())
    header = ["p(buy) - p(sell)"] + [f"{h} {c}" for h in halves for c in ("candles", "bp")]
    print_table("Mean return of next-open to close 12 candles later, by predicted edge",
                header, table)  # fmt: skip


if __name__ == "__main__":
    main()
