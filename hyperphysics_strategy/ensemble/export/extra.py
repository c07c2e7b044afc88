"""The ``onnx`` extra: ``onnx``, ``onnxruntime``, ``onnxmltools`` and ``skl2onnx``.

Everything else in the package works without them; exporting (or predicting through ONNX
Runtime) without them is an ``ImportError`` that names the extra and how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA = "onnx"
INSTALL = 'pip install ".[onnx]" (in a clone of hyperphysics-strategy)'
#: import name -> distribution (what ``pip`` installs)
PACKAGES = {
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "onnxmltools": "onnxmltools",
    "skl2onnx": "skl2onnx",
}


def require(module: str) -> ModuleType:
    """Import ``module`` (one of :data:`PACKAGES`); missing: an ``ImportError`` naming the
    extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"ONNX export and ONNX Runtime inference need the {EXTRA!r} extra "
            f"({', '.join(PACKAGES.values())}); {PACKAGES.get(module, module)} is missing "
            f"({exc}). Install it with: {INSTALL}"
        ) from exc


def available() -> bool:
    """Whether the extra's packages import (nothing is raised)."""
    try:
        for module in PACKAGES:
            importlib.import_module(module)
    except ImportError:
        return False
    return True
