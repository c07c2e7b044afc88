"""FreqAI classifier models backed by the expert ensemble.

``HyperPhysicsEnsemble`` trains the experts listed in
``freqai.model_training_parameters.experts``; the single-expert classes fix the list to
one expert so users can pick one model by name. All share FreqAI's own train/predict
pipeline (``BaseClassifierModel``): feature filtering, the datasieve pipeline, outlier
checks, saving with joblib. The drawer's save and load are made crash-safe
(:mod:`.model_store`): the model folder is committed by one rename with a sha256 manifest,
and verified before cloudpickle loads it.

``model_training_parameters`` (free-form in freqtrade) is validated at start-up by
:class:`.parameters.TrainingParameters` (unknown keys, strings for booleans or numbers are
errors naming the key) and read as::

    {
      "experts": ["lightgbm", "xgboost"],   # HyperPhysicsEnsemble only
      "seed": 0,
      "max_train_rows": 500000,             # stratified sample beyond this
      "drift_rows": 500,                    # recent rows compared with training (PSI)
      "use_processes": null,                # null: torch experts in worker processes
      "expert_timeout": null,               # seconds; a slower expert is dropped
      "live_round_pairs": null,             # live: pairs trained at once (null: all due)
      "concurrent_windows": null,           # backtest windows trained at once; null: auto
      "backend": "local",                   # "ray": experts as Ray tasks (docs/ray.md)
      "n_jobs": 4,                          # FreqAI's form: to every expert that takes it
      "lightgbm": {"n_estimators": 400, "learning_rate": 0.05},
      "xgboost": {"max_depth": 6}
    }
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from freqtrade.freqai.base_models.BaseClassifierModel import BaseClassifierModel
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from freqtrade.strategy.interface import IStrategy
from pandas import DataFrame

from hyperphysics_strategy.ensemble import DEFAULT_CLASSES, ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.serving import choose_inference, ensure_inference
from hyperphysics_strategy.trading.barriers import mean_time_return

from .backtest_windows import concurrent_windows, hardware_window_workers
from .compat import check_freqtrade
from .compat.drawer import install_crash_safe_saves, install_history_date_fix, install_purge_guard
from .compat.start_backtesting import backtest_checks
from .model_identity import CURRENT_FEATURES, log_once, saved_model_change
from .model_store import verified_model_folder
from .one_pass import one_pass
from .parameters import TrainingParameters, cluster_address, load_training_parameters
from .rounds import LiveRounds
from .run_folders import separate_run_folders

logger = logging.getLogger(__name__)

#: Extra return (FreqAI ``extra_returns_per_train``): mean time-barrier return of the
#: training rows, which the strategy's expected value needs.
M_TIME = "hp_m_time"
TIME_CLASS = "neutral"
#: The strategy's attributes that shape its labels (HyperPhysicsStrategy's barriers): part
#: of the label configuration a saved model must match to be reused.
LABEL_ATTRIBUTES = ("label_vol_window", "barrier_k_up", "barrier_k_down")


class HyperPhysicsEnsemble(BaseClassifierModel):
    """FreqAI classifier: the HyperPhysics expert ensemble, stacked on out-of-fold predictions."""

    #: ``None`` reads the expert list from the config; single-expert subclasses fix it.
    EXPERTS: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: dict[str, Any]) -> None:
        # a freqtrade whose FreqAI internals this package does not know: refuse to start
        check_freqtrade(f"the FreqAI model {type(self).__name__}")
        # bad parameters fail at start-up, naming the key, before FreqAI sets anything up
        self.params: TrainingParameters = load_training_parameters(
            config.get("freqai", {}).get("model_training_parameters"), self.EXPERTS
        )
        if self.EXPERTS is not None and "experts" in self.params.model_fields_set:
            logger.warning(
                "%s trains %s alone: freqai.model_training_parameters.experts is ignored",
                type(self).__name__,
                ", ".join(self.EXPERTS),
            )
        # a missing library (ImportError) or an unknown torch parameter (ValueError): now
        for name in self.expert_names():
            make_expert(name, self.params.expert_params(name))
        if self.params.backend == "ray":  # Ray missing or cluster unreachable: fail now
            from hyperphysics_strategy.ensemble.scheduling.ray_cluster import connect

            connect(cluster_address(config))
        # backtests and dry/live runs never share models; simulated dry-runs never write
        # to the candles the simulator serves (before FreqAI and its download read config)
        separate_run_folders(config)
        super().__init__(config)
        install_history_date_fix(self.dd)
        self._strategy_labels: dict[str, Any] = {}
        install_crash_safe_saves(self.dd, self.model_identity)
        install_purge_guard(self.dd)

    # -- configuration ------------------------------------------------------------------
    def expert_names(self) -> tuple[str, ...]:
        return self.EXPERTS if self.EXPERTS is not None else self.params.experts

    def _label_period(self) -> int:
        return int(self.freqai_info.get("feature_parameters", {}).get("label_period_candles", 0))

    def model_identity(self, dk: FreqaiDataKitchen, saving: bool) -> dict[str, Any]:
        """What a saved model records and must match to be reused: the expert set, the
        feature list (when saving: the one trained on; before reuse: the frame's, when
        known) and the label configuration (horizon, classes, the strategy's barriers)."""
        features = dk.training_features_list if saving else getattr(dk, CURRENT_FEATURES, None)
        labels = {
            "label_period_candles": self._label_period(),
            "classes": list(self.class_names) or None,
            **self._strategy_labels,
        }
        return {"experts": list(self.expert_names()), "features": features, "labels": labels}

    # -- FreqAI contract ------------------------------------------------------------------
    def start(self, dataframe: DataFrame, metadata: dict, strategy: IStrategy) -> DataFrame:
        # the strategy's label settings, known before any model is saved or reused
        self._strategy_labels = {
            name: _plain(getattr(strategy, name))
            for name in LABEL_ATTRIBUTES
            if hasattr(strategy, name)
        }
        return super().start(dataframe, metadata, strategy)

    def model_exists(self, dk: FreqaiDataKitchen) -> bool:
        """A saved model counts only if its folder matches its manifest and it was trained
        with this expert set, feature list and label configuration (else: retrain)."""
        if not super().model_exists(dk):
            return False
        problem = verified_model_folder(dk.data_path)
        if problem is not None:
            logger.warning("HyperPhysics: not using the saved model, retraining: %s", problem)
            return False
        change = saved_model_change(self.dd, dk)
        if change:
            message = "HyperPhysics %s: retraining %s: %s"
            log_once(self.dd, dk.data_path, message, dk.pair, Path(dk.data_path).name, change)
            return False
        return True

    def _start_scanning(self, strategy: IStrategy) -> None:
        """FreqAI's live training thread, in rounds: every due pair trains at once and is
        published when ready (:mod:`.rounds`)."""
        LiveRounds(self, self.params.live_round_pairs).run(strategy)

    def start_backtesting(
        self, dataframe: DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any
    ) -> FreqaiDataKitchen:
        """FreqAI's backtesting loop, with the pair's windows trained concurrently ahead of
        it (:mod:`.backtest_windows`; ``concurrent_windows``: 1 turns it off)."""
        workers = self.params.concurrent_windows or hardware_window_workers(
            len(self.expert_names())
        )
        with (
            backtest_checks(dk, self.dd),
            concurrent_windows(self, dataframe, metadata, dk, strategy, workers),
        ):
            return super().start_backtesting(dataframe, metadata, dk, strategy)

    def train(self, unfiltered_df: DataFrame, pair: str, dk: FreqaiDataKitchen, **kwargs: Any):
        model = super().train(unfiltered_df, pair, dk, **kwargs)
        self._record_time_return(unfiltered_df, dk)
        logger.info(
            "HyperPhysics %s: model trained on candles through %s",
            pair,
            unfiltered_df["date"].iloc[-1],
        )
        return model

    def _record_time_return(self, df: DataFrame, dk: FreqaiDataKitchen) -> None:
        """Save ``m_time``, the mean return ``c_{t+h}/c_t - 1`` of the training rows whose
        label is the time barrier (``neutral``), in the model's metadata; FreqAI returns it
        with every prediction of this model as the column ``hp_m_time``."""
        horizon = self._label_period()
        labels = df[dk.label_list[0]] if dk.label_list else None
        m_time = float("nan")
        if horizon >= 1 and labels is not None and "close" in df.columns:
            m_time = mean_time_return(df["close"].to_numpy(), labels == TIME_CLASS, horizon)
        if math.isnan(m_time):  # no time-barrier rows: assume no drift
            m_time = 0.0
        # A fresh dict: FreqAI starts dk.data's from the config's, shared by every pair.
        dk.data["extra_returns_per_train"] = {
            **dk.data.get("extra_returns_per_train", {}),
            M_TIME: m_time,
        }
        logger.info("HyperPhysics %s: mean time-barrier return %.5f", dk.pair, m_time)

    def predict(self, unfiltered_df: DataFrame, dk: FreqaiDataKitchen, **kwargs: Any):
        """FreqAI's prediction, except that a row whose features hold NaN or inf gets NaN
        probabilities (and no label) and ``do_predict`` 0: FreqAI fills such features with
        0 and then overwrites its own NaN flags with the outlier check's, so the row would
        get a confident class with ``do_predict`` 1.

        Dry/live runs predict through each expert's fastest verified path
        (:mod:`...ensemble.serving`), chosen once per model: at fit, or at its first
        prediction after a load; backtests keep the native predictors. Labels and
        probabilities come from one pass of the ensemble (:mod:`.one_pass`)."""
        if getattr(self, "live", False) and self.model is not None:
            ensure_inference(self.model)
        with one_pass(self):
            pred_df, do_predict = super().predict(unfiltered_df, dk, **kwargs)
        features = unfiltered_df.filter(dk.training_features_list, axis=1)
        bad = ~np.isfinite(features.to_numpy(dtype=np.float64)).all(axis=1)
        classes = [c for c in self.model.classes_ if c in pred_df.columns]
        bad |= pred_df[classes].isna().any(axis=1).to_numpy()  # NaN from the pipeline
        if bad.any():
            pred_df.loc[bad, [*dk.label_list, *classes]] = np.nan
            do_predict = np.where(bad, 0, do_predict)
            dk.do_predict = do_predict
            logger.debug(
                "HyperPhysics %s: %d of %d rows have NaN or infinite features: no prediction",
                dk.pair, int(bad.sum()), len(bad),
            )  # fmt: skip
        return pred_df, do_predict

    def fit(self, data_dictionary: dict, dk: FreqaiDataKitchen, **kwargs: Any) -> ExpertEnsemble:
        params = self.params
        names = self.expert_names()
        classes = tuple(self.class_names) if self.class_names else DEFAULT_CLASSES
        ensemble = ExpertEnsemble(
            experts=names,
            expert_params={name: params.expert_params(name) for name in names},
            classes=classes,
            embargo=self._label_period(),
            seed=params.seed,
            max_train_rows=params.max_train_rows,
            drift_rows=params.drift_rows,
            feature_names=list(data_dictionary["train_features"].columns),
            use_processes=params.use_processes,
            expert_timeout=params.expert_timeout,
            stacking_folds=params.stacking_folds,
            stacking_C=params.stacking_C,
            backend=params.backend,
        )
        X = data_dictionary["train_features"].to_numpy()
        y = data_dictionary["train_labels"].iloc[:, 0].to_numpy()
        w = data_dictionary["train_weights"]
        has_test = len(data_dictionary.get("test_features", [])) > 0
        if has_test:
            ensemble.fit(
                X,
                y,
                w,
                data_dictionary["test_features"].to_numpy(),
                data_dictionary["test_labels"].iloc[:, 0].to_numpy(),
                data_dictionary["test_weights"],
            )
        else:
            ensemble.fit(X, y, w)
        for line in ensemble.report_.lines():
            logger.info("HyperPhysics %s %s", dk.pair, line)
        if getattr(self, "live", False):  # in the training thread, not in the first prediction's
            choose_inference(ensemble, data_dictionary.get("test_features"))
        # FreqAI writes dk.data to the model's metadata json: keep the report with the model.
        dk.data["hyperphysics_ensemble"] = ensemble.report_.to_dict()
        return ensemble


def _plain(value: Any) -> Any:
    """A strategy attribute as JSON (a hyperopt parameter: its value)."""
    value = getattr(value, "value", value)
    return value if isinstance(value, int | float | str | bool | None) else str(value)
