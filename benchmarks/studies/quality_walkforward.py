"""Walk-forward quality: the ensemble against each expert alone and FreqAI's LightGBM.

    python benchmarks/studies/quality_walkforward.py [--pairs BTC,ETH,...] [--folds 3] [--quick]
        [--no-twelve]

For every pair (1h candles from ../shared/data/candles/binance), features and labels
come from ``hyperphysics_strategy.strategy.features`` (indicators over 10 and 20 candles,
candle shape, calendar; triple-barrier labels over 12 candles, barriers 1 sigma x sqrt(12)). Each
fold trains on ``--train`` rows, leaves a 12-row embargo and tests on the next
``--test`` rows; folds step forward by ``--test`` rows. Out-of-sample metrics are the
plain (unweighted) log-loss and the balanced accuracy, averaged over folds and pairs.

Models, all on identical rows:

* ``ensemble (12 experts)``: all twelve experts, stacked blend (the default method: a
  logistic model on out-of-fold predictions from three forward-chaining folds plus the
  validation block);
* ``ensemble (lightgbm+xgboost)``: the FreqAI model's default expert list, same method;
* ``<expert> alone``: the expert as its single-expert FreqAI classifier predicts it (an
  ensemble of one: its own calibration and stacker of one), fitted on the same
  out-of-fold blocks as the twelve-expert ensemble, nothing re-trained; a plain
  ``<expert>`` row is the raw expert;
* ``class prior (no model)``: the constant forecast of the training labels' class
  frequencies, the no-skill baseline;
* ``freqai LightGBMClassifier``: ``lightgbm.LGBMClassifier()`` with default parameters,
  fitted like FreqAI's ``LightGBMClassifier`` (train rows, its eval set = the ensemble's
  validation block, sample weights 1).

Paired differences (model minus the twelve-expert ensemble, per fold) are printed too:
the folds share their market regime, so a paired comparison is the fair one.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common import CANDLES
from common.table import print_table

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble
from hyperphysics_strategy.ensemble.calibration import (
    PredictionBlock,
    fit_expert_calibration,
)
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.metrics import balanced_accuracy, log_loss
from hyperphysics_strategy.ensemble.stacking import fit_stacker
from hyperphysics_strategy.strategy import features as F

HORIZON = 12


def build(pair: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_feather(CANDLES / f"{pair}_USDT-1h.feather")
    X, y = F.build_training_set(df, periods=(10, 20), horizon=HORIZON)
    return X.to_numpy(np.float32), y.to_numpy()


def singles(ens: ExpertEnsemble, Xte: np.ndarray) -> dict[str, np.ndarray]:
    """Each expert alone, calibrated and stacked as an ensemble of one, from ``ens``'s own
    out-of-fold blocks: what ``HyperPhysics<Expert>Classifier`` predicts."""
    out = {}
    blocks = ens.oof_blocks_ or []
    for i, expert in enumerate(ens.experts_):
        mine = [
            PredictionBlock([b.probas[i]], b.codes, b.source_prior, b.target_prior, b.sample_weight)
            for b in blocks
        ]
        cal, calibrated, codes, weights = fit_expert_calibration(
            mine, ens.calibration_.source_prior, ens.calibration_.target_prior
        )
        stacker = fit_stacker(calibrated, codes, len(ens.classes_), weights, ens.stacking_C)
        out[f"{expert.name} alone"] = stacker.predict([cal.expert(expert.predict_proba(Xte), 0)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default="BTC,ETH,ADA,DOT,LINK")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="BTC,ETH and 2 folds, for iteration")
    ap.add_argument("--no-twelve", action="store_true", help="skip the 12-expert ensemble")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.folds = "BTC,ETH", 2
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

            def score(name: str, p: np.ndarray, codes: np.ndarray = codes) -> None:
                scores[name].append((log_loss(p, codes), balanced_accuracy(p, codes)))

            small = ExpertEnsemble(
                ("lightgbm", "xgboost"), embargo=HORIZON, seed=fold, keep_oof_blocks=True
            )
            score("ensemble (lightgbm+xgboost)", small.fit(Xtr, ytr).predict_proba(Xte))
            target = small.calibration_.target_prior
            score("class prior (no model)", np.tile(target, (len(Xte), 1)))
            fitted = small
            if not args.no_twelve:
                ens = ExpertEnsemble(
                    tuple(EXPERT_REGISTRY), embargo=HORIZON, seed=fold, keep_oof_blocks=True
                )
                score("ensemble (12 experts)", ens.fit(Xtr, ytr).predict_proba(Xte))
                for r in ens.report_.experts:
                    if r.error:
                        print(f"{pair} fold {fold}: {r.name} dropped: {r.error}")
                fitted = ens
            for name, q in singles(fitted, Xte).items():
                score(name, q)
            for expert in fitted.experts_:
                score(expert.name, expert.predict_proba(Xte))

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
    ref = (
        "ensemble (12 experts)"
        if "ensemble (12 experts)" in scores
        else ("ensemble (lightgbm+xgboost)")
    )
    base = np.array([v[0] for v in scores[ref]])
    paired = []
    for name, values in scores.items():
        if name == ref:
            continue
        diff = np.array([v[0] for v in values]) - base
        paired.append(
            [
                name,
                f"{diff.mean():+.4f}",
                f"{diff.std(ddof=1) / np.sqrt(diff.size):.4f}",
                f"{int((diff > 0).sum())}/{diff.size}",
            ]
        )
    paired.sort(key=lambda r: float(r[1]))
    print_table(
        f"Paired log-loss difference, model minus {ref} (positive: the ensemble is better)",
        ["model", "mean diff", "std err", "folds ensemble better"],
        paired,
    )
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
