"""ONNX converters of the six tree experts: the ecosystem's first, the forest layout
where none exists.

* ``lightgbm``: onnxmltools (the kept iterations only), else the forest layout;
* ``xgboost``: onnxmltools (``booster[:best_iteration]``), else the forest layout;
* ``xgboost_rf``, ``xgboost_dart``: the forest layout (:mod:`.forest_onnx`); onnxmltools
  has no random-forest converter (#663; its output differs by up to 0.46 here) and fails
  on DART's booster;
* ``catboost``, ``catboost_alt``: CatBoost's own ``save_model(format="onnx")``.

:func:`tree_candidates` lists ``(converter name, build)`` in the order to try; the caller
keeps the first whose parity check passes (:mod:`.writer`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .extra import require
from .forest_onnx import forest_to_onnx
from .graph import INPUT, probability_output

#: the onnxmltools converters' highest supported opset (onnxmltools 1.16)
ONNXMLTOOLS_OPSET = 15


def _initial_types(n_features: int) -> list:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [(INPUT, FloatTensorType([None, n_features]))]


def lightgbm_onnx(expert: Any) -> Any:
    require("onnxmltools")
    import lightgbm as lgb
    from onnxmltools.convert import convert_lightgbm

    booster = expert.booster
    if expert.best_iteration:  # the trees the expert predicts with, no more
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=expert.best_iteration)
        )
    model = convert_lightgbm(
        booster,
        initial_types=_initial_types(expert.n_features),
        zipmap=False,
        target_opset=ONNXMLTOOLS_OPSET,
    )
    return probability_output(model, "probabilities", expert.n_classes)


def xgboost_onnx(expert: Any) -> Any:
    require("onnxmltools")
    from onnxmltools.convert import convert_xgboost

    booster = expert.booster
    if expert.best_iteration:
        booster = booster[: expert.best_iteration]
    model = convert_xgboost(
        booster, initial_types=_initial_types(expert.n_features), target_opset=ONNXMLTOOLS_OPSET
    )
    return probability_output(model, "probabilities", expert.n_classes)


def catboost_onnx(expert: Any) -> Any:
    onnx = require("onnx")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        expert.model.save_model(str(path), format="onnx")
        model = onnx.load(str(path))
    # CatBoost's graph: TreeEnsembleClassifier -> probability_tensor -> ZipMap
    return probability_output(model, "probability_tensor", expert.n_classes)


def layout_onnx(expert: Any) -> Any:
    """The expert's model through the package's forest layout (any ``CompiledForest``)."""
    from ..experts.forest import from_lightgbm, from_xgboost

    convert = from_lightgbm if expert.library == "lightgbm" else from_xgboost
    return forest_to_onnx(convert(expert.booster, expert.best_iteration), expert.name)


def tree_candidates(expert: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    """The converters to try for a tree expert, best first (see the module doc)."""
    layout = ("forest layout", layout_onnx)
    return {
        "lightgbm": [("onnxmltools", lightgbm_onnx), layout],
        "xgboost": [("onnxmltools", xgboost_onnx), layout],
        "xgboost_rf": [layout],
        "xgboost_dart": [layout],
        "catboost": [("catboost", catboost_onnx)],
        "catboost_alt": [("catboost", catboost_onnx)],
    }[expert.name]
