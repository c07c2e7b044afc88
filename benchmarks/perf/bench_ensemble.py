"""Ensemble benchmarks: inference latency and parallel training efficiency.

    python benchmarks/perf/bench_ensemble.py            # default ensemble (lightgbm + xgboost)
    python benchmarks/perf/bench_ensemble.py --all      # inference of all twelve experts too

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

    python benchmarks/perf/bench_ensemble.py --training-only [--all]
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common.ensemble_runs import STRESS_PARAMS, data, training_run
from common.table import print_table
from common.timing import wall_times

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble
from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS
from hyperphysics_strategy.ensemble.experts.forest import CompiledTrees

EXPERTS = DEFAULT_EXPERTS
ALL_EXPERTS = tuple(EXPERT_REGISTRY)
PARAMS = {name: STRESS_PARAMS for name in EXPERTS}


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
    run = training_run(names, params, X, y, lanes)
    rows = [[n, f"{s:.2f}", run.placements[i].device, run.placements[i].threads] for i, (n, s) in
            enumerate(run.single.items())]  # fmt: skip
    rows.append(["sum of singles", f"{sum(run.single.values()):.2f}", "", ""])
    rows.append([f"ideal with {run.lanes} lane(s)", f"{run.ideal:.2f}", "", ""])
    rows.append([f"ensemble wall, {run.lanes} lane(s)", f"{run.wall:.2f}", "", ""])
    rows.append(["parallel efficiency (ideal / wall)", f"{run.efficiency:.2f}", "", ""])
    which = "the plan of this machine" if lanes is None else f"a plan for {lanes} usable cores"
    print_table(
        f"Training, {run.rows:,} rows x {X.shape[1]} features, {which}",
        ["run", "seconds", "device", "threads"],
        rows,
    )


if __name__ == "__main__":
    main()
