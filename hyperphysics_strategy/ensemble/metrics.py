"""Classification metrics on probability matrices (codes ``0..K-1``)."""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def log_loss(proba: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean negative log-likelihood of the true class, probabilities clipped at 1e-12."""
    p = np.clip(proba[np.arange(codes.shape[0]), codes], EPS, 1.0)
    nll = -np.log(p)
    return float(np.average(nll, weights=weights))


def balanced_accuracy(proba: np.ndarray, codes: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``codes``."""
    pred = proba.argmax(axis=1)
    recalls = [float(np.mean(pred[codes == c] == c)) for c in np.unique(codes)]
    return float(np.mean(recalls)) if recalls else float("nan")


def accuracy(proba: np.ndarray, codes: np.ndarray) -> float:
    return float(np.mean(proba.argmax(axis=1) == codes))
