"""Rows on which an exported (or otherwise accelerated) predictor must match the native
one, and the measure of the match: the largest absolute probability difference.

Tree experts are checked on the forest check rows (:func:`..experts.forest.check_rows`:
the model's own split points, the float32 values next to them, values near zero, 10%
NaN) plus the given held-out rows; the networks on rows drawn around their training
distribution (their standardisation's mean and standard deviation) plus the given rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The largest probability difference an exported or accelerated predictor may show.
TOLERANCE = 1e-5
ROWS = 256


def native_proba(expert: Any, X: np.ndarray) -> np.ndarray:
    """``expert``'s probabilities from its own predictor, bypassing a serving path."""
    return np.asarray(expert.predict_proba(X, native=True), dtype=np.float64)


def parity_rows(
    expert: Any, X: np.ndarray | None = None, n: int = ROWS, seed: int = 0
) -> np.ndarray:
    """Float32 rows to compare ``expert``'s predictors on (see the module doc)."""
    rng = np.random.default_rng(seed)
    compiled = getattr(expert, "compiled", None)
    if compiled is not None:
        from ..experts.forest import check_rows

        return check_rows(compiled, X, n=n, seed=seed)
    f = int(expert.n_features)
    mean = getattr(expert, "mean", None)
    std = getattr(expert, "std", None)
    mean = np.zeros(f) if mean is None else np.asarray(mean, np.float64)
    std = np.ones(f) if std is None else np.asarray(std, np.float64)
    parts = [rng.normal(mean, 1.5 * std, size=(n, f))]
    if X is not None and len(X):
        parts.append(np.asarray(X)[np.sort(rng.choice(len(X), min(n, len(X)), replace=False))])
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def max_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b|``; positions NaN in both agree, NaN in one only is ``inf``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    both = np.isnan(a) & np.isnan(b)
    diff = np.where(both, 0.0, np.abs(a - b))
    if np.isnan(diff).any():
        return float("inf")
    return float(diff.max()) if diff.size else 0.0
