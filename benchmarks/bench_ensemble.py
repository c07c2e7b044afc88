"""Ensemble benchmarks: inference latency and parallel training efficiency.

    python benchmarks/bench_ensemble.py            # default ensemble (lightgbm + xgboost)
    python benchmarks/bench_ensemble.py --all      # inference of all twelve experts too

Inference: 1,000 rows x 100 features through the whole fitted ensemble on CPU (target
<= 5 ms). Training: the ensemble's wall time against the sum of its experts trained one
at a time with the same per-expert thread budget (parallel efficiency = sum / (wall x
workers)).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _table import print_table

from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.ensemble import planned_placements
from hyperphysics_strategy.ensemble.experts import FitData
from hyperphysics_strategy.ensemble.labels import LabelCodec

EXPERTS = ("lightgbm", "xgboost")
PARAMS = {name: {"n_estimators": 200, "early_stopping_rounds": 1000} for name in EXPERTS}


def data(n=20_000, f=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    s = X[:, :5].sum(axis=1) + rng.normal(size=n)
    y = np.where(s > 1.5, "buy", np.where(s < -1.5, "sell", "neutral"))
    return X, y


def best_of(fn, repeat=30):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def inference_table(names, params, X, y, title) -> None:
    ens = ExpertEnsemble(names, params).fit(X, y)
    batch = X[:1000]
    rows = []
    for expert in ens.experts:
        b, m = best_of(lambda e=expert: e.predict_proba(batch))
        extra = f"{expert.best_iteration} rounds/epochs kept"
        rows.append([expert.name, f"{b * 1e3:.2f}", f"{m * 1e3:.2f}", extra])
    b, m = best_of(lambda: ens.predict_proba(batch))
    active = int((ens.weights > 1e-6).sum())
    rows.append(
        [f"ensemble ({active} with weight > 0)", f"{b * 1e3:.2f}", f"{m * 1e3:.2f}", "<= 5 ms"]
    )
    print_table(title, ["model", "best ms", "median ms", "note"], rows)


def main() -> None:
    X, y = data()
    inference_table(
        EXPERTS, PARAMS, X, y, "Inference, 1,000 rows x 100 features (CPU), default ensemble"
    )
    if "--all" in sys.argv:
        from hyperphysics_strategy.engine.hardware import DEFAULT_EXPERT_NAMES

        inference_table(
            DEFAULT_EXPERT_NAMES,
            {},
            X[:6000],
            y[:6000],
            "Inference, 1,000 rows x 100 features (CPU), all twelve experts (6,000 training rows)",
        )

    codec = LabelCodec()
    codes = codec.encode(y)
    split = int(len(y) * 0.85)
    fit = FitData(
        X[:split],
        codes[:split],
        np.ones(split),
        X[split:],
        codes[split:],
        np.ones(len(y) - split),
        3,
    )
    placements, workers = planned_placements([make_expert(n) for n in EXPERTS])
    single = {}
    for name, placement in zip(EXPERTS, placements, strict=True):
        t = time.perf_counter()
        make_expert(name, PARAMS[name]).fit(fit, placement)
        single[name] = time.perf_counter() - t
    t = time.perf_counter()
    ExpertEnsemble(EXPERTS, PARAMS).fit(X[:split], y[:split], None, X[split:], y[split:])
    wall = time.perf_counter() - t
    ideal = sum(single.values()) / min(workers, len(EXPERTS))
    rows = [[n, f"{s:.2f}"] for n, s in single.items()]
    rows.append(["sum of singles", f"{sum(single.values()):.2f}"])
    rows.append([f"ensemble wall ({min(workers, len(EXPERTS))} workers)", f"{wall:.2f}"])
    rows.append(["parallel efficiency (ideal / wall)", f"{ideal / wall:.2f}"])
    print_table(
        f"Training, 17,000 rows x 100 features, {placements[0].threads} thread(s) per expert",
        ["run", "seconds"],
        rows,
    )


if __name__ == "__main__":
    main()
