"""Meta-labelling (López de Prado, *Advances in Financial Machine Learning*, 3.6 and 10.3).

The primary rule (the EV entry) proposes a bet; a second classifier, trained on the primary's
*out-of-fold* bets (bets the primary made on candles its model never trained on) and their
outcomes, predicts whether a new bet pays, and the stake is sized by that probability. The
primary decides the side, the meta-model only whether to take the bet and how big.

* :func:`paid`: a bet's meta-label, 1 when its net return after fees is positive.
* :class:`MetaLabeler`: the second classifier (scikit-learn style; a scaled logistic
  regression unless another estimator is given): ``fit`` on the bets' features and labels,
  ``predict_proba`` the probability that a bet pays, ``size`` the stake fraction.
* :func:`bet_size`: AFML's size from a probability, ``2 Φ(z) − 1`` with
  ``z = (p − ½) / √(p (1 − p))``, and no bet (0) at ``p ≤ threshold``.
* :func:`walk_forward_meta_probabilities`: each bet's probability from a model fitted only on
  bets whose outcome was known before the bet's block began: what a walk-forward fold or the
  strategy can use without reading the future.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: Fewest resolved bets (of both outcomes) a meta-model is fitted on.
MIN_BETS = 30


def paid(net_returns: np.ndarray) -> np.ndarray:
    """Meta-labels: 1.0 where a bet's net return (after fees) is positive, 0.0 where it is
    not, NaN where it is unknown (the bet has not resolved)."""
    r = np.asarray(net_returns, dtype=np.float64)
    return np.where(np.isnan(r), np.nan, (r > 0).astype(np.float64))


def bet_size(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Stake fraction in [0, 1] from the probability that the bet pays: ``2 Φ(z) − 1`` with
    ``z = (p − ½) / √(p (1 − p))`` above ``threshold``, 0 at or below it (skip the bet);
    NaN stays NaN."""
    p = np.asarray(prob, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p - 0.5) / np.sqrt(p * (1.0 - p))
    size = np.clip(2.0 * norm.cdf(z) - 1.0, 0.0, 1.0)
    return np.where(np.isnan(p), np.nan, np.where(p > threshold, size, 0.0))


def _check(features: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"meta-label features must be 2-D (bets x features), got {x.shape}")
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"{len(x)} bets but {len(labels)} labels")
    return x


class MetaLabeler:
    """The second classifier: probability that the primary's bet pays, from the features at
    the bet (the primary's probabilities and EV among them).

    ``estimator``: any scikit-learn classifier with ``predict_proba`` (cloned; default a
    standardised logistic regression, which stays calibrated on a few hundred bets);
    ``min_bets``: fewest bets, of both outcomes, it is fitted on. Fitted attributes:
    ``estimator_``, ``base_rate_`` (share of the training bets that paid), ``n_bets_``.
    """

    def __init__(self, estimator: Any = None, min_bets: int = MIN_BETS) -> None:
        self.estimator = estimator
        self.min_bets = min_bets

    def fit(self, features: np.ndarray, labels: np.ndarray) -> MetaLabeler:
        """Fit on resolved bets; ``ValueError`` with fewer than ``min_bets``, one outcome
        only, or non-finite input."""
        x = _check(features, labels)
        y = np.asarray(labels, dtype=np.float64)
        if not (np.isfinite(x).all() and np.isin(y, (0.0, 1.0)).all()):
            raise ValueError("meta-label training bets need finite features and 0/1 labels")
        if len(y) < self.min_bets or len(np.unique(y)) < 2:
            raise ValueError(
                f"a meta-model needs at least {self.min_bets} resolved bets of both outcomes, "
                f"got {len(y)} ({int(y.sum())} paid)"
            )
        default = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        self.estimator_ = clone(default if self.estimator is None else self.estimator)
        self.estimator_.fit(x, y.astype(np.int64))
        self.base_rate_ = float(y.mean())
        self.n_bets_ = len(y)
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` probability that each bet pays; NaN for a row with a non-finite feature."""
        x = _check(features)
        out = np.full(len(x), np.nan)
        ok = np.isfinite(x).all(axis=1)
        if ok.any():
            classes = list(self.estimator_.classes_)
            out[ok] = self.estimator_.predict_proba(x[ok])[:, classes.index(1)]
        return out

    def size(self, features: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Stake fraction of each bet (:func:`bet_size` of its probability)."""
        return bet_size(self.predict_proba(features), threshold)


def walk_forward_meta_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    entered: np.ndarray,
    resolved: np.ndarray,
    block_starts: np.ndarray,
    *,
    estimator: Any = None,
    min_bets: int = MIN_BETS,
) -> np.ndarray:
    """Causal meta-probabilities of bets, ``(n,)``.

    Bet ``i`` was entered at time ``entered[i]`` and its outcome ``labels[i]`` became known
    at ``resolved[i]`` (any increasing unit: candle positions, timestamps). Times are cut at
    ``block_starts``; the bets of a block get the probability of a :class:`MetaLabeler`
    fitted on the bets resolved strictly before the block's start (the primary's earlier,
    out-of-fold bets). NaN for the bets of a block with too few such bets, and for bets
    entered before the first block start.
    """
    x = _check(features, labels)
    y = np.asarray(labels, dtype=np.float64)
    entered = np.asarray(entered)
    resolved = np.asarray(resolved)
    starts = np.sort(np.asarray(block_starts))
    out = np.full(len(x), np.nan)
    if len(x) == 0 or len(starts) == 0:
        return out
    block = np.searchsorted(starts, entered, side="right") - 1  # -1: before the first
    for b in np.unique(block[block >= 0]):
        start = starts[b]
        train = (resolved < start) & np.isfinite(y) & np.isfinite(x).all(axis=1)
        try:
            model = MetaLabeler(estimator, min_bets).fit(x[train], y[train])
        except ValueError:
            continue  # too few resolved bets yet: this block's bets stay NaN
        rows = block == b
        out[rows] = model.predict_proba(x[rows])
    return out
