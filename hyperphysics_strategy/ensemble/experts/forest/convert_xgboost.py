"""XGBoost booster -> :class:`CompiledForest`, from the JSON model (``save_raw("json")``).

A numerical split goes to ``left_children`` (XGBoost's "yes") iff ``x < t`` in float32,
i.e. ``x <= prev(t)``; a missing value (NaN) goes left iff ``default_left``. Leaf values
are the leaves' ``split_conditions`` (float32). Raw scores start from the base margin
(``base_score``: one value per class in XGBoost >= 3.1, a scalar before) and add the
trees of each class (``tree_info``) in float32 and in tree order, as the CPU predictor
does. Only the trees of iterations ``[0, iterations)`` are kept (``iteration_indptr``).
DART scales each tree by its ``weight_drop`` (folded into the leaves, which may differ
from XGBoost in the last float32 bit). Categorical splits, vector leaves, other
objectives and ``gblinear`` are not supported.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ._layout import Tree, Unsupported, f32_prev, le_splits, with_children
from .compiled import CompiledForest


def from_xgboost(booster: Any, iterations: int | None = None) -> CompiledForest:
    model = json.loads(booster.save_raw(raw_format="json"))
    learner = model["learner"]
    objective = learner["objective"]["name"]
    if objective != "multi:softprob":
        raise Unsupported(f"objective {objective!r} (only multi:softprob)")
    params = learner["learner_model_param"]
    k = int(params["num_class"])
    n_features = int(params["num_feature"])
    if int(params.get("num_target", 1)) != 1:
        raise Unsupported("multi-target model")
    base = _base_margin(params["base_score"], k)

    gb = learner["gradient_booster"]
    weights = None
    if gb["name"] == "dart":
        weights = np.asarray(gb["weight_drop"], dtype=np.float32)
        gb = gb["gbtree"]
    if gb["name"] != "gbtree":
        raise Unsupported(f"booster {gb['name']!r}")
    forest = gb["model"]
    per_iter = int(forest["gbtree_model_param"].get("num_parallel_tree", 1)) * k
    indptr = forest.get("iteration_indptr") or list(range(0, len(forest["trees"]) + 1, per_iter))
    stop = len(indptr) - 1 if not iterations else min(int(iterations), len(indptr) - 1)
    trees = []
    for i in range(int(indptr[stop])):
        w = np.float32(1.0) if weights is None else weights[i]
        trees.append(_tree(forest["trees"][i], int(forest["tree_info"][i]), n_features, w))
    if not trees:
        raise Unsupported("no trees")
    return CompiledForest.from_trees(trees, n_features, base, "xgboost", np.float32)


def _base_margin(text: str | float, k: int) -> np.ndarray:
    text = str(text).strip()
    values = [float(v) for v in text.strip("[]").split(",") if v.strip()]
    if len(values) == 1:
        values = values * k
    if len(values) != k:
        raise Unsupported(f"{len(values)} base scores for {k} classes")
    return np.asarray(values, dtype=np.float32)


def _tree(raw: dict, klass: int, n_features: int, weight: np.float32) -> Tree:
    if int(raw["tree_param"].get("size_leaf_vector", 1)) > 1:
        raise Unsupported("vector leaves (multi_strategy)")
    if any(int(s) != 0 for s in raw.get("split_type", [])):
        raise Unsupported("categorical splits")
    left = np.asarray(raw["left_children"], dtype=np.int64)
    right = np.asarray(raw["right_children"], dtype=np.int64)
    cond = np.asarray(raw["split_conditions"], dtype=np.float32)
    is_leaf = left == -1
    # XGBoost numbers leaves and splits together; renumber: splits 0..m-1, leaves ~j
    ref = np.empty(len(left), dtype=np.int64)
    ref[~is_leaf] = np.arange(int((~is_leaf).sum()))
    ref[is_leaf] = ~np.arange(int(is_leaf.sum()))
    leaf = (weight * cond[is_leaf]).astype(np.float32)
    if is_leaf[0]:
        return Tree.leaf_only(klass, float(leaf[0]))
    split = ~is_leaf
    if ref[0] != 0:
        raise Unsupported("the root is not node 0")
    column, threshold, swapped = le_splits(
        np.asarray(raw["split_indices"], dtype=np.int64)[split],
        f32_prev(cond[split]),
        np.asarray(raw["default_left"], dtype=bool)[split],
        n_features,
    )
    return with_children(
        klass, column, threshold, swapped, ref[left[split]], ref[right[split]], leaf
    )
