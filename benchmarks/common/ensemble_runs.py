"""The ensemble benchmark's data set and training run (bench_ensemble.py, compare_commits.py).

Only names that exist with the same meaning since commit f4ad50d are imported here, so that
``compare_commits.py`` can run this module against that commit's package as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from hyperphysics_strategy.engine.hardware import get_hardware_info
from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.ensemble import planned_placements
from hyperphysics_strategy.ensemble.experts import FitData
from hyperphysics_strategy.ensemble.labels import LabelCodec

STRESS_PARAMS = {"n_estimators": 200, "early_stopping_rounds": 1000}  # 200 rounds kept


def data(n=20_000, f=100, seed=0, noise=1.0):
    """Five informative features of 100; ``noise`` scales the label noise (1: the stress
    set, about 0.7 accuracy; 5: a low-signal set closer to market data)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    s = X[:, :5].sum(axis=1) + noise * rng.normal(size=n)
    lo, hi = np.quantile(s, [0.25, 0.75]) if noise > 1 else (-1.5, 1.5)
    y = np.where(s > hi, "buy", np.where(s < lo, "sell", "neutral"))
    return X, y


@dataclass
class TrainingRun:
    """Seconds of each expert trained alone and of the ensemble, with the same placements."""

    single: dict[str, float]
    wall: float
    lanes: int
    placements: list
    rows: int

    @property
    def ideal(self) -> float:
        """max(sum / lanes, slowest expert): the ensemble's wall time at perfect overlap."""
        return max(sum(self.single.values()) / self.lanes, max(self.single.values()))

    @property
    def efficiency(self) -> float:
        return self.ideal / self.wall


def training_run(names, params, X, y, lanes: int | None) -> TrainingRun:
    """Each expert alone with its placement from the plan, then the ensemble with the same
    plan (``stacking_folds=0``, so both sides train the same models). ``lanes``: the plan
    of a machine with that many usable cores (None: this machine's plan)."""
    info = get_hardware_info()
    if lanes is not None:
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
    return TrainingRun(single, wall, min(workers, len(names)), list(placements), split)
