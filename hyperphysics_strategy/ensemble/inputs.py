"""Named errors for training input that would otherwise train silently or give false
certainty: mismatched lengths, non-numeric features, bad weights, a single class.

A training or validation set whose labels hold one class would make every expert (and
the calibration fitted on validation) predict that class with p = 1 and report a
log-loss of 0: :func:`check_set` refuses it, naming the set and the class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .experts.base import all_finite, check_rows


def check_features(X: np.ndarray, name: str) -> np.ndarray:
    """``X`` as a 2-D float32 array; ``ValueError`` naming the set for other shapes/dtypes."""
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} features must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} features must be 2-D (rows, features), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def training_feature_names(
    X: Any, feature_names: Sequence[str] | None, n_features: int
) -> list[str] | None:
    """The names of the feature columns a model is fitted on, in order: a DataFrame's
    columns, else ``feature_names`` (``ValueError`` when their count differs from the
    columns'), else ``None`` (a plain array with no names: columns are matched by position)."""
    columns = getattr(X, "columns", None)
    names = [str(c) for c in columns] if columns is not None else None
    if names is None and feature_names is not None:
        names = [str(c) for c in feature_names]
    if names is None:
        return None
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} feature columns")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"feature names must be unique, repeated: {dupes}")
    return names


def prediction_features(X: Any, names: Sequence[str] | None, n_features: int) -> np.ndarray:
    """``X`` as the float32 matrix of the fitted columns, in the fitted order.

    A DataFrame is matched by name to ``names`` (the fitted columns): reordered columns are
    put back in order; missing or extra columns are a ``ValueError`` naming both. An array
    is taken by position and must have ``n_features`` columns."""
    columns = getattr(X, "columns", None)
    if columns is not None and names is not None:
        given = [str(c) for c in columns]
        missing = [n for n in names if n not in given]
        extra = [c for c in given if c not in names]
        if missing or extra:
            raise ValueError(
                f"prediction features differ from the fitted ones: missing {missing}, extra {extra}"
            )
        if given != list(names):
            X = X.set_axis(given, axis=1)[list(names)]
    arr = check_features(X, "prediction")
    if arr.shape[1] != n_features:
        raise ValueError(
            f"prediction features have {arr.shape[1]} columns, the model was fitted on "
            f"{n_features}: expects (n, {n_features})"
        )
    return arr


def on_finite_rows(
    predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, width: int
) -> np.ndarray:
    """``predict(X)`` for the rows of ``X`` that are finite; NaN rows (``width`` columns)
    for a row holding NaN or inf, which a model would otherwise read as a real point."""
    if all_finite(X):
        return predict(X)
    ok = np.isfinite(X).all(axis=1)
    if ok.all():
        return predict(X)
    out = np.full((X.shape[0], width), np.nan)
    if ok.any():
        out[ok] = predict(np.ascontiguousarray(X[ok]))
    return out


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
