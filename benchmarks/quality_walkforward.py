"""Walk-forward quality: the ensemble against each expert alone and FreqAI's LightGBM.

    python benchmarks/quality_walkforward.py [--pairs BTC,ETH,...] [--folds 3] [--quick]
        [--no-twelve]

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
* ``..., raw blend``: the same experts blended as before calibration existed (simplex
  weights fitted on the raw, class-balanced probabilities with class-balanced
  validation weights; no prior shift, shrinkage or tempering), read from the same fit;
* ``<expert> + calibration``: the expert alone through the ensemble's calibration (prior
  shift and tempering fitted on the same validation block), i.e. what the single-expert
  FreqAI classifiers (``HyperPhysicsLightGBMClassifier``, ...) now predict; a plain
  ``<expert>`` row is the raw expert;
* ``class prior (no model)``: the constant forecast of the training labels' class
  frequencies (the target prior of the calibration), the no-skill baseline;
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
from hyperphysics_strategy.ensemble.blending import blend, fit_blend_weights
from hyperphysics_strategy.ensemble.calibration import class_priors, fit_calibrated_blend
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.metrics import balanced_accuracy, log_loss
from hyperphysics_strategy.ensemble.splits import time_ordered_split
from hyperphysics_strategy.ensemble.weights import balanced_sample_weights
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


def variants(
    ens: ExpertEnsemble, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, codec: LabelCodec
) -> dict[str, np.ndarray]:
    """Out-of-sample probabilities of the raw blend and of each expert calibrated alone.

    Re-derives the ensemble's own split (validation = last 15% after the embargo) and
    reuses its trained experts: nothing is re-trained.
    """
    k = codec.n_classes
    train_idx, val_idx = time_ordered_split(len(ytr), ens.validation_fraction, ens.embargo)
    y_fit, y_val = codec.encode(ytr[train_idx]), codec.encode(ytr[val_idx])
    source = class_priors(y_fit, k, balanced_sample_weights(y_fit, k))
    target = class_priors(y_fit, k, None, pseudo_count=1.0)
    val = [e.predict_proba(Xtr[val_idx]) for e in ens.experts]
    test = [e.predict_proba(Xte) for e in ens.experts]
    raw_weights = fit_blend_weights(val, y_val, balanced_sample_weights(y_val, k))
    out = {
        "raw blend": blend(test, raw_weights),
        "class prior (no model)": np.tile(target, (len(Xte), 1)),
    }
    for e, v, t in zip(ens.experts, val, test, strict=True):
        cal, _, _ = fit_calibrated_blend([v], y_val, source, target, gap=ens.embargo)
        out[f"{e.name} + calibration"] = cal.finish(cal.shift(t))
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

            if not args.no_twelve:
                ens = ExpertEnsemble(DEFAULT_EXPERT_NAMES, embargo=HORIZON, seed=fold)
                score("ensemble (12 experts)", ens.fit(Xtr, ytr).predict_proba(Xte))
                score(
                    "ensemble (12 experts), raw blend",
                    variants(ens, Xtr, ytr, Xte, codec)["raw blend"],
                )
                for r in ens.report.experts:
                    if r.error:
                        print(f"{pair} fold {fold}: {r.name} dropped: {r.error}")

            small = ExpertEnsemble(("lightgbm", "xgboost"), embargo=HORIZON, seed=fold)
            score("ensemble (lightgbm+xgboost)", small.fit(Xtr, ytr).predict_proba(Xte))
            # single experts from the fit that has them all (the 12, else the default two)
            singles = small if args.no_twelve else ens
            for name, q in variants(singles, Xtr, ytr, Xte, codec).items():
                if name == "raw blend":
                    if singles is small:
                        score("ensemble (lightgbm+xgboost), raw blend", q)
                    continue
                score(name, q)
            for expert in singles.experts:
                score(expert.name, expert.predict_proba(Xte))
            if singles is not small:
                raw = variants(small, Xtr, ytr, Xte, codec)["raw blend"]
                score("ensemble (lightgbm+xgboost), raw blend", raw)

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
