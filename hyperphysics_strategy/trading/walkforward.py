"""The purged, embargoed walk-forward that judges the bet out of sample.

For each pair, folds walk forward over its candles: train on ``train_days``, test on the next
``test_days``, then move on by ``test_days``. Training rows whose label horizon reaches into
the test block are purged and the first ``h`` test rows are embargoed, so no label spans the
boundary. Each fold fits a fresh model (:class:`EnsembleFitter`: the FreqAI model's expert
ensemble, stacked and calibrated; seed = the fold's number) and measures ``m_time`` (the
mean return of time-barrier outcomes) on its training rows. On the test rows the bet's rule
(:class:`~.bet.BetSpec`) gives the EV of a long.

A trade earns the bet's outcome from the close of its candle (the upper barrier, the lower
barrier, or the close ``h`` candles on; a candle touching both counts as the lower), less the
fee on each side. Trades per pair do not overlap: after an entry the next may enter once the
bet has exited. ``do_predict`` is not modelled (every test row may enter).

:func:`evaluate` returns an :class:`Evaluation`: every test row's prediction, and the trades
and their statistics of any margin (or of "always enter", the bet without a model), in total,
per fold or on any subset of rows; :func:`~.selection.select` chooses among several.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from hyperphysics_strategy.ensemble import ExpertEnsemble

from .barriers import BUY, NEUTRAL, SELL
from .bet import DEFAULT_BET, BetSpec
from .labels import barrier_outcome, barrier_sigma, label_names
from .sharpe import sharpe_ratio


class Folds(BaseModel):
    """Fold lengths of the walk-forward, in days of ``candles_per_day`` candles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_days: int = Field(30, ge=1, description="Training window of each fold, in days.")
    test_days: int = Field(30, ge=1, description="Test block of each fold, in days.")
    candles_per_day: int = Field(288, ge=1, description="Candles per day (288: 5m candles).")


class Model(Protocol):
    classes_: Sequence[str]

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


class Fitter(Protocol):
    def __call__(self, X: np.ndarray, y: np.ndarray, embargo: int, seed: int) -> Model: ...


@dataclass(frozen=True)
class EnsembleFitter:
    """Fits the FreqAI model's :class:`~hyperphysics_strategy.ensemble.ExpertEnsemble` on a
    fold (in this process: ``use_processes=False``), ``embargo`` rows between its training
    and validation blocks."""

    experts: tuple[str, ...] = ("lightgbm", "xgboost")
    expert_params: Mapping[str, Mapping[str, Any]] | None = None

    def __call__(self, X: np.ndarray, y: np.ndarray, embargo: int, seed: int) -> Model:
        params = {k: dict(v) for k, v in (self.expert_params or {}).items()}
        return ExpertEnsemble(
            self.experts, params, embargo=embargo, seed=seed, use_processes=False
        ).fit(X, y)


@dataclass(frozen=True)
class PairData:
    """One pair's candles (``date, open, high, low, close, volume``, sorted, one row per
    date) and the model's features on the same index (rows with a missing or infinite
    feature are not used)."""

    pair: str
    candles: pd.DataFrame
    features: pd.DataFrame

    def __post_init__(self) -> None:
        if not self.features.index.equals(self.candles.index):
            raise ValueError(
                f"{self.pair}: the features must have one row per candle, on the candles' index"
            )


def pair_folds(
    data: PairData,
    bet: BetSpec = DEFAULT_BET,
    folds: Folds = Folds(),
    fit: Fitter = EnsembleFitter(),
) -> Iterator[pd.DataFrame]:
    """One frame per fold of ``data``'s test rows: ``pair, fold, t`` (candle position),
    ``date``, the probabilities ``p_up, p_down, p_time``, ``sigma``, ``m_time`` and the bet's
    outcome ``label, log_return, candles``, and ``ev_long`` (:meth:`BetSpec.expected_values`)."""
    candles, h = data.candles, bet.horizon
    out, bad = barrier_outcome(candles, h, bet.vol_window, bet.k_up, bet.k_down)
    y = label_names(out.label, bad)
    X = data.features.replace([np.inf, -np.inf], np.nan)
    rows = np.flatnonzero(X.notna().all(axis=1).to_numpy() & pd.notna(y) & ~bad)
    if rows.size == 0:
        return
    Xv = X.to_numpy(np.float32)
    sigma = barrier_sigma(candles["close"], bet.vol_window).to_numpy()
    dates = candles["date"].to_numpy()
    train_n = folds.train_days * folds.candles_per_day
    test_n = folds.test_days * folds.candles_per_day
    fold, start = 0, rows[0]
    while True:
        b = start + train_n  # first candle of the test block
        c = min(b + test_n, rows[-1] + 1)
        if c - b < test_n // 2:
            return
        tr = rows[(rows >= start) & (rows < b - h)]  # purge: labels end before the test block
        t = rows[(rows >= b + h) & (rows < c)]  # embargo: h candles after the boundary
        model = fit(Xv[tr], y[tr], h, fold)
        proba = pd.DataFrame(model.predict_proba(Xv[t]), columns=list(model.classes_))
        neutral = tr[out.label[tr] == NEUTRAL]
        m_time = float(np.mean(np.expm1(out.log_return[neutral]))) if neutral.size else 0.0
        frame = pd.DataFrame(
            {
                "pair": data.pair,
                "fold": fold,
                "t": t,
                "date": dates[t],
                "p_up": proba["buy"].to_numpy(),
                "p_down": proba["sell"].to_numpy(),
                "p_time": proba["neutral"].to_numpy(),
                "sigma": sigma[t],
                "m_time": m_time,
                "label": out.label[t],
                "log_return": out.log_return[t],
                "candles": out.candles[t],
            }
        )
        frame["ev_long"], _ = bet.expected_values(
            frame["p_up"], frame["p_down"], frame["p_time"], frame["sigma"], m_time
        )
        yield frame
        fold += 1
        start += test_n


@dataclass(frozen=True)
class TradeStats:
    """Statistics of a set of trades (net returns after fees, as fractions)."""

    trades: int
    mean: float  # mean net return per trade (NaN without trades)
    se: float  # its standard error (NaN below two trades)
    sharpe: float  # per-trade Sharpe ratio (NaN below two trades)
    upper: float  # share of exits at the upper barrier
    lower: float  # ... at the lower barrier
    time: float  # ... at the time barrier
    total: float  # sum of net returns

    @classmethod
    def of(cls, trades: pd.DataFrame) -> TradeStats:
        n = len(trades)
        if n == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan, 0.0)
        net = trades["net"].to_numpy()
        se = float(net.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        up, down, time = (float(np.mean(trades["label"] == code)) for code in (BUY, SELL, NEUTRAL))
        return cls(n, float(net.mean()), se, sharpe_ratio(net), up, down, time, float(net.sum()))


def non_overlapping_trades(pred: pd.DataFrame, enter: np.ndarray, fee: float) -> pd.DataFrame:
    """The rows of ``pred`` (sorted by pair and ``t``) that trade when ``enter`` marks them,
    no two of a pair overlapping, with their ``net`` return after ``fee`` on each side."""
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


@dataclass
class Evaluation:
    """The walk-forward of one bet: ``predictions`` holds every test row (sorted by pair
    and ``t``). A ``margin`` of None is "always enter"; ``rows`` picks a subset (a boolean
    mask over ``predictions``, e.g. a period)."""

    bet: BetSpec
    predictions: pd.DataFrame

    def enter(self, margin: float | None) -> np.ndarray:
        """The rows the rule enters on: EV above ``margin`` x sigma x sqrt(h) (longs)."""
        if margin is None:
            return np.ones(len(self.predictions), dtype=bool)
        p, rule = self.predictions, self.bet.model_copy(update={"margin": margin})
        return rule.signal(p["ev_long"], None, p["sigma"]) == 1

    def trades(self, margin: float | None, rows: np.ndarray | None = None) -> pd.DataFrame:
        enter = self.enter(margin)
        p = self.predictions
        if rows is None:
            return non_overlapping_trades(p, enter, self.bet.fee)
        return non_overlapping_trades(p[rows], enter[rows], self.bet.fee)

    def stats(self, margin: float | None, rows: np.ndarray | None = None) -> TradeStats:
        return TradeStats.of(self.trades(margin, rows))

    def per_fold(self, margin: float | None) -> dict[tuple[str, int], TradeStats]:
        """Statistics per (pair, fold). Folds never share a trade: a test block's trades
        exit before the next block's embargo ends."""
        tr = self.trades(margin)
        return {key: TradeStats.of(g) for key, g in tr.groupby(["pair", "fold"], sort=False)}


def evaluate(
    data: Sequence[PairData],
    bet: BetSpec = DEFAULT_BET,
    folds: Folds = Folds(),
    fit: Fitter = EnsembleFitter(),
    on_fold: Callable[[pd.DataFrame], None] | None = None,
) -> Evaluation:
    """The walk-forward of ``bet`` over every pair of ``data`` (:func:`pair_folds`);
    ``on_fold`` sees each fold's predictions as it is done (progress, pruning)."""
    frames = []
    for pair in data:
        for frame in pair_folds(pair, bet, folds, fit):
            if on_fold is not None:
                on_fold(frame)
            frames.append(frame)
    if not frames:
        raise ValueError(
            "no fold to test: each pair needs at least train_days + test_days / 2 days of "
            "usable candles"
        )
    pred = pd.concat(frames, ignore_index=True).sort_values(["pair", "t"], ignore_index=True)
    return Evaluation(bet, pred)
