"""Sharpe ratios that account for the number of configurations tried.

Bailey and López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias,
Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014.

All ratios here are per observation (per trade), not annualised. With ``T``
observations, skewness ``g3`` and (non-excess) kurtosis ``g4`` of the returns:

- probabilistic Sharpe ratio, the probability that the true Sharpe ratio exceeds ``sr0``::

      PSR(sr0) = Phi( (SR - sr0) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2) )

- expected maximum Sharpe ratio of ``N`` independent trials of true Sharpe ratio zero
  whose estimated Sharpe ratios have variance ``V``::

      SR0 = sqrt(V) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))

  with ``gamma`` the Euler-Mascheroni constant;
- deflated Sharpe ratio: ``DSR = PSR(SR0)``, the probability that the chosen
  configuration's Sharpe ratio is not the luck of picking the best of ``N``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import kurtosis, norm, skew

EULER_GAMMA = 0.5772156649015329


def sharpe_ratio(returns) -> float:
    """Mean over standard deviation (ddof 1) of per-trade returns; NaN below two."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2 or not r.std(ddof=1) > 0:
        return float("nan")
    return float(r.mean() / r.std(ddof=1))


def probabilistic_sharpe_ratio(
    sr: float, sr0: float, n: int, skewness: float, kurt: float
) -> float:
    """``PSR(sr0)`` for an estimated Sharpe ratio ``sr`` over ``n`` returns with the given
    skewness and non-excess kurtosis (3 for normal returns)."""
    if n < 2:
        raise ValueError(f"need at least two returns, got {n}")
    denom = 1.0 - skewness * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not denom > 0:
        raise ValueError(f"the moments give a non-positive variance term ({denom})")
    return float(norm.cdf((sr - sr0) * math.sqrt(n - 1) / math.sqrt(denom)))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """``SR0``: the expected largest of ``n_trials`` Sharpe ratios of no skill."""
    if n_trials < 1:
        raise ValueError(f"need at least one trial, got {n_trials}")
    if n_trials == 1:
        return 0.0
    a = norm.ppf(1.0 - 1.0 / n_trials)
    b = norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(max(sr_variance, 0.0)) * ((1 - EULER_GAMMA) * a + EULER_GAMMA * b))


def deflated_sharpe_ratio(returns, trial_sharpes) -> tuple[float, float, float]:
    """``(DSR, SR, SR0)`` of the chosen configuration's per-trade ``returns``, given the
    per-trade Sharpe ratios of every configuration tried (the chosen one included)."""
    r = np.asarray(returns, dtype=np.float64)
    trials = np.asarray(trial_sharpes, dtype=np.float64)
    trials = trials[np.isfinite(trials)]
    if trials.size < 1:
        raise ValueError("need the Sharpe ratio of at least one trial")
    sr = sharpe_ratio(r)
    var = float(trials.var(ddof=1)) if trials.size > 1 else 0.0
    sr0 = expected_max_sharpe(trials.size, var)
    g3 = float(skew(r))
    g4 = float(kurtosis(r, fisher=False))
    return probabilistic_sharpe_ratio(sr, sr0, r.size, g3, g4), sr, sr0
