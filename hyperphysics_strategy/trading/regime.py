"""Market regimes from a Markov-switching model of returns, strictly causal.

A regime model (Hamilton's Markov-switching regression: ``k`` regimes, each with its own mean
and variance of one-candle log returns, statsmodels' ``MarkovRegression``) is fitted on a
training window only, and its regime probabilities are then *filtered* forward: the
probability of regime ``j`` at candle ``t`` is ``P(S_t = j | r_1, ..., r_t)``, which reads no
return after ``t``. Never smoothed probabilities or a Viterbi path: both use the whole sample
and so read the future.

Two ways to use it:

* :class:`RegimeModel` (scikit-learn style): ``fit`` on a training window's returns, then
  ``filter`` any returns (the training window's and the test window's after it). The
  walk-forward evaluator fits it per fold.
* :func:`rolling_regime_probabilities`: what the strategy's ``regime`` feature group computes
  on a candle frame, where the training window is not known. Time is cut into blocks of
  ``refit`` candles anchored to the Unix epoch (not to the frame's first row); each block's
  model is fitted on the ``fit`` candles before the block starts, and its probabilities are
  filtered from ``warmup`` candles before the block start, from the model's stationary
  distribution. A candle's value therefore depends only on a fixed stretch of candles up to
  itself: appending candles, or starting the frame earlier, changes no value (a block whose
  stretch the frame does not hold is NaN). Fitted models are cached by the fit window's
  returns, so live calls on every new candle fit each block once.

Regimes are ordered by their variance: column 0 is the calmest regime, the last the most
volatile, in every block.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections import OrderedDict

import numpy as np

logger = logging.getLogger(__name__)

#: Fitted models kept by :func:`rolling_regime_probabilities` (a block's fit is ~1 s).
CACHE_SIZE = 4096
_fits: OrderedDict[bytes, RegimeModel | None] = OrderedDict()


def log_returns(close: np.ndarray) -> np.ndarray:
    """One-candle log returns of ``close``; NaN for the first candle and around a bad close
    (NaN, infinite, zero or negative)."""
    close = np.asarray(close, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(np.isfinite(close) & (close > 0), np.log(close), np.nan)
    return np.concatenate([[np.nan], np.diff(logs)])


class RegimeModel:
    """A ``k_regimes``-regime Markov-switching model of one-candle log returns (switching mean
    and variance), fitted by maximum likelihood; ``filter`` gives forward-filtered regime
    probabilities, regimes ordered from the calmest to the most volatile.

    Fitted attributes: ``params_`` (statsmodels' parameters, in its order, for returns divided
    by ``scale_``), ``scale_`` (the training returns' standard deviation), ``order_`` (regime
    indices sorted by variance), ``variances_`` (each regime's return variance, ordered).
    """

    def __init__(self, k_regimes: int = 2, max_iter: int = 200) -> None:
        self.k_regimes = k_regimes
        self.max_iter = max_iter

    def _model(self, returns: np.ndarray):
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        return MarkovRegression(
            returns, k_regimes=self.k_regimes, trend="c", switching_variance=True
        )

    def fit(self, returns: np.ndarray) -> RegimeModel:
        """Fit on ``returns`` (finite, at least 20 per regime); ``ValueError`` otherwise."""
        if not 2 <= self.k_regimes <= 4:
            raise ValueError(f"k_regimes must be 2 to 4, got {self.k_regimes}")
        returns = np.asarray(returns, dtype=np.float64)
        if returns.ndim != 1 or len(returns) < 20 * self.k_regimes:
            raise ValueError(
                f"a regime model needs at least {20 * self.k_regimes} returns, got {len(returns)}"
            )
        if not np.isfinite(returns).all():
            raise ValueError("a regime model's training returns must be finite")
        scale = float(returns.std())
        if not scale > 0:
            raise ValueError("a regime model's training returns do not vary")
        model = self._model(returns / scale)
        with warnings.catch_warnings():  # convergence and overflow notes of the optimiser
            warnings.simplefilter("ignore")
            result = model.fit(disp=False, maxiter=self.max_iter)
        params = np.asarray(result.params, dtype=np.float64)
        if not np.isfinite(params).all():
            raise ValueError("the regime model's fit did not converge to finite parameters")
        names = list(model.param_names)
        variances = np.array([params[names.index(f"sigma2[{j}]")] for j in range(self.k_regimes)])
        self.params_ = params
        self.scale_ = scale
        self.order_ = np.argsort(variances, kind="stable")
        self.variances_ = variances[self.order_] * scale**2
        return self

    def filter(self, returns: np.ndarray) -> np.ndarray:
        """``(len(returns), k_regimes)`` filtered probabilities ``P(S_t | r_1..r_t)``, the
        filter started from the model's stationary distribution at the first return. A
        non-finite return is read as no move and its row is NaN."""
        returns = np.asarray(returns, dtype=np.float64)
        out = np.full((len(returns), self.k_regimes), np.nan)
        if len(returns) == 0:
            return out
        bad = ~np.isfinite(returns)
        clean = np.where(bad, 0.0, returns) / self.scale_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs = self._model(clean).filter(self.params_).filtered_marginal_probabilities
        out[:] = np.asarray(probs)[:, self.order_]
        out[bad] = np.nan
        return out


def _fitted(returns: np.ndarray, k_regimes: int) -> RegimeModel | None:
    """The model fitted on ``returns`` (cached), or None when it cannot be fitted."""
    key = hashlib.sha256(returns.tobytes() + bytes([k_regimes])).digest()
    if key in _fits:
        _fits.move_to_end(key)
        return _fits[key]
    try:
        model: RegimeModel | None = RegimeModel(k_regimes).fit(returns)
    except (ValueError, np.linalg.LinAlgError) as exc:
        logger.warning("regime model: no fit for this block, its candles get NaN (%s)", exc)
        model = None
    _fits[key] = model
    if len(_fits) > CACHE_SIZE:
        _fits.popitem(last=False)
    return model


def rolling_regime_probabilities(
    close: np.ndarray,
    timestamps_s: np.ndarray,
    timeframe_s: int,
    *,
    fit: int,
    refit: int,
    warmup: int,
    k_regimes: int = 2,
) -> np.ndarray:
    """``(n, k_regimes)`` causal regime probabilities of the candles ``close`` at
    ``timestamps_s`` (Unix seconds, increasing) on a ``timeframe_s`` grid (see the module's
    docstring): blocks of ``refit`` candles from the epoch, each fitted on the ``fit``
    returns before it and filtered from ``warmup`` candles before it. NaN where the frame
    lacks a block's stretch, where the stretch holds a bad return, or where a fit fails."""
    close = np.asarray(close, dtype=np.float64)
    stamps = np.asarray(timestamps_s, dtype=np.int64)
    if min(fit, refit) < 1 or warmup < 0 or timeframe_s < 1:
        raise ValueError(
            f"need fit, refit >= 1, warmup >= 0, timeframe_s >= 1; got fit={fit}, "
            f"refit={refit}, warmup={warmup}, timeframe_s={timeframe_s}"
        )
    n = len(close)
    out = np.full((n, k_regimes), np.nan)
    if n == 0:
        return out
    returns = log_returns(close)
    period = refit * timeframe_s
    blocks = stamps // period
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    ends = np.r_[starts[1:], n]
    for first, last in zip(starts, ends, strict=True):
        anchor = int(blocks[first]) * period  # the block's start in time
        at = int(np.searchsorted(stamps, anchor))  # its first row, had the frame held it
        if stamps[first] != anchor or at - max(fit, warmup) < 1:
            continue  # the frame starts inside the block or its stretch: unknown
        train = returns[at - fit : at]
        if not np.isfinite(train).all():
            continue
        model = _fitted(train, k_regimes)
        if model is None:
            continue
        out[first:last] = model.filter(returns[at - warmup : last])[warmup:]
    return out
