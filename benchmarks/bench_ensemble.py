"""Ensemble benchmarks: inference latency and parallel training efficiency.

    python benchmarks/bench_ensemble.py            # default ensemble (lightgbm + xgboost)
    python benchmarks/bench_ensemble.py --all      # inference of all twelve experts too

Inference: 1,000 rows x 100 features through the whole fitted ensemble on CPU (target
<= 5 ms), each tree expert's native predictor against its compiled forest
(``ensemble/experts/forest``) side by side, for (a) a stress model (200 rounds kept per
tree expert) and (b) the default parameters (early stopping) on a low-signal data set.
Training: the ensemble's wall time against the sum of its experts trained one at a time
with the same placements (device, thread budget), for the lanes the hardware plan gives
this machine and for two lanes (the plan of a machine with two usable cores, so both
cores of a 2-core box are used). Parallel efficiency = ideal / wall with ideal =
max(sum / lanes, slowest expert). The ensemble runs with ``stacking_folds=0`` here so
that both sides train the same models (the folds train copies after the final experts,
lane by lane in the same way).

    python benchmarks/bench_ensemble.py --training-only [--all]
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import partial

import numpy as np
from _table import print_table
from _timing import wall_times

from hyperphysics_strategy.engine.hardware import get_hardware_info
from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.ensemble import planned_placements
from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS, FitData
from hyperphysics_strategy.ensemble.experts.forest import CompiledTrees
from hyperphysics_strategy.ensemble.labels import LabelCodec

EXPERTS = DEFAULT_EXPERTS
ALL_EXPERTS = tuple(EXPERT_REGISTRY)
PARAMS = {name: {"n_estimators": 200, "early_stopping_rounds": 1000} for name in EXPERTS}


def data(n=20_000, f=100, seed=0, noise=1.0):
    """Five informative features of 100; ``noise`` scales the label noise (1: the stress
    set, about 0.7 accuracy; 5: a low-signal set closer to market data)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    s = X[:, :5].sum(axis=1) + noise * rng.normal(size=n)
    lo, hi = np.quantile(s, [0.25, 0.75]) if noise > 1 else (-1.5, 1.5)
    y = np.where(s > hi, "buy", np.where(s < lo, "sell", "neutral"))
    return X, y


def best_of(fn, repeat=30):
    """Best and median seconds of ``repeat`` calls after a warm-up call (numba kernels are
    compiled or loaded from cache at fit time already)."""
    times = wall_times(fn, repeat)
    return min(times), float(np.median(times))


@contextmanager
def predictor(experts, mode):
    """``mode``: "native" (library predictors), "compiled" or "compiled x2" (2 threads)."""
    saved = [(e, e.__dict__.get("_compiled"), e.params.get("inference_threads")) for e in experts]
    for e in experts:
        if isinstance(e, CompiledTrees):
            _ = e.compiled  # build now if not yet built
            if mode == "native":
                e.__dict__["_compiled"] = None
            e.params["inference_threads"] = 2 if mode == "compiled x2" else 1
    try:
        yield
    finally:
        for e, compiled, threads in saved:
            if isinstance(e, CompiledTrees):
                e.__dict__["_compiled"] = compiled
                e.params.pop("inference_threads")
                if threads is not None:
                    e.params["inference_threads"] = threads


def ms(best_median) -> str:
    return f"{best_median[0] * 1e3:.2f} / {best_median[1] * 1e3:.2f}"


def inference_table(names, params, X, y, title) -> None:
    ens = ExpertEnsemble(names, params).fit(X, y)
    batch = np.ascontiguousarray(X[:1000])
    modes = ("native", "compiled", "compiled x2")
    rows = []
    targets = [(e.name, e, [e]) for e in ens.experts_]
    targets.append((f"ensemble ({len(ens.experts_)} experts, stacked)", ens, ens.experts_))
    for label, model, experts in targets:
        times = {}
        for mode in modes:
            with predictor(experts, mode):
                times[mode] = best_of(lambda m=model: m.predict_proba(batch))
        if model is ens:
            kept = "<= 5 ms target"
        elif isinstance(model, CompiledTrees):
            compiled = model.compiled
            kept = f"{model.best_iteration or '?'} rounds, " + (
                f"{compiled.n_trees} trees" if compiled else "native only"
            )
        else:
            kept = f"{model.best_iteration} epochs"
        ratio = times["native"][0] / times["compiled"][0]
        rows.append([label, kept, *(ms(times[m]) for m in modes), f"{ratio:.1f}x"])
    header = ["model", "kept", "native ms", "compiled ms", "compiled, 2 threads ms", "speed-up"]
    print_table(title + " (best / median of 30)", header, rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--all", action="store_true", help="all twelve experts too")
    ap.add_argument("--training-only", action="store_true", help="only the training tables")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    X, y = data()
    if args.training_only:
        return train_section(X, y, args.all)
    inference_table(
        EXPERTS,
        PARAMS,
        X,
        y,
        "Inference, 1,000 rows x 100 features (CPU), default ensemble, stress model: "
        "200 rounds kept",
    )
    Xd, yd = data(seed=1, noise=5.0)
    inference_table(
        EXPERTS,
        {},
        Xd,
        yd,
        "Inference, 1,000 rows x 100 features (CPU), default ensemble, default parameters "
        "(early stopping), low-signal data",
    )
    if args.all:
        inference_table(
            ALL_EXPERTS,
            {},
            X[:6000],
            y[:6000],
            "Inference, 1,000 rows x 100 features (CPU), all twelve experts (6,000 training rows)",
        )
    print(f"load average after inference: {os.getloadavg()}")
    train_section(X, y, args.all)


def train_section(X, y, all_experts: bool) -> None:
    names = ALL_EXPERTS if all_experts else EXPERTS
    params = PARAMS if names is EXPERTS else {}
    n = 20_000 if names is EXPERTS else 6_000
    for lanes in (None, 2):
        training_table(names, params, X[:n], y[:n], lanes)


def training_table(names, params, X, y, lanes: int | None) -> None:
    info = get_hardware_info()
    if lanes is not None:  # the plan of a machine with `lanes` usable cores
        info = replace(info, cpu=replace(info.cpu, usable_cores=lanes))
    provider = partial(planned_placements, info=info)
    codes = LabelCodec().encode(y)
    split = int(len(y) * 0.85)
    fit = FitData(
        X[:split], codes[:split], np.ones(split), X[split:], codes[split:],
        np.ones(len(y) - split), 3,
    )  # fmt: skip
    placements, workers = provider([make_expert(n) for n in names])
    single = {}
    for name, placement in zip(names, placements, strict=True):
        t = time.perf_counter()
        make_expert(name, params.get(name)).fit(fit, placement)
        single[name] = time.perf_counter() - t
    ens = ExpertEnsemble(names, params, placement_provider=provider, stacking_folds=0)
    t = time.perf_counter()
    ens.fit(X[:split], y[:split], None, X[split:], y[split:])
    wall = time.perf_counter() - t
    used = min(workers, len(names))
    ideal = max(sum(single.values()) / used, max(single.values()))
    rows = [[n, f"{s:.2f}", placements[i].device, placements[i].threads] for i, (n, s) in
            enumerate(single.items())]  # fmt: skip
    rows.append(["sum of singles", f"{sum(single.values()):.2f}", "", ""])
    rows.append([f"ideal with {used} lane(s)", f"{ideal:.2f}", "", ""])
    rows.append([f"ensemble wall, {used} lane(s)", f"{wall:.2f}", "", ""])
    rows.append(["parallel efficiency (ideal / wall)", f"{ideal / wall:.2f}", "", ""])
    which = "the plan of this machine" if lanes is None else f"a plan for {lanes} usable cores"
    print_table(
        f"Training, {split:,} rows x {X.shape[1]} features, {which}",
        ["run", "seconds", "device", "threads"],
        rows,
    )


if __name__ == "__main__":
    main()
