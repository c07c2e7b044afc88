"""Named errors for training input that would otherwise train silently or give false
certainty: mismatched lengths, non-numeric features, bad weights, a single class.

A training or validation set whose labels hold one class would make every expert (and
the calibration fitted on validation) predict that class with p = 1 and report a
log-loss of 0: :func:`check_set` refuses it, naming the set and the class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .experts.base import check_rows


def check_features(X: np.ndarray, name: str) -> np.ndarray:
    """``X`` as a 2-D float32 array; ``ValueError`` naming the set for other shapes/dtypes."""
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} features must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} features must be 2-D (rows, features), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_weights(w: np.ndarray | None, n: int, name: str) -> np.ndarray:
    """Sample weights (ones when ``None``): one per row, finite, >= 0, not all zero."""
    if w is None:
        return np.ones(n)
    arr = np.asarray(w)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} weights must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(float).ravel()
    if arr.shape[0] != n:
        raise ValueError(f"{name} set: {n} rows but {arr.shape[0]} weights")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} weights hold {int((~np.isfinite(arr)).sum())} NaN/inf values")
    if (arr < 0).any():
        raise ValueError(f"{name} weights hold {int((arr < 0).sum())} negative values")
    if not (arr > 0).any():
        raise ValueError(f"{name} weights are all zero")
    return arr


def check_set(
    X: np.ndarray, codes: np.ndarray, w: np.ndarray, classes: Sequence[str], name: str
) -> None:
    """Rows agree in length, the set is not empty and its labels hold at least two classes."""
    check_rows(X, codes, w, name)
    present = np.unique(codes[w > 0])
    if present.size < 2:
        only = classes[int(present[0])] if present.size else "none"
        raise ValueError(
            f"{name} labels hold one class ({only!r}) in {X.shape[0]} rows: nothing to "
            "learn or score, every prediction would be p = 1 for it; use more rows or "
            "a longer window"
        )
