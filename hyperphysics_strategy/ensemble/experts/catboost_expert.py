"""CatBoost oblivious trees (``MultiClass``), and a differently regularised variant.

``CatBoostAltExpert`` is the original design's second CatBoost: deeper trees, a much
stronger L2 penalty on leaf values, Bernoulli row bootstrap and a random subspace of
features per split (``rsm``), so its errors correlate less with the first one's.

Both predict through a compiled forest (:mod:`.forest`) when it matches CatBoost's own
predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import catboost
import numpy as np

from .base import Expert, FitData
from .forest import CompiledTrees, from_catboost, without_options
from .space import Int, Real

DEFAULTS: dict[str, Any] = {
    "loss_function": "MultiClass",
    "iterations": 400,
    "learning_rate": 0.08,
    "depth": 6,
    "l2_leaf_reg": 3.0,
    "border_count": 128,
}

ALT_DEFAULTS: dict[str, Any] = {
    **DEFAULTS,
    "depth": 8,
    "l2_leaf_reg": 10.0,
    "bootstrap_type": "Bernoulli",
    "subsample": 0.7,
    "rsm": 0.5,
    "random_strength": 2.0,
    "learning_rate": 0.06,
}


#: what ``hyperphysics search`` samples (keys of ``params``)
SEARCH_SPACE = dict(
    iterations=Int(50, 400, log=True),
    learning_rate=Real(0.02, 0.2, log=True),
    depth=Int(4, 8),
    l2_leaf_reg=Real(1.0, 20.0, log=True),
)
ALT_SEARCH_SPACE = {**SEARCH_SPACE, "depth": Int(6, 10), "rsm": Real(0.3, 1.0)}


class CatBoostExpert(CompiledTrees, Expert):
    name = "catboost"
    library = "catboost"
    DEFAULTS: dict[str, Any] = DEFAULTS
    SEARCH_SPACE = SEARCH_SPACE

    def _fit(self, data: FitData) -> None:
        params = without_options({**self.DEFAULTS, **self.library_params()})
        if "n_estimators" in params:
            params["iterations"] = int(params.pop("n_estimators"))
        stopping = int(params.pop("early_stopping_rounds", 40))
        params.update(self.placement.params())
        if params.get("task_type") == "GPU":
            # rsm (feature subsampling per split) is CPU-only for multiclass in CatBoost.
            params.pop("rsm", None)
        params.update(
            random_seed=self.seed,
            class_names=list(range(data.n_classes)),  # fixed columns even if a class is absent
            thread_count=max(1, int(params.get("thread_count", self.placement.threads))),
            verbose=False,
            allow_writing_files=False,
        )
        # Looked up on the module so tests can intercept the constructor.
        self.model = catboost.CatBoostClassifier(**params)
        self.model.fit(
            catboost.Pool(data.X, label=data.y, weight=data.weight),
            eval_set=catboost.Pool(data.X_val, label=data.y_val, weight=data.weight_val),
            early_stopping_rounds=stopping,
            use_best_model=True,
        )
        self.best_iteration = int(self.model.get_best_iteration() or 0) + 1
        self.build_compiled(data.X_val)

    def _compile(self):
        return from_catboost(self.model, self.n_features)

    def _native_proba(self, X: np.ndarray) -> np.ndarray:
        # One thread: inference runs in the bot on small batches. CatBoost evaluates on
        # the CPU whatever ``task_type`` trained the model.
        out = self.model.predict_proba(X, thread_count=1)
        return np.asarray(out, dtype=np.float64).reshape(X.shape[0], -1)

    def _save_native(self, directory: Path) -> None:
        self.model.save_model(str(directory / "model.cbm"), format="cbm")

    def _load_native(self, directory: Path) -> None:
        self.model = catboost.CatBoostClassifier()
        self.model.load_model(str(directory / "model.cbm"), format="cbm")
        self.build_compiled()


class CatBoostAltExpert(CatBoostExpert):
    name = "catboost_alt"
    DEFAULTS = ALT_DEFAULTS
    SEARCH_SPACE = ALT_SEARCH_SPACE
