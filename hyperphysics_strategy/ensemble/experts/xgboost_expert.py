"""XGBoost experts: gradient-boosted trees, a random forest and DART.

* ``xgboost``: ``gbtree``, ``multi:softprob``, early stopping on validation.
* ``xgboost_rf``: one round of ``num_parallel_tree`` trees with row and column
  subsampling and learning rate 1, i.e. a random forest grown by XGBoost.
* ``xgboost_dart``: boosting with dropout of whole trees (DART), which counters the
  over-specialisation of late trees; fewer rounds because every round rescales old trees.

Inference goes through a compiled forest (:mod:`.forest`) when it matches XGBoost's own
predictor, otherwise ``inplace_predict`` on the CPU (no ``DMatrix`` per call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from .base import Expert, FitData
from .forest import CompiledTrees, from_xgboost, without_options
from .space import Int, Real

DEFAULTS: dict[str, Any] = {
    "objective": "multi:softprob",
    "eval_metric": "mlogloss",
    "tree_method": "hist",
    "learning_rate": 0.05,
    "max_depth": 6,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}

RF_DEFAULTS: dict[str, Any] = {
    "objective": "multi:softprob",
    "eval_metric": "mlogloss",
    "tree_method": "hist",
    "learning_rate": 1.0,
    "num_parallel_tree": 100,
    "max_depth": 8,
    "min_child_weight": 10.0,
    "subsample": 0.7,
    "colsample_bynode": 0.6,
    "reg_lambda": 5.0,
}

DART_DEFAULTS: dict[str, Any] = {
    **DEFAULTS,
    "booster": "dart",
    "learning_rate": 0.1,
    "rate_drop": 0.1,
    "skip_drop": 0.5,
    "sample_type": "uniform",
    "normalize_type": "tree",
}


#: what ``hyperphysics search`` samples, per variant (keys of ``params``)
SEARCH_SPACE = {
    "n_estimators": Int(50, 400, log=True),
    "learning_rate": Real(0.01, 0.2, log=True),
    "max_depth": Int(3, 10),
    "min_child_weight": Real(1.0, 20.0, log=True),
    "subsample": Real(0.5, 1.0),
    "colsample_bytree": Real(0.5, 1.0),
}
RF_SEARCH_SPACE = {
    **{key: SEARCH_SPACE[key] for key in ("min_child_weight", "subsample")},
    "n_estimators": Int(30, 300, log=True),  # trees of the one round
    "max_depth": Int(4, 12),
    "colsample_bynode": Real(0.3, 0.9),
}
DART_SEARCH_SPACE = {
    **SEARCH_SPACE,
    "n_estimators": Int(30, 200, log=True),
    "rate_drop": Real(0.0, 0.3),
}


class XGBoostExpert(CompiledTrees, Expert):
    name = "xgboost"
    library = "xgboost"
    DEFAULTS: dict[str, Any] = DEFAULTS
    SEARCH_SPACE = SEARCH_SPACE
    ROUNDS = 400
    STOPPING = 40

    def _rounds(self, params: dict[str, Any]) -> tuple[int, int | None]:
        rounds = int(params.pop("n_estimators", params.pop("num_boost_round", self.ROUNDS)))
        stopping = int(params.pop("early_stopping_rounds", self.STOPPING))
        return rounds, stopping

    def _fit(self, data: FitData) -> None:
        params = without_options({**self.DEFAULTS, **self.library_params()})
        rounds, stopping = self._rounds(params)
        params.update(self.placement.params())
        params.update(num_class=data.n_classes, seed=self.seed)
        params.setdefault("nthread", self.placement.threads)
        train = xgb.DMatrix(data.X, label=data.y, weight=data.weight)
        valid = xgb.DMatrix(data.X_val, label=data.y_val, weight=data.weight_val)
        self.booster = xgb.train(
            params,
            train,
            num_boost_round=rounds,
            evals=[(valid, "validation")],
            early_stopping_rounds=stopping,
            verbose_eval=False,
        )
        best = getattr(self.booster, "best_iteration", None)
        self.best_iteration = rounds if best is None else int(best) + 1
        self._prepare_inference(data.X_val)

    def _prepare_inference(self, X_check: np.ndarray | None = None) -> None:
        # Inference runs where the caller is (often a CPU-only live bot): predict on CPU.
        self.booster.set_param({"device": "cpu", "nthread": 1})
        self.build_compiled(X_check)

    def _compile(self):
        return from_xgboost(self.booster, self.best_iteration)

    def _native_proba(self, X: np.ndarray) -> np.ndarray:
        rng = (0, self.best_iteration) if self.best_iteration else (0, 0)
        out = self.booster.inplace_predict(X, iteration_range=rng, validate_features=False)
        return np.asarray(out, dtype=np.float64).reshape(X.shape[0], -1)

    def _save_native(self, directory: Path) -> None:
        self.booster.save_model(str(directory / "model.ubj"))

    def _load_native(self, directory: Path) -> None:
        self.booster = xgb.Booster()
        self.booster.load_model(str(directory / "model.ubj"))
        self._prepare_inference()


class XGBoostRFExpert(XGBoostExpert):
    name = "xgboost_rf"
    DEFAULTS = RF_DEFAULTS
    SEARCH_SPACE = RF_SEARCH_SPACE
    NOT_SHARED = {"learning_rate": "a random forest is one round at learning rate 1"}

    def _rounds(self, params: dict[str, Any]) -> tuple[int, int | None]:
        # A forest is one round of parallel trees: nothing to stop early.
        if "n_estimators" in params:
            params["num_parallel_tree"] = int(params.pop("n_estimators"))
        params.pop("early_stopping_rounds", None)
        return int(params.pop("num_boost_round", 1)), None


class XGBoostDARTExpert(XGBoostExpert):
    name = "xgboost_dart"
    DEFAULTS = DART_DEFAULTS
    SEARCH_SPACE = DART_SEARCH_SPACE
    ROUNDS = 150
    STOPPING = 20
