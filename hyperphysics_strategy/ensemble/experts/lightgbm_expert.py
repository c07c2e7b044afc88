"""LightGBM gradient-boosted trees (multiclass softmax, early stopping on validation).

Predicts through a compiled forest (:mod:`.forest`) when it matches ``Booster.predict``.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

from .base import Expert, FitData
from .forest import CompiledTrees, from_lightgbm, without_options
from .space import Int, Real

DEFAULTS = {
    "objective": "multiclass",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
}
#: what ``hyperphysics search`` samples (keys of ``params``)
SEARCH_SPACE = {
    "n_estimators": Int(50, 400, log=True),
    "learning_rate": Real(0.01, 0.2, log=True),
    "num_leaves": Int(8, 128, log=True),
    "min_data_in_leaf": Int(10, 200, log=True),
    "feature_fraction": Real(0.5, 1.0),
    "lambda_l2": Real(1e-3, 10.0, log=True),
}


class LightGBMExpert(CompiledTrees, Expert):
    name = "lightgbm"
    library = "lightgbm"
    SEARCH_SPACE = SEARCH_SPACE

    def _fit(self, data: FitData) -> None:
        params = without_options({**DEFAULTS, **self.library_params()})
        rounds = int(params.pop("n_estimators", params.pop("num_boost_round", 400)))
        stopping = int(params.pop("early_stopping_rounds", 40))
        params.update(self.placement.params())
        params.update(
            num_class=data.n_classes,
            seed=self.seed,
            deterministic=True,
            num_threads=max(1, self.placement.threads),
        )
        train = lgb.Dataset(data.X, label=data.y, weight=data.weight, free_raw_data=True)
        valid = lgb.Dataset(data.X_val, label=data.y_val, weight=data.weight_val, reference=train)
        self.booster = lgb.train(
            params,
            train,
            num_boost_round=rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(stopping, verbose=False)],
        )
        self.best_iteration = int(self.booster.best_iteration or rounds)
        self.build_compiled(data.X_val)

    def _compile(self):
        return from_lightgbm(self.booster, self.best_iteration)

    def _native_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.predict(X, num_iteration=self.best_iteration), dtype=np.float64
        ).reshape(X.shape[0], -1)

    def _save_native(self, directory: Path) -> None:
        self.booster.save_model(str(directory / "model.txt"), num_iteration=self.best_iteration)

    def _load_native(self, directory: Path) -> None:
        self.booster = lgb.Booster(model_file=str(directory / "model.txt"))
        self.best_iteration = None  # the saved model holds exactly the kept trees
        self.build_compiled()
