"""The ensemble's blend (per-expert calibration and the stacked logistic model) as ONNX.

Written op by op with ``onnx.helper`` in double precision, because the blend is not a
scikit-learn estimator once fitted (:class:`..stacking.Stacker` keeps the coefficients,
with ``-inf`` intercepts for classes absent from the stacking rows) and the calibration
is this package's own (:mod:`..calibration`). For expert ``e``'s probabilities ``P_e``:

* prior shift: ``Q = P_e * ratio`` renormalised per row (``ratio = target / source``,
  1 where the source prior is 0; a row summing to 0 stays 0);
* tempering (only where ``T_e != 1``, as :func:`..calibration.temper`):
  ``softmax(log_prior + (log clip(Q, 1e-12, 1) - log_prior) / T_e)``;
* stacking: ``softmax([max(log max(Q, 1e-300), log 1e-9)]_e @ coef.T + intercept)``.

Inputs ``p0 .. p{E-1}`` (float32, ``(n, K)``: the experts' exported outputs); output
``probabilities`` (double, ``(n, K)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration import EPS
from ..stacking import LOG_FLOOR
from .extra import require
from .graph import OPSET, OUTPUT


def blend_to_onnx(calibration: Any, stacker: Any, n_classes: int) -> Any:
    onnx = require("onnx")
    helper, tp, nh = onnx.helper, onnx.TensorProto, onnx.numpy_helper
    k = int(n_classes)
    n_experts = stacker.n_experts
    source = np.asarray(calibration.source_prior, np.float64)
    target = np.asarray(calibration.target_prior, np.float64)
    ratio = np.where(source > 0, target / np.maximum(source, EPS), 1.0)
    log_prior = np.log(np.maximum(target, EPS))
    consts = {
        "ratio": ratio,
        "log_prior": log_prior,
        "zero": np.array(0.0),
        "one": np.array(1.0),
        "eps": np.array(EPS),
        "tiny": np.array(1e-300),
        "floor": np.array(LOG_FLOOR),
        "axis1": np.array([1], dtype=np.int64),
        "coef_t": np.ascontiguousarray(np.asarray(stacker.coef, np.float64).T),
        "intercept": np.asarray(stacker.intercept, np.float64),
    }
    inits = [nh.from_array(np.asarray(v), name) for name, v in consts.items()]
    nodes = []

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def normalised(x: str, tag: str) -> str:
        total = node("ReduceSum", [x, "axis1"], f"{tag}_sum", keepdims=1)
        positive = node("Greater", [total, "zero"], f"{tag}_pos")
        safe = node("Where", [positive, total, "one"], f"{tag}_safe")
        return node("Div", [x, safe], f"{tag}_norm")

    features = []
    for e in range(n_experts):
        p = node("Cast", [f"p{e}"], f"e{e}_p", to=tp.DOUBLE)
        q = normalised(node("Mul", [p, "ratio"], f"e{e}_shift"), f"e{e}_q")
        temperature = float(calibration.expert_temperatures[e])
        if temperature != 1.0:
            inits.append(nh.from_array(np.array(1.0 / temperature), f"e{e}_inv_t"))
            clipped = node("Clip", [q, "eps", "one"], f"e{e}_clip")
            centred = node("Sub", [node("Log", [clipped], f"e{e}_log"), "log_prior"], f"e{e}_c")
            scaled = node("Mul", [centred, f"e{e}_inv_t"], f"e{e}_scaled")
            logits = node("Add", [scaled, "log_prior"], f"e{e}_logits")
            q = node("Softmax", [logits], f"e{e}_tempered", axis=1)
        log_q = node("Log", [node("Max", [q, "tiny"], f"e{e}_floor0")], f"e{e}_logq")
        features.append(node("Max", [log_q, "floor"], f"e{e}_feature"))
    stacked = node("Concat", features, "stacked", axis=1)
    logits = node("Add", [node("MatMul", [stacked, "coef_t"], "linear"), "intercept"], "logits")
    node("Softmax", [logits], OUTPUT, axis=1)
    graph = helper.make_graph(
        nodes,
        "blend",
        [helper.make_tensor_value_info(f"p{e}", tp.FLOAT, [None, k]) for e in range(n_experts)],
        [helper.make_tensor_value_info(OUTPUT, tp.DOUBLE, [None, k])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hyperphysics-strategy"
    )
    onnx.checker.check_model(model)
    return model
