"""Walk-forward quality: the ensemble against each expert alone and FreqAI's LightGBM.

    python benchmarks/quality_walkforward.py [--pairs BTC,ETH,...] [--folds 3]

For every pair (1h candles from ../shared/data/candles/binance), features and labels
come from ``hyperphysics_strategy.strategy.features`` (indicators over 10 and 20 candles,
candle shape, calendar; direction labels over 12 candles, threshold 0.5 sigma). Each
fold trains on ``--train`` rows, leaves a 12-row embargo and tests on the next
``--test`` rows; folds step forward by ``--test`` rows. Out-of-sample metrics are the
plain (unweighted) log-loss and the balanced accuracy, averaged over folds and pairs.

Models, all on identical rows:

* ``ensemble (12)``: all twelve experts, blended (each expert alone is read from the
  same fit: its own out-of-sample probabilities);
* ``ensemble (default)``: lightgbm + xgboost, the FreqAI model's default;
* ``freqai LightGBMClassifier``: ``lightgbm.LGBMClassifier()`` with default parameters,
  fitted like FreqAI's ``LightGBMClassifier`` (train rows, its eval set = the ensemble's
  validation block, sample weights 1).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from _table import print_table
from lightgbm import LGBMClassifier

from hyperphysics_strategy.engine.hardware import DEFAULT_EXPERT_NAMES
from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.metrics import balanced_accuracy, log_loss
from hyperphysics_strategy.strategy import features as F

CANDLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "candles" / "binance"
HORIZON = 12


def build(pair: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_feather(CANDLES / f"{pair}_USDT-1h.feather")
    out = df.copy()
    for period in (10, 20):
        ind = F.add_indicator_features(df.copy(), period)
        for col in ind.columns:
            if col.startswith("%"):
                out[col.replace("period", str(period))] = ind[col]
    out = F.add_calendar_features(F.add_basic_features(out))
    out["&s-direction"] = F.direction_labels(out["close"], HORIZON, 100, 0.5)
    out = out.replace([np.inf, -np.inf], np.nan).dropna()
    cols = [c for c in out.columns if c.startswith("%")]
    return out[cols].to_numpy(np.float32), out["&s-direction"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default="BTC,ETH,ADA,DOT,LINK")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=500)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    codec = LabelCodec()
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    started = time.perf_counter()
    for pair in args.pairs.split(","):
        X, y = build(pair)
        for fold in range(args.folds):
            a = fold * args.test
            b = a + args.train
            c, d = b + HORIZON, b + HORIZON + args.test
            if d > len(y):
                break
            Xtr, ytr, Xte = X[a:b], y[a:b], X[c:d]
            codes = codec.encode(y[c:d])

            ens = ExpertEnsemble(DEFAULT_EXPERT_NAMES, embargo=HORIZON, seed=fold).fit(Xtr, ytr)
            p = ens.predict_proba(Xte)
            scores["ensemble (12 experts)"].append(
                (log_loss(p, codes), balanced_accuracy(p, codes))
            )
            for expert in ens.experts:
                q = expert.predict_proba(Xte)
                scores[expert.name].append((log_loss(q, codes), balanced_accuracy(q, codes)))
            for r in ens.report.experts:
                if r.error:
                    print(f"{pair} fold {fold}: {r.name} dropped: {r.error}")

            small = ExpertEnsemble(("lightgbm", "xgboost"), embargo=HORIZON, seed=fold)
            p = small.fit(Xtr, ytr).predict_proba(Xte)
            scores["ensemble (lightgbm+xgboost)"].append(
                (log_loss(p, codes), balanced_accuracy(p, codes))
            )

            # FreqAI's LightGBMClassifier: LGBMClassifier(**params).fit(X, y, eval_set=...)
            n_val = int(round(len(ytr) * 0.15))
            fit_rows = slice(0, len(ytr) - n_val - HORIZON)
            model = LGBMClassifier(verbosity=-1)
            model.fit(Xtr[fit_rows], ytr[fit_rows], eval_set=[(Xtr[-n_val:], ytr[-n_val:])])
            order = [list(model.classes_).index(name) for name in codec.classes]
            q = model.predict_proba(Xte)[:, order]
            scores["freqai LightGBMClassifier"].append(
                (log_loss(q, codes), balanced_accuracy(q, codes))
            )
            print(f"{pair} fold {fold} done ({time.perf_counter() - started:.0f}s)", flush=True)

    rows = []
    for name, values in sorted(scores.items(), key=lambda kv: np.mean([v[0] for v in kv[1]])):
        ll = np.array([v[0] for v in values])
        ba = np.array([v[1] for v in values])
        rows.append([name, f"{ll.mean():.4f}", f"{ll.std():.4f}", f"{ba.mean():.3f}", len(values)])
    print_table(
        f"Walk-forward, {args.pairs} 1h, {args.train} train / {args.test} test rows per fold "
        f"(chance log-loss ln 3 = {np.log(3):.4f})",
        ["model", "log-loss", "std", "balanced acc.", "folds"],
        rows,
    )
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
