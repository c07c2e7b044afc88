"""Calibrates the feature-drift warning: PSI between consecutive windows of real candles.

    python benchmarks/studies/drift_calibration.py [--timeframe 5m] [--train-days 30]
        [--step-days 3] [--informative 1h]

The windows have the geometry of a FreqAI training (the example config's): ``train-days``
of candles, of which the first ``1 - test_size`` are the training rows and the last 500 of
the test rows are the "recent" rows the ensemble's drift report compares with them
(``drift_rows``). The windows start every ``step-days`` over the shared Binance candles of
every pair (``shared/data/candles/binance``, Dec 2020 to Jul 2021: a bull run and the May
2021 crash), and the features are the strategy's (``build_features``, indicator periods 10
and 20), with ``--informative 1h`` also the 1h candles' indicator and shape features merged
in as FreqAI's ``include_timeframes`` does (the example config's feature set, less the
shifted copies and the risk and order-book columns). Consecutive windows of one market
are what the model meets in every retraining: their drift is the normal, the warning
should fire only beyond it.

Printed: per window, the share of features at PSI >= 0.25 (the conventional "major" line),
its percentiles over all windows, and the per-feature median and 99th percentile of PSI.
The warning's threshold (``ensemble.drift.WARN_SHARE``, 0.85) is the 99th percentile of
that share with ``--informative 1h`` (0.821), rounded up to 0.05; the windows above it are
listed with their dates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
import common.checkout  # noqa: F401 - the package from this checkout when not installed
from common import CANDLES
from common.table import print_table

from hyperphysics_strategy.ensemble.drift import MAJOR, WARN_SHARE, feature_drift
from hyperphysics_strategy.strategy.features import build_features

CANDLES_PER_DAY = {"5m": 288, "15m": 96, "1h": 24}


def with_informative(candles: pd.DataFrame, feats: pd.DataFrame, file: Path, tf: str):
    """``feats`` plus the indicator and candle-shape features of the ``tf`` candles of the
    same pair, each row getting the last ``tf`` candle closed by then (as FreqAI's
    ``include_timeframes`` merge them; its shifted copies are left out)."""
    other = pd.read_feather(
        file.with_name(file.name.replace(f"-{file.stem.split('-')[1]}", f"-{tf}"))
    )
    extra = build_features(other).drop(
        columns=[c for c in feats.columns if "_sin" in c or "_cos" in c]
    )
    extra.columns = [f"{c}_{tf}" for c in extra.columns]
    extra["date"] = other["date"] + pd.Timedelta(tf)  # known when the candle closes
    left = pd.DataFrame({"date": candles["date"]}, index=candles.index)
    merged = pd.merge_asof(left, extra.sort_values("date"), on="date")
    merged.index = candles.index
    return pd.concat([feats, merged.drop(columns="date")], axis=1)


def window_shares(
    features: pd.DataFrame, dates: pd.Series, n_train: int, n_test: int, recent: int, step: int
) -> list[tuple[str, float, np.ndarray]]:
    """(start date, share of features at PSI >= MAJOR, per-feature PSI) of every window."""
    X = features.to_numpy(np.float64)
    out = []
    for start in range(0, len(X) - n_train - n_test + 1, step):
        train = X[start : start + n_train]
        end = start + n_train + n_test
        report = feature_drift(train, X[end - recent : end], list(features.columns))
        out.append((f"{dates.iloc[start]:%Y-%m-%d}", report.major_share, np.asarray(report.psi)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeframe", default="5m", choices=sorted(CANDLES_PER_DAY))
    parser.add_argument("--train-days", type=float, default=30.0)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--recent", type=int, default=500, help="drift_rows")
    parser.add_argument("--step-days", type=float, default=3.0)
    parser.add_argument("--percentile", type=float, default=99.0)
    parser.add_argument(
        "--informative", default=None, help="also the features of this timeframe (e.g. 1h)"
    )
    args = parser.parse_args()

    per_day = CANDLES_PER_DAY[args.timeframe]
    n_window = int(args.train_days * per_day)
    n_test = int(n_window * args.test_size)
    n_train, step = n_window - n_test, max(1, int(args.step_days * per_day))
    files = sorted(CANDLES.glob(f"*_USDT-{args.timeframe}.feather"))
    if not files:
        raise SystemExit(f"no {args.timeframe} candles in {CANDLES}")
    rows, psis, names = [], [], None
    for file in files:
        candles = pd.read_feather(file)
        features = build_features(candles)
        if args.informative:
            features = with_informative(candles, features, file, args.informative)
        features = features.iloc[60 * (12 if args.informative else 1) :]  # past the warm-up
        names = list(features.columns)
        dates = candles["date"].loc[features.index]
        for start, share, psi in window_shares(features, dates, n_train, n_test, args.recent, step):
            rows.append((file.name.split("-")[0], start, share))
            psis.append(psi)
    shares = np.array([r[2] for r in rows])
    print(
        f"{len(rows)} windows ({len(files)} pairs, {args.timeframe}): {n_train} training rows "
        f"vs the last {args.recent} of {n_test} test rows, a window every {args.step_days} "
        f"days; {len(names)} features"
    )
    qs = [50, 90, 95, 99, 100]
    print_table(
        "Share of features in major drift, consecutive windows",
        ["statistic", *[f"p{q}" for q in qs]],
        [
            [
                f"share of features at PSI >= {MAJOR}",
                *[f"{np.percentile(shares, q):.3f}" for q in qs],
            ]
        ],  # noqa: E501
    )
    psi = np.array(psis)
    print_table(
        "PSI per feature, consecutive windows",
        ["feature", "median PSI", f"p{args.percentile:g} PSI"],
        [
            [n, f"{np.nanmedian(column):.3f}", f"{np.nanpercentile(column, args.percentile):.3f}"]
            for n, column in zip(names, psi.T, strict=True)
        ],
    )
    chosen = np.percentile(shares, args.percentile)
    print(
        f"p{args.percentile:g} of the share: {chosen:.3f}; the warning fires above "
        f"WARN_SHARE = {WARN_SHARE} ({int((shares > WARN_SHARE).sum())} of {len(rows)} "
        f"windows here)"
    )
    for pair, start, share in rows:
        if share > WARN_SHARE:
            print(f"  {pair} window from {start}: share {share:.3f}")


if __name__ == "__main__":
    main()
