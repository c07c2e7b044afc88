"""Walk-forward of the strategy's decision rule: triple-barrier bets entered on expected value.

    python benchmarks/studies/decision_walkforward.py [--pairs BTC,ETH,...] [--barriers 12:1,48:1]
        [--margins 0,0.05,...] [--split 2021-04-01] [--plot docs/calibration.png]

For every pair (5m candles from ../shared/data/candles/binance), features and
triple-barrier labels come from ``hyperphysics_strategy.strategy.features`` (indicators
over 10 and 20 candles, candle shape, calendar; barriers k x sigma x sqrt(h), sigma over
288 candles, for each ``h:k`` of ``--barriers``). Folds walk forward: train on
``--train-days``, test on the next ``--test-days``. Training rows whose label horizon
reaches into the test block are purged and the first h test rows are embargoed, so no
label spans the boundary.

Each fold fits the FreqAI model's ensemble (``--experts``, stacked and calibrated as in
``HyperPhysicsEnsemble``) and measures ``m_time`` on its training rows. On the test rows
the strategy's rule (``ensemble.decision``) gives the EV of a long; a row enters when
``EV > margin x sigma x sqrt(h)`` and ``do_predict`` is not modelled (every row may enter).
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
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.barriers import NEUTRAL, trailing_sigma, triple_barrier
from hyperphysics_strategy.ensemble.decision import ev_signal, long_expected_value
from hyperphysics_strategy.ensemble.sharpe import deflated_sharpe_ratio, sharpe_ratio
from hyperphysics_strategy.strategy import features as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common import CANDLES
from common.table import print_table

PAIRS = "BTC,ETH,SOL,ADA,XRP,LTC,LINK,DOT"
CANDLES_PER_DAY = 288
VOL_WINDOW = 288
BINS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])


def fold_predictions(pair: str, args) -> pd.DataFrame:
    """Out-of-sample probabilities, EV inputs and bet outcomes of one pair's test rows."""
    candles = pd.read_feather(CANDLES / f"{pair}_USDT-5m.feather")
    h = args.horizon
    X, y = F.build_training_set(candles, (10, 20), h, VOL_WINDOW, args.k, args.k)
    close = candles["close"].to_numpy(dtype=np.float64)
    sigma = trailing_sigma(close, VOL_WINDOW)
    out = triple_barrier(candles["high"], candles["low"], close, sigma, h, args.k, args.k)
    rows = X.index.to_numpy()  # candle positions of the kept rows
    Xv, yv = X.to_numpy(np.float32), y.to_numpy()
    train_n, test_n = args.train_days * CANDLES_PER_DAY, args.test_days * CANDLES_PER_DAY
    parts, fold = [], 0
    start = rows[0]
    while True:
        b = start + train_n  # first candle of the test block
        c = min(b + test_n, rows[-1] + 1)
        if c - b < test_n // 2:
            break
        tr = (rows >= start) & (rows < b - h)  # purge: labels must end before the test block
        te = (rows >= b + h) & (rows < c)  # embargo: h candles after the boundary
        ens = ExpertEnsemble(
            args.experts,
            {e: {"n_estimators": args.n_estimators} for e in args.experts},
            embargo=h,
            seed=fold,
            use_processes=False,
        ).fit(Xv[tr], yv[tr])
        proba = pd.DataFrame(ens.predict_proba(Xv[te]), columns=list(ens.classes_))
        neutral = rows[tr][out.label[rows[tr]] == NEUTRAL]
        m_time = float(np.mean(np.expm1(out.log_return[neutral]))) if neutral.size else 0.0
        t = rows[te]
        parts.append(
            pd.DataFrame(
                {
                    "pair": pair,
                    "t": t,
                    "date": candles["date"].to_numpy()[t],
                    "p_up": proba["buy"].to_numpy(),
                    "p_down": proba["sell"].to_numpy(),
                    "p_time": proba["neutral"].to_numpy(),
                    "sigma": sigma[t],
                    "m_time": m_time,
                    "label": out.label[t],
                    "log_return": out.log_return[t],
                    "candles": out.candles[t],
                }
            )
        )
        fold += 1
        start += test_n
    return pd.concat(parts, ignore_index=True)


def trades(pred: pd.DataFrame, enter: np.ndarray, fee: float) -> pd.DataFrame:
    """Non-overlapping bets per pair on the rows ``enter`` marks, after fees."""
    picked = []
    for _, g in pred[enter].groupby("pair", sort=False):
        free = -1
        for i, t, n in zip(g.index, g["t"].to_numpy(), g["candles"].to_numpy(), strict=True):
            if t >= free:
                picked.append(i)
                free = t + int(n)
    tr = pred.loc[picked].copy()
    tr["net"] = np.exp(tr["log_return"]) * (1 - fee) / (1 + fee) - 1
    return tr


def summary(tr: pd.DataFrame) -> list[str]:
    n = len(tr)
    if n == 0:
        return ["0", "", "", "", "", "", ""]
    net = tr["net"].to_numpy()
    se = net.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    hits = [np.mean(tr["label"] == code) for code in (2, 0, 1)]
    return [
        f"{n:,}",
        f"{1e4 * net.mean():+.1f} ± {1e4 * se:.1f}",
        f"{sharpe_ratio(net):+.3f}" if n > 1 else "",
        *(f"{x:.2f}" for x in hits),
        f"{net.sum():+.2f}",
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
    results, preds, configs = {}, {}, {}
    for spec in args.barriers.split(","):
        h, k = int(spec.split(":")[0]), float(spec.split(":")[1])
        args.horizon, args.k = h, k
        pred = pd.concat(
            [fold_predictions(p, args) for p in args.pairs.split(",")], ignore_index=True
        ).sort_values(["pair", "t"], ignore_index=True)
        d = k * pred["sigma"] * np.sqrt(h)
        pred["ev"] = long_expected_value(
            pred["p_up"], pred["p_down"], pred["p_time"], d, d, pred["m_time"], args.fee
        )
        preds[(h, k)] = pred
        rules = {f"h={h} k={k:g} always (no model)": np.ones(len(pred), dtype=bool)}
        for m in margins:
            rules[f"h={h} k={k:g} EV > {m:g} σ√h"] = ev_signal(pred["ev"], d, m)
        first = (pred["date"] < split).to_numpy()
        for period, mask in zip(periods, (first, ~first), strict=True):
            rows = []
            for name, enter in rules.items():
                tr = trades(pred[mask], enter[mask], args.fee)
                results[(period, name)] = tr
                rows.append([name, *summary(tr)])
            print_table(
                f"Decision walk-forward {period}: {args.pairs}, 5m, h = {h}, k = {k:g}, "
                f"fee {args.fee:.2%} a side",
                header,
                rows,
            )
        for name, enter in rules.items():
            configs[name] = (pred, enter)
    took = time.perf_counter() - t0

    eligible = {
        name: results[(periods[0], name)]["net"].mean()
        for name in configs
        if "EV" in name and len(results[(periods[0], name)]) >= 30
    }
    chosen = max(eligible, key=eligible.get) if eligible else None
    print(f"\nchosen on the first period: {chosen or 'none (no rule traded 30 times): flat'}")
    trial_srs, chosen_net = [], None
    for name, (pred, enter) in configs.items():
        if "EV" not in name:
            continue
        net = trades(pred, enter, args.fee)["net"].to_numpy()
        trial_srs.append(sharpe_ratio(net) if net.size > 1 else float("nan"))
        if name == chosen:
            chosen_net = net
    print(f"configurations tried: {len(trial_srs)} ({sum(np.isfinite(trial_srs))} traded)")
    if chosen_net is not None and chosen_net.size > 2:
        dsr, sr, sr0 = deflated_sharpe_ratio(chosen_net, trial_srs)
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
                    f"{len(chosen_net):,}",
                    f"{sr:+.4f}",
                    len(trial_srs),
                    f"{sr0:.4f}",
                    f"{dsr:.3f}",
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
