"""VaR backtests: Kupiec proportion of failures, Christoffersen independence and
conditional coverage (likelihood-ratio tests, chi-square reference distributions).

An *exception* (hit, exceedance) at ``t`` is a loss beyond the VaR forecast for ``t``:
``return_t < -VaR_t`` (VaR as a positive loss number).

* Kupiec POF, ``x`` exceptions in ``T`` observations, expected rate ``p = 1 - a``::

      LR_pof = -2 ln[(1-p)^(T-x) p^x] + 2 ln[(1-x/T)^(T-x) (x/T)^x]   ~ chi2(1)

* Christoffersen independence, with ``n_ij`` the number of ``i -> j`` transitions of the
  hit sequence, ``pi_0 = n01/(n00+n01)``, ``pi_1 = n11/(n10+n11)``,
  ``pi = (n01+n11)/(n00+n01+n10+n11)``::

      LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)]
               + 2 ln[(1-pi_0)^n00 pi_0^n01 (1-pi_1)^n10 pi_1^n11]     ~ chi2(1)

* Conditional coverage ``LR_cc = LR_pof + LR_ind ~ chi2(2)``.

``0 ln 0`` is taken as 0.  ``reject`` is ``p_value < significance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special as sps
from scipy import stats

__all__ = [
    "CoverageTest",
    "exceedances",
    "kupiec_pof",
    "christoffersen_independence",
    "conditional_coverage",
    "backtest_var",
]


@dataclass(frozen=True)
class CoverageTest:
    """Result of a likelihood-ratio VaR backtest."""

    name: str
    statistic: float
    p_value: float
    reject: bool
    dof: int
    observations: int
    exceptions: int
    expected_rate: float | None
    observed_rate: float
    significance: float

    @property
    def decision(self) -> str:
        return "reject" if self.reject else "accept"


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def exceedances(returns: Any, var: Any, *, lag: int = 1) -> np.ndarray:
    """Boolean hits ``returns[t] < -var[t - lag]`` where the forecast exists (not NaN).

    With ``lag=1`` a rolling VaR computed from the window ending at ``t - 1`` is tested on
    the return of candle ``t`` (no look-ahead).  Only 1-D series; NaN forecasts (warm-up)
    are dropped.
    """
    r = _np(returns).astype(np.float64)
    v = _np(var).astype(np.float64)
    if r.ndim != 1 or v.shape != r.shape:
        raise ValueError(f"returns {r.shape} and var {v.shape} must be 1-D of equal length")
    if lag < 0:
        raise ValueError("lag must be >= 0")
    if lag:
        r, v = r[lag:], v[:-lag]
    keep = ~np.isnan(v)
    if np.isnan(r[keep]).any():
        raise ValueError("returns contain NaN where a VaR forecast exists")
    return r[keep] < -v[keep]


def _hits(exceptions: Any) -> np.ndarray:
    h = _np(exceptions)
    if h.ndim != 1 or h.size == 0:
        raise ValueError("exceptions must be a non-empty 1-D sequence")
    if h.dtype != np.bool_:
        if not np.isin(h, (0, 1)).all():
            raise ValueError("exceptions must be boolean (or 0/1)")
        h = h.astype(bool)
    return h


def _check_sig(significance: float) -> None:
    if not 0.0 < significance < 1.0:
        raise ValueError("significance must lie in (0, 1)")


def kupiec_pof(exceptions: Any, confidence: float, significance: float = 0.05) -> CoverageTest:
    """Kupiec proportion-of-failures test of the unconditional coverage ``1 - confidence``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie in (0, 1)")
    _check_sig(significance)
    h = _hits(exceptions)
    T = h.size
    x = int(h.sum())
    p = 1.0 - confidence
    phat = x / T
    ll0 = sps.xlogy(T - x, 1.0 - p) + sps.xlogy(x, p)
    ll1 = sps.xlogy(T - x, 1.0 - phat) + sps.xlogy(x, phat)
    lr = max(0.0, float(-2.0 * (ll0 - ll1)))
    pv = float(stats.chi2.sf(lr, 1))
    return CoverageTest("kupiec_pof", lr, pv, pv < significance, 1, T, x, p, phat, significance)


def _transitions(h: np.ndarray) -> tuple[int, int, int, int]:
    a, b = h[:-1], h[1:]
    n00 = int(np.sum(~a & ~b))
    n01 = int(np.sum(~a & b))
    n10 = int(np.sum(a & ~b))
    n11 = int(np.sum(a & b))
    return n00, n01, n10, n11


def christoffersen_independence(exceptions: Any, significance: float = 0.05) -> CoverageTest:
    """Christoffersen (1998) test that exceptions do not cluster (first-order Markov)."""
    _check_sig(significance)
    h = _hits(exceptions)
    if h.size < 2:
        raise ValueError("need at least 2 observations")
    n00, n01, n10, n11 = _transitions(h)
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll0 = sps.xlogy(n00 + n10, 1.0 - pi) + sps.xlogy(n01 + n11, pi)
    ll1 = (
        sps.xlogy(n00, 1.0 - pi0)
        + sps.xlogy(n01, pi0)
        + sps.xlogy(n10, 1.0 - pi1)
        + sps.xlogy(n11, pi1)
    )
    lr = max(0.0, float(-2.0 * (ll0 - ll1)))
    pv = float(stats.chi2.sf(lr, 1))
    x = int(h.sum())
    return CoverageTest(
        "christoffersen_independence",
        lr,
        pv,
        pv < significance,
        1,
        h.size,
        x,
        None,
        x / h.size,
        significance,
    )


def conditional_coverage(
    exceptions: Any, confidence: float, significance: float = 0.05
) -> CoverageTest:
    """Christoffersen conditional coverage: ``LR_pof + LR_ind ~ chi2(2)``."""
    pof = kupiec_pof(exceptions, confidence, significance)
    ind = christoffersen_independence(exceptions, significance)
    lr = pof.statistic + ind.statistic
    pv = float(stats.chi2.sf(lr, 2))
    return CoverageTest(
        "conditional_coverage",
        lr,
        pv,
        pv < significance,
        2,
        pof.observations,
        pof.exceptions,
        pof.expected_rate,
        pof.observed_rate,
        significance,
    )


def backtest_var(
    returns: Any,
    var: Any,
    confidence: float,
    *,
    lag: int = 1,
    significance: float = 0.05,
) -> dict[str, CoverageTest]:
    """Kupiec POF, Christoffersen independence and conditional coverage of one VaR
    forecast series (``GPURiskEngine.backtest``).

    ``var[t]`` is the forecast made at ``t`` (e.g. a rolling VaR) and is compared with
    ``returns[t + lag]`` (see ``exceedances``).
    """
    h = exceedances(returns, var, lag=lag)
    return {
        "kupiec_pof": kupiec_pof(h, confidence, significance),
        "christoffersen_independence": christoffersen_independence(h, significance),
        "conditional_coverage": conditional_coverage(h, confidence, significance),
    }
