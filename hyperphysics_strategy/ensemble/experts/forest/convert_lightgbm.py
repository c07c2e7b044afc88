"""LightGBM booster -> :class:`CompiledForest`, from its text model (``model_to_string``).

The text model holds each tree's arrays (``split_feature``, ``threshold`` printed with
17 digits, ``decision_type`` bits, ``left_child``/``right_child`` with ``~leaf`` for
leaves, ``leaf_value``); reading it is about 10x faster than ``dump_model()``'s JSON.

LightGBM's numerical split on a float32 input ``x``, as its predictor does it
(``Tree::NumericalDecision`` after the dense-row conversion):

* ``|x| <= kZeroThreshold`` (``1e-35f``) is read as 0 (the row conversion drops it);
* NaN goes the ``default_left`` way when the missing type is NaN; with None it is read
  as 0; Zero (``zero_as_missing``) is not supported;
* ``+-inf`` is read as ``+-1e300`` (``Common::AvoidInf``), which orders like ``+-FLT_MAX``
  against every threshold once thresholds are clipped to ``+-FLT_MAX`` (the compiled
  forest clips its input, :class:`CompiledForest` ``clip``);
* otherwise left iff ``x <= threshold`` in float64: for float32 ``x`` that is
  ``x <= T`` with ``T`` the largest float32 ``<= threshold``; a threshold inside the
  zero band moves ``T`` to the band's edge, so that the band goes the way 0 goes.

Raw scores sum the trees of each class (interleaved by class, ``num_tree_per_iteration``
per iteration) in float64 and in tree order, as LightGBM does; the boost-from-average
init score is already in the first trees' leaves. Categorical splits, linear trees and
``average_output`` (random-forest mode) are not supported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._layout import Tree, Unsupported, f32_below, f32_prev, le_splits, with_children
from .compiled import CompiledForest

ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float literal)
FLT_MAX = float(np.finfo(np.float32).max)
_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2


def lightgbm_threshold(t: np.ndarray) -> np.ndarray:
    """The float32 ``T`` with ``x <= T`` iff LightGBM sends float32 ``x`` left."""
    t = np.clip(np.asarray(t, dtype=np.float64), -FLT_MAX, FLT_MAX)
    band_right = (t >= -ZERO) & (t < 0.0)  # the zero band goes right, like 0
    band_left = (t >= 0.0) & (t < ZERO)  # the zero band goes left, like 0
    out = f32_below(t)
    out = np.where(band_right, f32_prev(np.float32(-ZERO)), out)
    return np.where(band_left, np.float32(ZERO), out).astype(np.float32)


def from_lightgbm(booster: Any, num_iteration: int | None = None) -> CompiledForest:
    header, blocks = _parse(booster.model_to_string(num_iteration=num_iteration))
    objective = header.get("objective", "").split()
    if not objective or objective[0] not in ("multiclass", "softmax"):
        raise Unsupported(f"objective {header.get('objective')!r} (only multiclass softmax)")
    if "average_output" in header:
        raise Unsupported("average_output (random forest mode)")
    k = int(header["num_tree_per_iteration"])
    if k != int(header["num_class"]) or k < 2:
        raise Unsupported(f"{k} trees per iteration for {header['num_class']} classes")
    n_features = int(header["max_feature_idx"]) + 1
    trees = [_tree(block, i % k, n_features) for i, block in enumerate(blocks)]
    if not trees:
        raise Unsupported("no trees")
    return CompiledForest.from_trees(
        trees, n_features, np.zeros(k), "lightgbm", np.float64, clip=True
    )


def _parse(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            blocks.append(current)
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
        elif line.strip() and current is header:
            current[line.strip()] = ""
    return header, blocks


def _tree(block: dict[str, str], klass: int, n_features: int) -> Tree:
    if int(block.get("num_cat", "0")) or int(block.get("is_linear", "0")):
        raise Unsupported("categorical splits or linear trees")
    leaf = np.array(block["leaf_value"].split(), dtype=np.float64)
    if int(block["num_leaves"]) == 1:
        return Tree.leaf_only(klass, float(leaf[0]))

    def ints(key: str) -> np.ndarray:
        return np.array(block[key].split(), dtype=np.int64)

    decision = ints("decision_type")
    if (decision & _CATEGORICAL).any():
        raise Unsupported("categorical splits")
    missing = (decision >> 2) & 3
    if (missing == _MISSING_ZERO).any() or (missing > _MISSING_NAN).any():
        raise Unsupported("zero as missing")
    t = np.array(block["threshold"].split(), dtype=np.float64)
    nan_left = np.where(missing == _MISSING_NAN, (decision & _DEFAULT_LEFT) != 0, t >= 0.0)
    column, threshold, swapped = le_splits(
        ints("split_feature"), lightgbm_threshold(t), nan_left, n_features
    )
    return with_children(
        klass, column, threshold, swapped, ints("left_child"), ints("right_child"), leaf
    )
