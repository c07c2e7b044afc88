"""Walk-forward of the strategy's decision rule: triple-barrier bets entered on expected value.

    python benchmarks/decision_walkforward.py [--pairs BTC,ETH,...] [--barriers 12:1,48:1]
        [--margins 0,0.05,...] [--split 2021-04-01] [--plot docs/calibration.png]

For every pair (5m candles from ../shared/data/candles/binance), features and
triple-barrier labels come from ``hyperphysics_strategy.strategy.features`` (indicators
over 10 and 20 candles, candle shape, calendar; barriers k x sigma x sqrt(h), sigma over
288 candles, for each ``h:k`` of ``--barriers``). Folds walk forward: train on
``--train-days``, test on the next ``--test-days``. Training rows whose label horizon
reaches into the test block are purged and the first h test rows are embargoed, so no
label spans the boundary.

The walk-forward is the package's evaluator (``hyperphysics_strategy.trading.walkforward``;
this script prints its tables). Each fold fits the FreqAI model's ensemble (``--experts``,
stacked and calibrated as in ``HyperPhysicsEnsemble``) and measures ``m_time`` on its
training rows. On the test rows the strategy's rule (``trading.bet.BetSpec``) gives the EV
of a long; a row enters when ``EV > margin x sigma x sqrt(h)`` and ``do_predict`` is not
modelled (every row may enter).
Trades per pair do not overlap: after an entry at candle t the next may enter once the
bet has exited. A trade earns the bet's outcome from the close of t (the upper barrier,
the lower barrier, or the close of t+h; a candle touching both counts as the lower), less
``--fee`` on each side. ``always`` enters on every free candle: the bet without a model.

Reported, separately for the period before ``--split`` (which chooses the margin: the
best expectancy with at least 30 trades, over every ``h:k`` and margin) and after it
(which confirms it): trades,
expectancy per trade after fees with its standard error, per-trade Sharpe ratio, and the
share of exits at each barrier. Then the deflated Sharpe ratio of the chosen rule over
the whole walk-forward, counting every ``h:k`` and margin tried, and the reliability of p_up and
p_down over all test rows (plus a plot with ``--plot``).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hyperphysics_strategy.strategy import features as F
from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.selection import select
from hyperphysics_strategy.trading.walkforward import (
    EnsembleFitter,
    Evaluation,
    Folds,
    PairData,
    TradeStats,
    evaluate,
)

try:
    from _table import print_table
except ImportError:  # run from the project root as a module
    from benchmarks._table import print_table

CANDLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "candles" / "binance"
PAIRS = "BTC,ETH,SOL,ADA,XRP,LTC,LINK,DOT"
BINS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])


def pair_data(pair: str) -> PairData:
    """One pair's 5m candles and the strategy's features (indicators over 10 and 20 candles)."""
    candles = F.ordered_candles(pd.read_feather(CANDLES / f"{pair}_USDT-5m.feather"))
    return PairData(pair, candles, F.build_features(candles, (10, 20)))


def summary(s: TradeStats) -> list[str]:
    if s.trades == 0:
        return ["0", "", "", "", "", "", ""]
    return [
        f"{s.trades:,}",
        f"{1e4 * s.mean:+.1f} ± {1e4 * s.se:.1f}",
        f"{s.sharpe:+.3f}" if s.trades > 1 else "",
        *(f"{x:.2f}" for x in (s.upper, s.lower, s.time)),
        f"{s.total:+.2f}",
    ]


def reliability(pred: pd.DataFrame, column: str, code: int) -> list[list[str]]:
    rows = []
    p = pred[column].to_numpy()
    hit = pred["label"].to_numpy() == code
    for lo, hi in zip(BINS[:-1], BINS[1:], strict=True):
        m = (p >= lo) & (p < hi)
        if m.sum() == 0:
            continue
        rows.append([f"{lo:.1f} – {hi:.1f}", f"{m.sum():,}", f"{p[m].mean():.3f}",
                     f"{hit[m].mean():.3f}"])  # fmt: skip
    return rows


def plot(pred: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for column, code, color in (("p_up", 2, "green"), ("p_down", 0, "red")):
        p, hit = pred[column].to_numpy(), pred["label"].to_numpy() == code
        x, yy = [], []
        for lo, hi in zip(BINS[:-1], BINS[1:], strict=True):
            m = (p >= lo) & (p < hi)
            if m.sum() >= 50:
                x.append(p[m].mean())
                yy.append(hit[m].mean())
        ax.plot(x, yy, marker="o", color=color, label=f"{column} (bins of ≥ 50 rows)")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Walk-forward reliability of the barrier probabilities")
    ax.set_xlim(0, 0.7)
    ax.set_ylim(0, 0.7)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"\nreliability plot written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=PAIRS)
    ap.add_argument(
        "--barriers",
        default="12:1,48:1,48:2",
        help="label configurations h:k (horizon in candles : barrier multiplier)",
    )
    ap.add_argument("--train-days", type=int, default=30)
    ap.add_argument("--test-days", type=int, default=30)
    ap.add_argument("--experts", default="lightgbm,xgboost")
    ap.add_argument("--n-estimators", type=int, default=150)
    ap.add_argument("--fee", type=float, default=0.001)
    ap.add_argument("--margins", default="0,0.05,0.1,0.2")
    ap.add_argument("--split", default="2021-04-01")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()  # fmt: skip
    args.experts = tuple(args.experts.split(","))
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    split = pd.Timestamp(args.split, tz="UTC")
    margins = [float(m) for m in args.margins.split(",")]
    periods = (f"before {args.split} (chooses)", f"from {args.split} (confirms)")
    header = ["rule", "trades", "bp/trade ± s.e.", "Sharpe/trade", "upper", "lower", "time",
              "sum of returns"]  # fmt: skip

    t0 = time.perf_counter()
    data = [pair_data(p) for p in args.pairs.split(",")]
    folds = Folds(train_days=args.train_days, test_days=args.test_days)
    fit = EnsembleFitter(
        args.experts, {e: {"n_estimators": args.n_estimators} for e in args.experts}
    )
    preds: dict[tuple[int, float], pd.DataFrame] = {}
    candidates: list[tuple[Evaluation, float]] = []
    names: list[str] = []
    for spec in args.barriers.split(","):
        h, k = int(spec.split(":")[0]), float(spec.split(":")[1])
        bet = BetSpec(horizon=h, k_up=k, k_down=k, fee=args.fee)
        ev = evaluate(data, bet, folds, fit)
        preds[(h, k)] = ev.predictions
        rules = {f"h={h} k={k:g} always (no model)": None}
        rules.update({f"h={h} k={k:g} EV > {m:g} σ√h": m for m in margins})
        first = (ev.predictions["date"] < split).to_numpy()
        for period, mask in zip(periods, (first, ~first), strict=True):
            rows = [[name, *summary(ev.stats(m, mask))] for name, m in rules.items()]
            print_table(
                f"Decision walk-forward {period}: {args.pairs}, 5m, h = {h}, k = {k:g}, "
                f"fee {args.fee:.2%} a side",
                header,
                rows,
            )
        for m in margins:
            candidates.append((ev, m))
            names.append(f"h={h} k={k:g} EV > {m:g} σ√h")
    took = time.perf_counter() - t0

    sel = select(candidates, split)
    chosen = None if sel.chosen is None else names[sel.chosen]
    print(f"\nchosen on the first period: {chosen or 'none (no rule traded 30 times): flat'}")
    srs = np.asarray(sel.trial_sharpes)
    print(f"configurations tried: {len(srs)} ({int(np.isfinite(srs).sum())} traded)")
    if chosen is not None and sel.trades > 2:
        print_table(
            "Deflated Sharpe ratio of the chosen rule, whole walk-forward",
            [
                "rule",
                "trades",
                "Sharpe/trade",
                "configurations tried",
                "SR0 (expected max)",
                "DSR = P(true Sharpe > SR0)",
            ],  # fmt: skip
            [
                [
                    chosen,
                    f"{sel.trades:,}",
                    f"{sel.sharpe:+.4f}",
                    len(srs),
                    f"{sel.sr0:.4f}",
                    f"{sel.dsr:.3f}",
                ]
            ],  # fmt: skip
        )
    for (h, k), pred in preds.items():
        for column, code in (("p_up", 2), ("p_down", 0)):
            print_table(
                f"Reliability of {column}, h = {h}, k = {k:g}, all {len(pred):,} test rows",
                ["bin", "rows", "mean predicted", "observed frequency"],
                reliability(pred, column, code),
            )
    print(f"\nwalk-forward fits and predictions: {took:.0f} s")
    if args.plot:
        plot(next(iter(preds.values())), args.plot)


if __name__ == "__main__":
    main()
