"""One trial's purged, embargoed walk-forward, fold by fold (the search's evaluator adapter).

The walk-forward of ``benchmarks/decision_walkforward.py`` on a :class:`TrialSpec`: each
fold trains the ensemble on ``train_days`` before a test block of ``test_days`` (training
rows whose label reaches the block are purged, the block's first ``h`` rows embargoed),
predicts the block, and the EV rule enters on its rows. Trades per pair never overlap and
earn the bet's outcome after ``fee`` a side. Folds run in order, every pair of a fold at
once (each pair's ensemble submits its expert jobs to the process-wide round scheduler),
and ``on_fold`` sees the running totals after each fold: that is where a search prunes.

A fold's predictions are cached on disk under ``cache_dir``, keyed by the pair's candles
(a hash), the fold's dates and every part of the trial that the fit depends on (not the
margin): a repeated (pair x fold x experts x configuration) job is computed once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hyperphysics_strategy.ensemble import DEFAULT_CLASSES, ExpertEnsemble
from hyperphysics_strategy.ensemble.barriers import (
    NEUTRAL,
    barrier_distances,
    triple_barrier,
    valid_trailing_sigma,
)
from hyperphysics_strategy.ensemble.decision import ev_signal, long_expected_value
from hyperphysics_strategy.ensemble.metrics import EPS

from .spec import TrialSpec

logger = logging.getLogger(__name__)

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


@dataclass
class Market:
    """The user's candles (``pair -> timeframe -> candles``) and how trials read them."""

    candles: dict[str, dict[str, pd.DataFrame]]
    features: FeatureBuilder
    fee: float = 0.001
    test_days: int = 30
    cache_dir: Path | None = None
    backend: str = "local"
    _prepared: dict = field(default_factory=dict, repr=False)
    _digests: dict = field(default_factory=dict, repr=False)

    @property
    def pairs(self) -> list[str]:
        return list(self.candles)

    def digest(self, pair: str) -> str:
        """Hash of every candle of ``pair`` (all timeframes)."""
        if pair not in self._digests:
            h = hashlib.sha256()
            for tf, df in sorted(self.candles[pair].items()):
                h.update(tf.encode())
                h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
            self._digests[pair] = h.hexdigest()[:16]
        return self._digests[pair]

    def prepared(self, pair: str, spec: TrialSpec) -> dict[str, np.ndarray]:
        """Features, labels and bet outcomes of one pair for ``spec`` (kept in memory)."""
        key = (
            pair,
            spec.timeframe,
            spec.horizon,
            spec.k_up,
            spec.k_down,
            spec.feature_groups,
            spec.indicator_periods,
        )
        if key not in self._prepared:
            self._prepared[key] = _prepare(self, pair, spec)
        return self._prepared[key]


def _prepare(market: Market, pair: str, spec: TrialSpec) -> dict[str, np.ndarray]:
    by_tf = market.candles[pair]
    if spec.timeframe not in by_tf:
        raise ValueError(f"{pair}: no {spec.timeframe} candles")
    feats = market.features(by_tf, spec.timeframe, spec.feature_groups, spec.indicator_periods)
    candles = by_tf[spec.timeframe].sort_values("date").drop_duplicates("date", keep="last")
    feats = feats.loc[candles.index]
    close = candles["close"].to_numpy(np.float64)
    window = max(20, 86_400 // timeframe_seconds(spec.timeframe))  # one day of candles
    sigma = valid_trailing_sigma(close, window)
    out = triple_barrier(
        candles["high"], candles["low"], close, sigma, spec.horizon, spec.k_up, spec.k_down
    )
    X = feats.to_numpy(np.float32)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(out.label) & np.isfinite(sigma)
    rows = np.flatnonzero(keep)
    return {
        "X": X,
        "rows": rows,
        "dates": pd.to_datetime(candles["date"], utc=True)
        .dt.tz_convert(None)
        .to_numpy("datetime64[ns]"),
        "sigma": sigma,
        "label": out.label,
        "log_return": out.log_return,
        "candles": out.candles,
    }


def fold_starts(start: pd.Timestamp, end: pd.Timestamp, test_days: int) -> list[pd.Timestamp]:
    """First day of each test block in ``[start, end)``; a last block under half a block is
    dropped (as the benchmark does)."""
    step = pd.Timedelta(days=test_days)
    out, b = [], start
    while b < end and (min(b + step, end) - b) >= step / 2:
        out.append(b)
        b += step
    return out


def fold_predictions(
    market: Market, pair: str, spec: TrialSpec, b: pd.Timestamp, end: pd.Timestamp, fold: int
) -> pd.DataFrame:
    """Out-of-sample probabilities and bet outcomes of one pair's test block from ``b``."""
    cache = None
    if market.cache_dir is not None:
        name = f"{pair.replace('/', '_')}-{market.digest(pair)}-{spec.fit_key()}"
        name += f"-{b:%Y%m%d}-{market.test_days}.feather"
        cache = market.cache_dir / name
        if cache.exists():
            return pd.read_feather(cache)
    p = market.prepared(pair, spec)
    h, rows, dates = spec.horizon, p["rows"], p["dates"][p["rows"]]
    b64, c64 = (
        np.datetime64(b.tz_convert(None)),
        np.datetime64(min(b + pd.Timedelta(days=market.test_days), end).tz_convert(None)),
    )
    first = int(np.searchsorted(p["dates"], b64))  # candle position of the block's start
    lo = np.datetime64((b - pd.Timedelta(days=spec.train_days)).tz_convert(None))
    tr = (dates >= lo) & (rows < first - h)  # purge: labels end before the block
    last = int(np.searchsorted(p["dates"], np.datetime64(end.tz_convert(None))))
    # embargo: h candles after the boundary; no bet resolved after the period's end
    te = (rows >= first + h) & (dates < c64) & (rows + h < last)
    if tr.sum() < 100 or te.sum() == 0:
        raise ValueError(
            f"{pair}: fold from {b:%Y-%m-%d} has {tr.sum()} training and {te.sum()} test rows"
        )
    names = np.asarray(DEFAULT_CLASSES, dtype=object)
    y = names[p["label"][rows[tr]].astype(np.int64)]
    ens = ExpertEnsemble(
        spec.experts,
        {e: dict(spec.expert_params.get(e, {})) for e in spec.experts},
        embargo=h,
        seed=fold,
        use_processes=False,
        stacking_folds=3 if spec.stacking else 0,
        backend=market.backend,
    ).fit(p["X"][rows[tr]], y)
    proba = pd.DataFrame(ens.predict_proba(p["X"][rows[te]]), columns=list(ens.classes_))
    trained = rows[tr]
    neutral = trained[p["label"][trained] == NEUTRAL]
    m_time = float(np.mean(np.expm1(p["log_return"][neutral]))) if neutral.size else 0.0
    t = rows[te]
    codes = p["label"][t].astype(np.int64)
    prior = np.bincount(p["label"][trained].astype(np.int64), minlength=3) + 1.0
    prior = prior / prior.sum()
    probs = proba[list(names)].to_numpy()
    out = pd.DataFrame(
        {
            "pair": pair,
            "fold": fold,
            "t": t,
            "date": p["dates"][t],
            "p_up": proba["buy"].to_numpy(),
            "p_down": proba["sell"].to_numpy(),
            "p_time": proba["neutral"].to_numpy(),
            "sigma": p["sigma"][t],
            "m_time": m_time,
            "label": codes,
            "log_return": p["log_return"][t],
            "candles": p["candles"][t],
            "ll_model": -np.log(np.clip(probs[np.arange(len(t)), codes], EPS, 1.0)),
            "ll_prior": -np.log(prior[codes]),
        }
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        out.to_feather(tmp)
        tmp.replace(cache)
    return out


def trades(pred: pd.DataFrame, spec: TrialSpec, fee: float) -> pd.DataFrame:
    """The EV rule's non-overlapping bets per pair on ``pred``, with their net returns."""
    if pred.empty:
        return pred.assign(net=pd.Series(dtype=float))
    d_up, d_down = barrier_distances(pred["sigma"].to_numpy(), spec.horizon, spec.k_up, spec.k_down)
    ev = long_expected_value(
        pred["p_up"], pred["p_down"], pred["p_time"], d_up, d_down, pred["m_time"], fee
    )
    enter = ev_signal(ev, pred["sigma"].to_numpy() * np.sqrt(spec.horizon), spec.margin)
    return picked_trades(pred, enter, fee)


def picked_trades(pred: pd.DataFrame, enter: np.ndarray, fee: float) -> pd.DataFrame:
    """Non-overlapping bets per pair on the rows ``enter`` marks, after ``fee`` a side."""
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


def walk_forward(
    market: Market,
    spec: TrialSpec,
    start: pd.Timestamp,
    end: pd.Timestamp,
    on_fold: Callable[[int, pd.DataFrame, pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Every pair's test rows over ``[start, end)``, fold after fold.

    ``on_fold(step, predictions so far, trades so far)`` runs after each fold (it may
    raise to stop the walk: a pruned trial). Returns the predictions of all folds.
    """
    parts: list[pd.DataFrame] = []
    starts = fold_starts(start, end, market.test_days)
    if not starts:
        raise ValueError(
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d} holds no test block of {market.test_days} days"
        )
    with ThreadPoolExecutor(max_workers=max(1, len(market.pairs))) as pool:
        for step, b in enumerate(starts):
            jobs = [
                pool.submit(fold_predictions, market, pair, spec, b, end, step)
                for pair in market.pairs
            ]
            parts.extend(j.result() for j in jobs)
            if on_fold is not None:
                pred = pd.concat(parts, ignore_index=True).sort_values(
                    ["pair", "t"], ignore_index=True
                )
                on_fold(step, pred, trades(pred, spec, market.fee))
    return pd.concat(parts, ignore_index=True).sort_values(["pair", "t"], ignore_index=True)
