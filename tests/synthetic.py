"""Synthetic training data shared by the ensemble and expert tests."""

from __future__ import annotations

import numpy as np


def three_class_signal(n: int = 3000, seed: int = 0, noise: float = 0.1):
    """``n`` rows of 12 standard-normal float32 features and ``sell``/``neutral``/``buy``
    labels from the score ``x0 + 0.5 x1 + noise * N(0, 1)`` cut at -0.6 and 0.6."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] + noise * rng.normal(size=n)
    y = np.where(score > 0.6, "buy", np.where(score < -0.6, "sell", "neutral"))
    return X, y
