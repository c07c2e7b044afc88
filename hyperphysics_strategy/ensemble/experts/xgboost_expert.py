"""XGBoost gradient-boosted trees (``multi:softprob``, early stopping on validation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xgboost as xgb

from .base import Expert, FitData

DEFAULTS = {
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


class XGBoostExpert(Expert):
    name = "xgboost"
    library = "xgboost"

    def _fit(self, data: FitData) -> None:
        params = {**DEFAULTS, **self.params}
        rounds = int(params.pop("n_estimators", params.pop("num_boost_round", 400)))
        stopping = int(params.pop("early_stopping_rounds", 40))
        params.update(self.placement.params)
        params.update(num_class=data.n_classes, seed=self.seed, nthread=self.placement.threads)
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
        self.best_iteration = int(self.booster.best_iteration) + 1
        # Inference runs where the caller is (often a CPU-only live bot): predict on CPU.
        self.booster.set_param({"device": "cpu", "nthread": 1})

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        matrix = xgb.DMatrix(X)
        out = self.booster.predict(matrix, iteration_range=(0, self.best_iteration))
        return np.asarray(out, dtype=np.float64).reshape(X.shape[0], -1)

    def _save_native(self, directory: Path) -> None:
        tmp = directory / "model.ubj.tmp.ubj"
        self.booster.save_model(str(tmp))
        tmp.replace(directory / "model.ubj")

    def _load_native(self, directory: Path) -> None:
        self.booster = xgb.Booster()
        self.booster.load_model(str(directory / "model.ubj"))
        self.booster.set_param({"device": "cpu", "nthread": 1})
