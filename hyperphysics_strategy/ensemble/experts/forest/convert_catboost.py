"""CatBoost model -> :class:`ObliviousForest`, from its JSON export (``format="json"``).

Symmetric (oblivious) trees only: every level of a tree tests one ``x > border``
(float32), and the leaf index is the bit vector of those tests, split ``i`` giving bit
``i``. Leaves hold one value per class (``leaf_values[leaf * K + k]``). Raw scores are
``scale * sum + bias`` (``scale_and_bias``), then softmax (``MultiClass``). A class of
``class_names`` absent from training has no dimension (``class_to_label`` maps the
dimensions to labels): its raw score is ``-inf``, as CatBoost's. NaN compares
false (bit 0), which is CatBoost's ``AsIs`` and ``AsFalse`` (``nan_mode`` ``Min``);
``AsTrue`` (``Max``), categorical, text or embedding features and non-symmetric trees
are not supported. CatBoost shrinks the model to the best iteration itself
(``use_best_model``), so every tree is kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from ._layout import Unsupported
from .compiled import ObliviousForest


def catboost_json(model: Any) -> dict:
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        model.save_model(path, format="json")
        with open(path) as fh:
            return json.load(fh)
    finally:
        os.unlink(path)


def from_catboost(model: Any, n_features: int) -> ObliviousForest:
    doc = catboost_json(model)
    loss = doc["model_info"].get("params", {}).get("loss_function", {}).get("type")
    if loss != "MultiClass":
        raise Unsupported(f"loss {loss!r} (only MultiClass)")
    if "oblivious_trees" not in doc or doc.get("trees"):
        raise Unsupported("non-symmetric trees")
    info = doc["features_info"]
    extra = [k for k in info if k != "float_features" and info[k]]
    if extra:
        raise Unsupported(f"feature kinds {extra}")
    column = {}
    for f in info.get("float_features", []):
        if f.get("nan_value_treatment", "AsIs") not in ("AsIs", "AsFalse"):
            raise Unsupported(f"NaN treatment {f['nan_value_treatment']!r}")
        column[int(f["feature_index"])] = int(f["flat_feature_index"])
    scale, bias = doc.get("scale_and_bias", [1.0, [0.0]])
    bias = np.asarray(bias, dtype=np.float64)
    trees = doc["oblivious_trees"]
    k = None
    feat, border, split_start, leaf_start, val = [], [], [0], [0], []
    for tree in trees:
        depth = len(tree["splits"])
        n_values = len(tree["leaf_values"])
        if n_values % (1 << depth):
            raise Unsupported(f"{n_values} leaf values for depth {depth}")
        k = k or n_values >> depth
        if n_values != k << depth:
            raise Unsupported("trees with different leaf dimensions")
        for split in tree["splits"]:
            if split.get("split_type") != "FloatFeature":
                raise Unsupported(f"split type {split.get('split_type')!r}")
            feat.append(column[int(split["float_feature_index"])])
            border.append(np.float32(split["border"]))
        split_start.append(len(feat))
        val.extend(tree["leaf_values"])
        leaf_start.append(len(val))
    if k is None or k < 2:
        raise Unsupported("no trees or a single output dimension")
    if bias.shape[0] == 1:
        bias = np.repeat(bias, k)
    if bias.shape[0] != k:
        raise Unsupported(f"{bias.shape[0]} biases for {k} outputs")
    columns, n_outputs = _columns(doc["model_info"].get("class_params", {}), k)
    return ObliviousForest(
        np.asarray(feat, dtype=np.uint32),
        np.asarray(border, dtype=np.float32),
        np.asarray(split_start),
        np.asarray(leaf_start[:-1]),
        np.asarray(val, dtype=np.float64),
        n_features,
        float(scale),
        bias,
        columns=columns,
        n_outputs=n_outputs,
    )


def _columns(class_params: dict, k: int) -> tuple[np.ndarray, int]:
    """Output column of each model dimension, and the number of columns."""
    names = class_params.get("class_names")
    labels = class_params.get("class_to_label")
    if not names or not labels or len(names) == len(labels) == k:
        return np.arange(k), k
    if class_params.get("class_label_type") != "Integer" or len(labels) != k:
        raise Unsupported(f"class parameters {class_params}")
    index = {float(name): i for i, name in enumerate(names)}
    try:
        return np.array([index[float(label)] for label in labels]), len(names)
    except KeyError:
        raise Unsupported(f"class parameters {class_params}") from None
