"""Compiled CPU inference for the tree experts (LightGBM, XGBoost, CatBoost).

Each library's own model dump is converted to flat node arrays evaluated by numba
kernels (:mod:`._kernel`); probabilities match the native predictor to float rounding
(LightGBM and XGBoost raw scores bit for bit) and every converted model is checked
against it before use (:mod:`.gate`). Module per job: ``convert_lightgbm``,
``convert_xgboost``, ``convert_catboost`` (model -> arrays), ``_layout`` (tree arrays ->
kernel layout), ``compiled`` (the predictors), ``gate`` (check and fallback).
"""

from ._layout import Unsupported
from .compiled import CompiledForest, ObliviousForest
from .convert_catboost import from_catboost
from .convert_lightgbm import from_lightgbm
from .convert_xgboost import from_xgboost
from .gate import TOLERANCE, CompiledTrees, check_rows, predict_experts, without_options

__all__ = [
    "TOLERANCE",
    "CompiledForest",
    "CompiledTrees",
    "ObliviousForest",
    "Unsupported",
    "check_rows",
    "from_catboost",
    "from_lightgbm",
    "from_xgboost",
    "predict_experts",
    "without_options",
]
