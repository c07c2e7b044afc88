"""The expert ensemble: encode labels, split, train experts in parallel, stack.

A scikit-learn classifier in its contract: ``__init__`` stores its parameters as given
(``get_params`` / ``set_params``; nothing is built there), ``fit`` learns the fitted
state, which ends in ``_`` (``experts_``, ``stacker_``, ``calibration_``, ``report_``,
``classes_``, ...), and ``predict`` / ``predict_proba`` read it. That is what FreqAI's
``BaseClassifierModel`` expects of the object its ``fit`` returns (``classes_`` names the
probability columns); it pickles (FreqAI saves models with joblib). ``save`` / ``load``: no
pickle, the experts' native files plus JSON; ``to_onnx``: ONNX files (:mod:`.export`).

The one blend: per-expert calibration and a stacked logistic model on out-of-fold
predictions (:mod:`.crossfit`, :mod:`.calibration`, :mod:`.stacking`).
"""

from __future__ import annotations

import copy
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperphysics_strategy.engine.hardware import DevicePlan

from . import inputs
from .calibration import PredictionBlock, class_priors, fit_expert_calibration
from .crossfit import out_of_fold_blocks
from .drift import feature_drift
from .experts import DEFAULT_EXPERTS, Expert, FitData, Placement, make_expert
from .export import export_ensemble
from .inputs import check_features, check_set, check_weights
from .labels import DEFAULT_CLASSES, LabelCodec
from .metrics import balanced_accuracy, log_loss
from .report import EnsembleReport, ExpertReport
from .sampling import stratified_indices
from .scheduling import ProcessMode, TrainingOutcome, check_backend, train_experts
from .splits import time_ordered_split
from .stacking import DEFAULT_C, fit_stacker
from .weights import balanced_sample_weights

logger = logging.getLogger(__name__)

#: Maps experts to (one placement per expert, how many experts may train at once).
PlacementProvider = Callable[[Sequence[Expert]], tuple[list[Placement], int]]


def planned_placements(
    experts: Sequence[Expert], **plan_options: Any
) -> tuple[list[Placement], int]:
    """Place experts with the hardware module's device plan (round-robin over GPUs).

    ``plan_options`` go to :meth:`DevicePlan.build` (``info``, ``capabilities``,
    ``max_workers``, ``devices``, ``env``): bind them with ``functools.partial`` to make a
    ``placement_provider`` for a given (or simulated) machine.
    """
    plan = DevicePlan.build(
        [e.library for e in experts], names=[e.name for e in experts], **plan_options
    )
    return list(plan), plan.workers


@dataclass(eq=False, repr=False)
class ExpertEnsemble:
    """Ensemble of named experts, blended by a stacked logistic model.

    Parameters (stored as given by the generated ``__init__``; checked by ``fit``):

    * ``experts``: expert names (``EXPERT_REGISTRY``) or unfitted ``Expert`` objects
      (copied by ``fit``); ``expert_params``: each named expert's parameters.
    * ``classes``: the class names, in code order; ``validation_fraction`` and
      ``embargo`` (rows between training and validation, the label horizon) for the
      split ``fit`` makes when it is given no validation set; ``balance_classes``:
      class-balanced sample weights for the experts; ``seed``: the first expert's.
    * ``placement_provider``: experts -> (placements, workers); default the device plan.
    * ``max_train_rows``: stratified sample beyond this; ``drift_rows``: recent rows whose
      feature drift is reported; ``feature_names`` for that report.
    * ``use_processes``, ``expert_timeout``: see :func:`.scheduling.train_experts`.
    * ``stacking_folds``: forward-chaining folds of out-of-fold predictions for the blend
      (0: the validation block only); ``stacking_C``: the stacker's inverse L2 strength.
    * ``keep_oof_blocks``: keep the out-of-fold blocks in ``oof_blocks_`` (diagnostics and
      benchmarks; off by default: FreqAI holds every pair's model in memory).
    """

    experts: Sequence[str | Expert] = DEFAULT_EXPERTS
    expert_params: dict[str, dict[str, Any]] | None = None
    classes: Sequence[str] = DEFAULT_CLASSES
    validation_fraction: float = 0.15
    embargo: int = 0
    balance_classes: bool = True
    seed: int = 0
    placement_provider: PlacementProvider | None = None
    _: KW_ONLY
    max_train_rows: int | None = 500_000
    drift_rows: int = 500
    feature_names: Sequence[str] | None = None
    use_processes: ProcessMode = None
    expert_timeout: float | None = None
    stacking_folds: int = 3
    stacking_C: float = DEFAULT_C
    keep_oof_blocks: bool = False
    backend: str = "local"
    to_onnx = export_ensemble  # (directory, X=None, ...) -> ExportReport; the onnx extra

    # -- scikit-learn's parameter protocol (BaseEstimator's, without importing sklearn) ----
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as stored (``deep`` is accepted, nothing nests)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ExpertEnsemble:
        """Set constructor parameters; an unknown name is a ``ValueError`` naming it."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for ExpertEnsemble; valid: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __bool__(self) -> bool:  # FreqAI tests ``if not model``: never be falsy
        return True

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "oof_blocks_" in state:  # training-time diagnostics stay out of FreqAI's joblib
            state["oof_blocks_"] = None
        return state

    # -- saving: the experts' native files plus JSON, never a pickle (:mod:`.persistence`) --
    def save(self, directory: str | Path) -> None:
        """Save the fitted ensemble into ``directory``, crash-safely (staging, manifest)."""
        from .persistence import save_ensemble

        save_ensemble(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> ExpertEnsemble:
        """Load what :meth:`save` wrote, after checking every byte against its manifest;
        a ``CorruptSaveError`` (a ``ValueError``) names the file otherwise."""
        from .persistence import load_ensemble

        return load_ensemble(Path(directory), cls)

    def _check_params(self) -> None:
        if not self.experts:
            raise ValueError("an ensemble needs at least one expert")
        check_backend(self.backend)
        if int(self.stacking_folds) < 0:
            raise ValueError(f"stacking_folds must be >= 0, got {self.stacking_folds}")
        if not float(self.stacking_C) > 0:
            raise ValueError(f"stacking_C must be positive, got {self.stacking_C}")

    def _new_experts(self) -> list[Expert]:
        params = self.expert_params or {}
        return [
            copy.deepcopy(e)
            if isinstance(e, Expert)
            else make_expert(e, params.get(e), self.seed + i).check_params(probe=False)
            for i, e in enumerate(self.experts)
        ]

    # -- training -------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        labels: Sequence[object],
        sample_weight: np.ndarray | None = None,
        X_val: np.ndarray | None = None,
        labels_val: Sequence[object] | None = None,
        sample_weight_val: np.ndarray | None = None,
        on_expert_done: Callable[[TrainingOutcome], None] | None = None,
        on_expert_start: Callable[[str, str], None] | None = None,
    ) -> ExpertEnsemble:
        """Train all experts, drop the failed ones, fit the stacked blend.

        Without ``X_val`` the last ``validation_fraction`` of the rows (after an embargo)
        validate. Training rows beyond ``max_train_rows`` are stratified-sampled. The PSI
        of every feature between the training rows and the ``drift_rows`` most recent
        rows (the end of the validation set) goes into ``report_.drift`` and the log.
        """
        started = time.perf_counter()
        self._check_params()
        codec = LabelCodec(self.classes)
        experts = self._new_experts()
        X, given = check_features(X, "training"), X
        names = inputs.training_feature_names(given, self.feature_names, X.shape[1])
        y = codec.encode(labels)
        w = check_weights(sample_weight, X.shape[0], "training")
        if X_val is None or labels_val is None:
            check_set(X, y, w, codec.classes, "training")
            train_idx, val_idx = time_ordered_split(len(y), self.validation_fraction, self.embargo)
            X_val, y_val, w_val = X[val_idx], y[val_idx], w[val_idx]
            X, y, w = X[train_idx], y[train_idx], w[train_idx]
        else:
            X_val = check_features(X_val, "validation")
            y_val = codec.encode(labels_val)
            w_val = check_weights(sample_weight_val, X_val.shape[0], "validation")
        check_set(X, y, w, codec.classes, "training")
        check_set(X_val, y_val, w_val, codec.classes, "validation")
        n_before = len(y)
        keep = stratified_indices(y, self.max_train_rows, self.seed)
        if keep.shape[0] < n_before:
            logger.info(
                "ensemble: %d training rows, stratified sample of %d kept (max_train_rows)",
                n_before,
                keep.shape[0],
            )
            X, y, w = X[keep], y[keep], w[keep]
        k = codec.n_classes
        # the class prior of the training labels under the caller's weights (the target of
        # the prior shift); the blend is scored with the caller's validation weights
        target_prior = class_priors(y, k, w, pseudo_count=1.0)
        w_plain, w_val_plain = w, w_val
        if self.balance_classes:
            w = w * balanced_sample_weights(y, k)
            w_val = w_val * balanced_sample_weights(y_val, k)
        source_prior = class_priors(y, k, w)  # what the experts were trained under
        data = FitData(X, y, w, X_val, y_val, w_val, k)

        provider = self.placement_provider or planned_placements
        placements, workers = provider(experts)
        templates = [copy.deepcopy(e) for e in experts]  # unfitted, for the folds
        for expert, placement in zip(experts, placements, strict=True):
            logger.info(
                "expert %s placed on %s (%d threads): %s",
                expert.name,
                placement.device,
                placement.threads,
                placement.reason or "-",
            )
        outcomes = train_experts(
            experts,
            data,
            placements,
            workers,
            on_expert_done,
            on_start=on_expert_start,
            use_processes=self.use_processes,
            timeout=self.expert_timeout,
            backend=self.backend,
        )
        survivors = [o for o in outcomes if o.ok]
        if not survivors:
            errors = "; ".join(f"{o.expert.name}: {o.error}" for o in outcomes)
            raise RuntimeError(f"every expert failed to train ({errors})")
        alive = [i for i, o in enumerate(outcomes) if o.ok]

        # the stacked blend, on the out-of-fold blocks and the validation block
        val_probas = [o.expert.predict_proba(X_val) for o in survivors]
        blocks = out_of_fold_blocks(
            [templates[i] for i in alive],
            [placements[i] for i in alive],
            workers,
            data,
            w_plain,
            folds=int(self.stacking_folds),
            embargo=self.embargo,
            balance_classes=self.balance_classes,
            use_processes=self.use_processes,
            timeout=self.expert_timeout,
            backend=self.backend,
        )
        blocks.append(PredictionBlock(val_probas, y_val, source_prior, target_prior, w_val_plain))
        cal, calibrated, codes, weights = fit_expert_calibration(blocks, source_prior, target_prior)
        stacker = fit_stacker(calibrated, codes, k, weights, float(self.stacking_C))
        blended = stacker.predict([cal.expert(p, i) for i, p in enumerate(val_probas)])

        self.classes_ = np.asarray(codec.classes, dtype=object)
        self.codec_ = codec
        self.n_features_in_ = int(X.shape[1])
        self.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
        self.experts_ = [o.expert for o in survivors]
        self.calibration_ = cal
        self.stacker_ = stacker
        self.weights_ = stacker.expert_weights()
        self.oof_blocks_ = blocks if self.keep_oof_blocks else None
        self.report_ = self._report(
            outcomes, val_probas, blended, data, n_before, started, len(codes), len(blocks)
        )
        for line in self.report_.lines():  # the FreqAI adapter logs them at INFO, per pair
            logger.debug("%s", line)
        return self

    def _report(
        self,
        outcomes: list[TrainingOutcome],
        val_probas: list[np.ndarray],
        blended: np.ndarray,
        data: FitData,
        n_before: int,
        started: float,
        stacking_rows: int,
        stacking_blocks: int,
    ) -> EnsembleReport:
        y_val = data.y_val
        reports = {}
        survivors = [o for o in outcomes if o.ok]
        for o, p, weight in zip(survivors, val_probas, self.weights_, strict=True):
            reports[id(o.expert)] = ExpertReport(
                o.expert.name,
                o.device or str(o.expert.placement.device),
                o.seconds,
                float(weight),
                log_loss(p, y_val),
                balanced_accuracy(p, y_val),
                worker=o.worker,
                best_iteration=o.expert.best_iteration,
            )
        recent = data.X_val[-self.drift_rows :] if self.drift_rows > 0 else data.X_val[:0]
        drift = None
        if recent.shape[0] >= 10:
            names = self.feature_names
            if names is None or len(names) != data.X.shape[1]:
                names = [f"f{i}" for i in range(data.X.shape[1])]
            drift = feature_drift(data.X, recent, list(names))
            # a WARNING only beyond the drift that consecutive real windows show (drift.py)
            level = logging.WARNING if drift.warn else logging.DEBUG
            logger.log(level, "ensemble: %s", drift.line())
        counts = np.bincount(data.y, minlength=data.n_classes)
        calibration = {
            "method": "stack",
            **self.calibration_.to_dict(),
            "stacking_C": float(self.stacking_C),
            "stacking_rows": stacking_rows,
            "stacking_blocks": stacking_blocks,
        }
        return EnsembleReport(
            experts=[
                reports.get(id(o.expert))
                or ExpertReport(
                    o.expert.name, o.device or "-", o.seconds, error=o.error, worker=o.worker
                )
                for o in outcomes
            ],
            val_log_loss=log_loss(blended, y_val),
            val_balanced_accuracy=balanced_accuracy(blended, y_val),
            n_train=len(data.y),
            n_validation=len(y_val),
            class_counts={
                name: int(n) for name, n in zip(self.codec_.classes, counts, strict=True)
            },
            n_train_before_sampling=n_before,
            drift=drift,
            calibration=calibration,
            wall_seconds=time.perf_counter() - started,
        )

    # -- inference ------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Blended class probabilities, one row per row of ``X`` (columns: ``classes_``).

        A DataFrame's columns are matched by name to the fitted ones (``feature_names_in_``,
        reordered when needed; missing or extra columns: ``ValueError`` naming them); an
        array is taken by position. A row holding NaN or inf gets NaN probabilities, never
        a class: the experts would read it as a real point."""
        if not hasattr(self, "stacker_"):
            raise RuntimeError("the ensemble is not fitted")
        names = getattr(self, "feature_names_in_", None)  # None: pickled before it existed
        names = None if names is None else list(names)
        X = inputs.prediction_features(X, names, self.n_features_in_)
        return inputs.on_finite_rows(self._blend, X, len(self.classes_))

    def _blend(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)  # finite rows (on_finite_rows)
        if all(e.library == "torch" for e in self.experts_):
            probas = [e.predict_proba(X) for e in self.experts_]
        else:  # the compiled forests walk the rows together; they need numba, imported here
            from .experts.forest import predict_experts  # so torch experts run without it

            probas = predict_experts(self.experts_, X, finite=True)
        return self.stacker_.predict(self.calibration_.experts(probas))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row; NaN for a row without probabilities."""
        return self.labels(self.predict_proba(X))

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """The most probable class of each row of ``proba`` (columns ``classes_``); NaN for a
        row without probabilities."""
        ok = np.isfinite(proba).all(axis=1)
        out = np.full(proba.shape[0], np.nan, dtype=object)
        out[ok] = self.codec_.decode(proba[ok].argmax(axis=1))
        return out
