"""Small ONNX graph helpers shared by the converters: one input ``features`` (float32,
``(n, F)``) and one output ``probabilities`` (float32, ``(n, K)``) per exported model,
and ONNX Runtime sessions on the CPU."""

from __future__ import annotations

from typing import Any

from .extra import require

INPUT = "features"
OUTPUT = "probabilities"
#: Opset of the graphs this package writes itself (the blend, the forest layout, torch).
OPSET = 17
ML_OPSET = 3


def probability_output(model: Any, source: str, n_classes: int) -> Any:
    """``model`` with ``source`` (a probability tensor) as its only output, cast to float32
    and named :data:`OUTPUT`; a ``ZipMap`` (a list of dicts per row) reading it is dropped,
    and so are the other outputs (a predicted label)."""
    onnx = require("onnx")
    graph = model.graph
    for node in list(graph.node):
        if node.op_type == "ZipMap":
            graph.node.remove(node)
    if source == OUTPUT:  # the converter's own name: rename it, the Cast takes OUTPUT
        source = OUTPUT + "_converted"
        for node in graph.node:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == OUTPUT:
                        names[i] = source
    graph.node.append(onnx.helper.make_node("Cast", [source], [OUTPUT], to=onnx.TensorProto.FLOAT))
    del graph.output[:]
    graph.output.append(
        onnx.helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, [None, n_classes])
    )
    return model


def session(model_bytes: bytes, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session of ``model_bytes`` using ``threads`` threads."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no shape warnings from converters' label outputs
    # no busy-waiting threads between calls: the bot shares its cores with other work
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
