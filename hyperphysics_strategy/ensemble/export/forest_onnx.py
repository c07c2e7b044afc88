"""A compiled forest (:mod:`..experts.forest`) as an ONNX ``TreeEnsembleRegressor``.

Used for the tree experts the ecosystem's converters do not cover: XGBoost's random
forest mode (``num_parallel_tree``; onnxmltools #663) and DART (onnxmltools reads no
``weight_drop``), and as the fallback of LightGBM and XGBoost when their converter fails
or misses the parity check. The forest layout already states every split as
``x > threshold`` in float32 with NaN going to the ``low`` child, on the input columns
``0..F-1`` and their negations ``F..2F-1``: that is ONNX's ``BRANCH_GT`` with
``missing_value_tracks_true = 0`` (NaN compares false) on ``Concat(x, -x)``. LightGBM's
clip of +-inf to +-FLT_MAX comes first (``Clip``). Raw scores add up in the library's
accumulator type (double for LightGBM, float for XGBoost: thresholds, leaves and the base
score are written as tensors of that type) and a softmax gives the probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .extra import require
from .graph import INPUT, ML_OPSET, OPSET, OUTPUT

_FLT_MAX = float(np.finfo(np.float32).max)


def forest_to_onnx(forest: Any, name: str) -> Any:
    """``forest`` (a ``CompiledForest``) as an ONNX model ``features -> probabilities``."""
    onnx = require("onnx")
    helper, tp = onnx.helper, onnx.TensorProto
    a = forest.nodes
    f, k = forest.n_features, forest.n_classes
    double = forest.base.dtype == np.float64
    elem = tp.DOUBLE if double else tp.FLOAT
    np_type = np.float64 if double else np.float32

    slot = np.arange(a.child.shape[0], dtype=np.int64)
    tree = np.searchsorted(a.root.astype(np.int64), slot, side="right") - 1
    local = slot - a.root.astype(np.int64)[tree]
    leaf = a.child.astype(np.int64) == slot
    low = a.child.astype(np.int64) - a.root.astype(np.int64)[tree]
    attrs = {
        "n_targets": k,
        "aggregate_function": "SUM",
        "post_transform": "NONE",
        "nodes_treeids": tree.tolist(),
        "nodes_nodeids": local.tolist(),
        "nodes_featureids": np.where(leaf, 0, a.feat).astype(np.int64).tolist(),
        "nodes_modes": np.where(leaf, "LEAF", "BRANCH_GT").tolist(),
        "nodes_falsenodeids": np.where(leaf, 0, low).tolist(),
        "nodes_truenodeids": np.where(leaf, 0, low + 1).tolist(),
        "nodes_missing_value_tracks_true": [0] * len(slot),
        "nodes_hitrates": [1.0] * len(slot),
        "nodes_values_as_tensor": onnx.numpy_helper.from_array(
            np.where(leaf, 0, a.thr).astype(np_type), "nodes_values"
        ),
        "target_treeids": tree[leaf].tolist(),
        "target_nodeids": local[leaf].tolist(),
        "target_ids": a.klass.astype(np.int64)[tree[leaf]].tolist(),
        "target_weights_as_tensor": onnx.numpy_helper.from_array(
            a.val[leaf].astype(np_type), "target_weights"
        ),
        "base_values_as_tensor": onnx.numpy_helper.from_array(
            forest.base.astype(np_type), "base_values"
        ),
    }
    nodes = [helper.make_node("Cast", [INPUT], ["x"], to=elem)]
    inits = []
    x = "x"
    if forest.clip:
        inits += [
            onnx.numpy_helper.from_array(np.array(-_FLT_MAX, np_type), "lo"),
            onnx.numpy_helper.from_array(np.array(_FLT_MAX, np_type), "hi"),
        ]
        nodes.append(helper.make_node("Clip", [x, "lo", "hi"], ["x_clipped"]))
        x = "x_clipped"
    if forest.negated:
        nodes += [
            helper.make_node("Neg", [x], ["x_neg"]),
            helper.make_node("Concat", [x, "x_neg"], ["x_both"], axis=1),
        ]
        x = "x_both"
    nodes += [
        helper.make_node("TreeEnsembleRegressor", [x], ["raw"], domain="ai.onnx.ml", **attrs),
        helper.make_node("Softmax", ["raw"], ["proba"], axis=1),
        helper.make_node("Cast", ["proba"], [OUTPUT], to=tp.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT, tp.FLOAT, [None, f])],
        [helper.make_tensor_value_info(OUTPUT, tp.FLOAT, [None, k])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="hyperphysics-strategy",
    )
    onnx.checker.check_model(model)
    return model
