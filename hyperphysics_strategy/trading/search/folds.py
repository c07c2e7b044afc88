"""One trial's walk-forward, fold by fold, on the package's evaluator (:mod:`..walkforward`).

A :class:`TrialSpec` becomes the evaluator's inputs: a :class:`~..bet.BetSpec` (horizon,
barriers, margin, fee, one day of candles as sigma's window), :class:`~..walkforward.Folds`
(``train_days``, the market's ``test_days``, candles per day of the timeframe) and a fitter
(:class:`CachedFitter`: the expert ensemble with the trial's experts, parameters and
stacking). Each pair's candles are cut so that the evaluator's test blocks cover exactly
``[start, end)``: its training window starts ``train_days`` before ``start`` (features
before that are masked) and candles stop at ``end`` (no bet resolves after it).

Folds run in lockstep: fold ``k`` of every pair at once (each pair's ensemble submits its
expert jobs to the process-wide round scheduler), then ``on_fold`` sees the running
evaluation: that is where a search prunes.

:class:`CachedFitter` computes each (pair x fold x experts x configuration) job once: the
test probabilities are stored under ``cache_dir``, keyed by a hash of the training rows,
labels, test rows and everything the fit depends on.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hyperphysics_strategy.ensemble import ExpertEnsemble

from ..bet import DEFAULT_BET, BetSpec
from ..walkforward import Evaluation, Folds, PairData, pair_folds
from .spec import TrialSpec

#: (candles by timeframe of one pair, timeframe, feature groups, indicator periods) ->
#: feature columns on the rows of the timeframe's candles sorted by date
FeatureBuilder = Callable[
    [Mapping[str, pd.DataFrame], str, Sequence[str], Sequence[int]], pd.DataFrame
]
SECONDS = {"m": 60, "h": 3600, "d": 86_400}


def timeframe_seconds(timeframe: str) -> int:
    """Seconds of a freqtrade timeframe (``5m``, ``1h``, ``1d``)."""
    try:
        return int(timeframe[:-1]) * SECONDS[timeframe[-1]]
    except (KeyError, ValueError):
        raise ValueError(f"unknown timeframe {timeframe!r} (e.g. 5m, 15m, 1h)") from None


def candles_per_day(timeframe: str) -> int:
    return max(1, 86_400 // timeframe_seconds(timeframe))


@dataclass
class Market:
    """The user's candles (``pair -> timeframe -> candles``) and how trials read them."""

    candles: dict[str, dict[str, pd.DataFrame]]
    features: FeatureBuilder
    fee: float = DEFAULT_BET.fee
    test_days: int = 30
    cache_dir: Path | None = None
    backend: str = "local"
    _features: dict = field(default_factory=dict, repr=False)

    @property
    def pairs(self) -> list[str]:
        return list(self.candles)

    def pair_data(self, pair: str, spec: TrialSpec, start: pd.Timestamp, end: pd.Timestamp):
        """``pair``'s :class:`PairData` for ``spec``, cut for test blocks from ``start``."""
        by_tf = self.candles[pair]
        if spec.timeframe not in by_tf:
            raise ValueError(f"{pair}: no {spec.timeframe} candles")
        key = (pair, spec.timeframe, spec.feature_groups, spec.indicator_periods)
        if key not in self._features:  # the features of every trial with this key
            candles = by_tf[spec.timeframe].sort_values("date").drop_duplicates("date", keep="last")
            feats = self.features(
                by_tf, spec.timeframe, spec.feature_groups, spec.indicator_periods
            )
            self._features[key] = (
                candles.reset_index(drop=True),
                feats.loc[candles.index].reset_index(drop=True),
            )
        candles, feats = self._features[key]
        first = start - pd.Timedelta(days=spec.train_days)
        keep = (candles["date"] < end).to_numpy()
        candles, feats = candles[keep], feats[keep].copy()
        feats[(candles["date"] < first).to_numpy()] = np.nan  # the first window starts here
        return PairData(pair, candles, feats)


@dataclass(frozen=True)
class CachedFitter:
    """The evaluator's fitter for one trial: the expert ensemble, its test probabilities
    cached on disk (a fit is lazy: it runs when the test rows are asked for, unless cached)."""

    spec: TrialSpec
    cache_dir: Path | None = None
    backend: str = "local"

    def __call__(self, X: np.ndarray, y: np.ndarray, embargo: int, seed: int) -> _LazyModel:
        return _LazyModel(self, X, y, embargo, seed)

    def fit(self, X: np.ndarray, y: np.ndarray, embargo: int, seed: int) -> ExpertEnsemble:
        s = self.spec
        return ExpertEnsemble(
            s.experts,
            {e: dict(s.expert_params.get(e, {})) for e in s.experts},
            embargo=embargo,
            seed=seed,
            use_processes=False,
            stacking_folds=3 if s.stacking else 0,
            backend=self.backend,
        ).fit(X, y)


class _LazyModel:
    def __init__(self, fitter: CachedFitter, X, y, embargo: int, seed: int) -> None:
        self.fitter, self.X, self.y, self.embargo, self.seed = fitter, X, y, embargo, seed
        self.classes_: list[str] = []

    def key(self, X_test: np.ndarray) -> str:
        s = self.fitter.spec
        conf = {
            "experts": s.experts,
            "params": s.expert_params,
            "stacking": s.stacking,
            "embargo": self.embargo,
            "seed": self.seed,
        }
        h = hashlib.sha256(json.dumps(conf, sort_keys=True).encode())
        for a in (self.X, np.asarray(self.y, dtype=str), X_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:24]

    def predict_proba(self, X_test: np.ndarray) -> np.ndarray:
        path = None
        if self.fitter.cache_dir is not None:
            path = self.fitter.cache_dir / f"{self.key(X_test)}.npz"
            if path.exists():
                saved = np.load(path, allow_pickle=False)
                self.classes_ = [str(c) for c in saved["classes"]]
                return saved["proba"]
        model = self.fitter.fit(self.X, self.y, self.embargo, self.seed)
        proba, self.classes_ = model.predict_proba(X_test), [str(c) for c in model.classes_]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # unique per process and thread: processes sharing one study share OUT/cache
            tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp.npz")
            np.savez(tmp, proba=proba, classes=np.asarray(self.classes_))
            tmp.replace(path)
        return proba


def bet_of(spec: TrialSpec, fee: float) -> BetSpec:
    return BetSpec(
        horizon=spec.horizon,
        vol_window=candles_per_day(spec.timeframe),
        k_up=spec.k_up,
        k_down=spec.k_down,
        fee=fee,
        margin=spec.margin,
    )


def walk_forward(
    market: Market,
    spec: TrialSpec,
    start: pd.Timestamp,
    end: pd.Timestamp,
    on_fold: Callable[[int, Evaluation], None] | None = None,
) -> Evaluation:
    """The evaluation of ``spec`` over every pair on ``[start, end)``, fold after fold.

    ``on_fold(step, evaluation so far)`` runs after each fold (it may raise to stop the
    walk: a pruned trial)."""
    bet = bet_of(spec, market.fee)
    folds = Folds(
        train_days=spec.train_days,
        test_days=market.test_days,
        candles_per_day=candles_per_day(spec.timeframe),
    )
    fit = CachedFitter(spec, market.cache_dir, market.backend)
    gens: list[Iterator[pd.DataFrame]] = [
        pair_folds(market.pair_data(p, spec, start, end), bet, folds, fit) for p in market.pairs
    ]
    frames: list[pd.DataFrame] = []
    with ThreadPoolExecutor(max_workers=max(1, len(gens))) as pool:
        step = 0
        while gens:
            got = [pool.submit(next, g, None) for g in gens]
            results = [f.result() for f in got]
            gens = [g for g, r in zip(gens, results, strict=True) if r is not None]
            new = [r for r in results if r is not None]
            if not new:
                break
            frames.extend(new)
            if on_fold is not None:
                on_fold(step, _evaluation(bet, frames))
            step += 1
    if not frames:
        raise ValueError(
            f"no fold to test between {start:%Y-%m-%d} and {end:%Y-%m-%d}: each pair needs "
            f"{spec.train_days} days of candles before it and {market.test_days / 2:g} in it"
        )
    return _evaluation(bet, frames)


def _evaluation(bet: BetSpec, frames: list[pd.DataFrame]) -> Evaluation:
    pred = pd.concat(frames, ignore_index=True).sort_values(["pair", "t"], ignore_index=True)
    return Evaluation(bet, pred)
