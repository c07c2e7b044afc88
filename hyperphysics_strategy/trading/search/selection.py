"""Selection discipline: choose on the search period, confirm once, deflate by every trial.

* The champion is the Pareto-front trial (net bp per trade, relative log-loss, trades)
  with the best net expectancy among those that traded at least ``min_trades`` times on the
  search period; no such trial, no champion.
* It then runs once on the untouched confirmation period (the walk-forward's test blocks
  there; training windows may reach back into the search period, as FreqAI's would).
* Its deflated Sharpe ratio counts every trial the study ever ran (failed, pruned and
  resumed ones included) and the variance of the per-trade Sharpe ratios of those that
  scored one (:mod:`..sharpe`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from ..sharpe import expected_max_sharpe, probabilistic_sharpe_ratio, sharpe_ratio
from .folds import Market, walk_forward
from .scores import Score, rule_trades, score
from .spec import TrialSpec

RAN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def trials_ran(study: optuna.Study) -> list[FrozenTrial]:
    """Every trial the study ran to an end (complete, pruned or failed)."""
    return study.get_trials(deepcopy=False, states=RAN)


def trial_sharpes(study: optuna.Study) -> list[float]:
    """Per-trade Sharpe ratio of every trial that scored one (pruned ones: so far)."""
    out = []
    for t in trials_ran(study):
        sr = (t.user_attrs.get("score") or {}).get("sharpe")
        if sr is not None and math.isfinite(sr):
            out.append(float(sr))
    return out


def deflated_sharpe(
    returns: np.ndarray, n_trials: int, sharpes: list[float]
) -> tuple[float, float, float]:
    """``(DSR, SR, SR0)`` of ``returns`` after ``n_trials`` trials whose Sharpe ratios were
    ``sharpes``; DSR is 0 below three returns (nothing to test)."""
    from scipy.stats import kurtosis, skew

    r = np.asarray(returns, dtype=np.float64)
    var = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    sr0 = expected_max_sharpe(max(1, n_trials), var)
    sr = sharpe_ratio(r)
    if r.size < 3 or not math.isfinite(sr):
        return 0.0, sr, sr0
    try:
        dsr = probabilistic_sharpe_ratio(
            sr, sr0, r.size, float(skew(r)), float(kurtosis(r, fisher=False))
        )
    except ValueError:
        dsr = 0.0
    return dsr, sr, sr0


def choose(study: optuna.Study, min_trades: int) -> FrozenTrial | None:
    """The champion: best net bp per trade on the Pareto front among trials with at least
    ``min_trades`` trades (else among every complete trial); ``None`` if none qualifies."""

    def ok(t: FrozenTrial) -> bool:
        return t.values is not None and t.values[2] >= min_trades and math.isfinite(t.values[0])

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    front = [t for t in study.best_trials if ok(t)]
    pool = front or [t for t in complete if ok(t)]
    return max(pool, key=lambda t: t.values[0]) if pool else None


@dataclass
class Outcome:
    """A rule's result on one period: its score and per-trade net returns."""

    score: Score
    net: np.ndarray


def run_once(
    market: Market, spec: TrialSpec, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[Outcome, Outcome]:
    """``spec``'s EV rule and "always enter" (the same bet with no model) on ``[start, end)``."""
    ev = walk_forward(market, spec, start, end)
    return (
        Outcome(score(ev, tr := rule_trades(ev, spec)), tr["net"].to_numpy()),
        Outcome(score(ev, always := ev.trades(None)), always["net"].to_numpy()),
    )
