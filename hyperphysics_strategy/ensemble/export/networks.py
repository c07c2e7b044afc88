"""ONNX export of the six PyTorch experts with ``torch.onnx.export``.

The exported graph is the whole prediction of :meth:`TorchExpert.predict_proba`: the
expert's input standardisation (training mean and standard deviation, clipped to
+-8 sigma), the network in eval mode, and the softmax. The TorchScript exporter is used
(``dynamo=False``): the dynamo exporter needs ``onnxscript``, which the extra does not
bring, and the six architectures export with the classic one (TabNet's sparsemax sorts,
which ONNX's ``TopK`` covers).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from .extra import require
from .graph import INPUT, OPSET, OUTPUT


def _wrapped(expert: Any) -> Any:
    import torch
    from torch import nn

    class Standardised(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = expert.module
            self.register_buffer("mean", torch.from_numpy(expert.mean.copy()))
            self.register_buffer("std", torch.from_numpy(expert.std.copy()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = torch.clamp((x - self.mean) / self.std, -8.0, 8.0)
            return torch.softmax(self.net(z), dim=1)

    return Standardised().eval()


def torch_module(expert: Any) -> Any:
    """The CPU module ``features -> probabilities`` of a fitted torch expert (eval mode)."""
    if expert.module is None:
        raise RuntimeError(f"expert {expert.name!r} is not fitted")
    return _wrapped(expert)


def network_onnx(expert: Any) -> Any:
    onnx = require("onnx")
    import torch

    buffer = io.BytesIO()
    example = torch.zeros(2, expert.n_features)
    # grad mode on: without it the encoder layers take a fused path ONNX cannot express
    with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            torch_module(expert),
            (example,),
            buffer,
            dynamo=False,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "rows"}, OUTPUT: {0: "rows"}},
            opset_version=OPSET,
        )
    return onnx.load_from_string(buffer.getvalue())


def network_candidates(expert: Any) -> list[tuple[str, Any]]:
    return [("torch.onnx", network_onnx)]
