"""The expert ensemble: encode labels, split, train experts in parallel, blend.

It behaves like a scikit-learn classifier (``predict``, ``predict_proba``,
``classes_``), which is what FreqAI's ``BaseClassifierModel`` expects of the object its
``fit`` returns, and it pickles (FreqAI saves models with joblib).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hyperphysics_strategy.engine.hardware import DevicePlan

from .blending import blend, fit_blend_weights
from .calibration import (
    Calibration,
    PredictionBlock,
    class_priors,
    fit_calibrated_blend,
    fit_expert_calibration,
)
from .crossfit import forward_folds
from .drift import DriftReport, feature_drift
from .experts import Expert, FitData, Placement, make_expert
from .inputs import check_features, check_set, check_weights
from .labels import DEFAULT_CLASSES, LabelCodec
from .metrics import balanced_accuracy, log_loss
from .sampling import stratified_indices
from .splits import time_ordered_split
from .stacking import DEFAULT_C, Stacker, fit_stacker
from .training import ProcessMode, TrainingOutcome, train_experts
from .weights import balanced_sample_weights

logger = logging.getLogger(__name__)

#: Blend methods: ``"stack"`` (stacked logistic model on out-of-fold predictions) or
#: ``"simplex"`` (shrunk simplex weights and one temperature on the validation block).
BLEND_METHODS = ("stack", "simplex")

#: Training backends: ``"local"`` (threads and processes here, :mod:`.training`) or
#: ``"ray"`` (Ray tasks on a cluster, :mod:`.ray_backend`; needs the ``ray`` extra).
BACKENDS = ("local", "ray")

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
    plan = DevicePlan.build([(e.name, e.library) for e in experts], **plan_options)
    placements = [Placement(str(p.device), p.params(), p.threads, p.reason) for p in plan]
    return placements, plan.workers


def _fold_copy(template: Expert) -> Expert:
    """A fresh copy of an unfitted expert for one stacking fold. It predicts its fold
    once, so tree experts skip building and checking their compiled predictor."""
    expert = copy.deepcopy(template)
    if expert.library != "torch":  # numba's forests load only with the tree experts
        from .experts.forest import CompiledTrees

        if isinstance(expert, CompiledTrees):
            expert.params["fast_inference"] = False
    return expert


@dataclass
class ExpertReport:
    """What the ensemble keeps about each expert: validation metrics and blend weight."""

    name: str
    device: str
    seconds: float
    weight: float = 0.0
    val_log_loss: float = float("nan")
    val_balanced_accuracy: float = float("nan")
    error: str | None = None
    worker: str = "thread"
    best_iteration: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "device": self.device,
            "seconds": round(self.seconds, 3),
            "weight": self.weight,
            "val_log_loss": _finite(self.val_log_loss),
            "val_balanced_accuracy": _finite(self.val_balanced_accuracy),
            "error": self.error,
            "worker": self.worker,
            "best_iteration": self.best_iteration,
        }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass
class EnsembleReport:
    experts: list[ExpertReport] = field(default_factory=list)
    val_log_loss: float = float("nan")
    val_balanced_accuracy: float = float("nan")
    n_train: int = 0
    n_validation: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    n_train_before_sampling: int = 0
    drift: DriftReport | None = None
    wall_seconds: float = 0.0
    calibration: dict[str, Any] | None = None

    def lines(self) -> list[str]:
        sampled = (
            f" (stratified sample of {self.n_train_before_sampling})"
            if self.n_train_before_sampling > self.n_train
            else ""
        )
        out = [
            f"ensemble: {self.n_train} training rows{sampled}, {self.n_validation} validation "
            f"rows, classes {self.class_counts}, val log-loss {self.val_log_loss:.4f}, "
            f"balanced accuracy {self.val_balanced_accuracy:.3f}, trained in "
            f"{self.wall_seconds:.1f}s"
        ]
        for e in self.experts:
            if e.error:
                out.append(f"  {e.name:<12} dropped ({e.error})")
            else:
                out.append(
                    f"  {e.name:<12} {e.device:<8} {e.seconds:6.2f}s  weight {e.weight:.3f}  "
                    f"val log-loss {e.val_log_loss:.4f}  bal.acc {e.val_balanced_accuracy:.3f}"
                )
        if self.calibration is not None:
            c = self.calibration
            if c.get("method") == "stack":
                out.append(
                    f"  calibration: stacked logistic model (C {c['stacking_C']}) on "
                    f"{c['stacking_rows']} out-of-fold rows from {c['stacking_blocks']} "
                    f"block(s); prior {c['source_prior']} -> {c['target_prior']}, expert "
                    f"temperatures {c['expert_temperatures']}"
                )
            else:
                out.append(
                    f"  calibration: prior {c['source_prior']} -> {c['target_prior']}, weight "
                    f"shrinkage {c['shrinkage']:.2f}, temperature {c['temperature']:.3f}"
                )
        if self.drift is not None:
            out.append(self.drift.line())
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (NaN as ``None``), e.g. for FreqAI's model metadata."""
        return {
            "val_log_loss": _finite(self.val_log_loss),
            "val_balanced_accuracy": _finite(self.val_balanced_accuracy),
            "n_train": self.n_train,
            "n_train_before_sampling": self.n_train_before_sampling,
            "n_validation": self.n_validation,
            "class_counts": dict(self.class_counts),
            "wall_seconds": round(self.wall_seconds, 3),
            "experts": [e.to_dict() for e in self.experts],
            "drift": self.drift.to_dict() if self.drift is not None else None,
            "calibration": self.calibration,
        }


class ExpertEnsemble:
    """Ensemble of named experts whose validation probabilities are blended."""

    def __init__(
        self,
        experts: Sequence[str | Expert] = ("lightgbm", "xgboost"),
        expert_params: dict[str, dict[str, Any]] | None = None,
        classes: Sequence[str] = DEFAULT_CLASSES,
        validation_fraction: float = 0.15,
        embargo: int = 0,
        balance_classes: bool = True,
        seed: int = 0,
        placement_provider: PlacementProvider | None = None,
        *,
        max_train_rows: int | None = 500_000,
        drift_rows: int = 500,
        feature_names: Sequence[str] | None = None,
        use_processes: ProcessMode = None,
        expert_timeout: float | None = None,
        calibrate: bool = True,
        blend_method: str = "stack",
        stacking_folds: int = 3,
        stacking_C: float = DEFAULT_C,
        keep_oof_blocks: bool = False,
        backend: str = "local",
    ) -> None:
        if not experts:
            raise ValueError("an ensemble needs at least one expert")
        if blend_method not in BLEND_METHODS:
            raise ValueError(f"blend_method must be one of {BLEND_METHODS}, got {blend_method!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if int(stacking_folds) < 0:
            raise ValueError(f"stacking_folds must be >= 0, got {stacking_folds}")
        if not float(stacking_C) > 0:
            raise ValueError(f"stacking_C must be positive, got {stacking_C}")
        expert_params = expert_params or {}
        self.experts: list[Expert] = [
            e if isinstance(e, Expert) else make_expert(e, expert_params.get(e), seed + i)
            for i, e in enumerate(experts)
        ]
        self.codec = LabelCodec(classes)
        self.validation_fraction = validation_fraction
        self.embargo = embargo
        self.balance_classes = balance_classes
        self.seed = seed
        self.placement_provider = placement_provider
        self.max_train_rows = max_train_rows
        self.drift_rows = drift_rows
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.use_processes = use_processes
        self.expert_timeout = expert_timeout
        self.calibrate = calibrate
        self.blend_method = blend_method
        self.stacking_folds = int(stacking_folds)
        self.stacking_C = float(stacking_C)
        self.backend = backend
        self.weights: np.ndarray | None = None
        self.calibration: Calibration | None = None
        self.stacker: Stacker | None = None
        self.stacking_rows = 0
        self.stacking_blocks = 0
        #: keep the out-of-fold blocks of the last fit in ``oof_blocks`` (diagnostics and
        #: benchmarks; off by default: FreqAI holds every pair's model in memory)
        self.keep_oof_blocks = keep_oof_blocks
        self.oof_blocks: list[PredictionBlock] | None = None
        self.report = EnsembleReport()

    # scikit-learn style attribute FreqAI reads to name the probability columns
    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.codec.classes, dtype=object)

    def __bool__(self) -> bool:  # FreqAI tests ``if not model``: never be falsy
        return True

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["oof_blocks"] = None  # training-time diagnostics stay out of FreqAI's joblib
        return state

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
        """Train all experts, drop the failed ones, fit the blend weights on validation.

        Without ``X_val`` the last ``validation_fraction`` of the rows (after an embargo)
        validate. Training rows beyond ``max_train_rows`` are stratified-sampled. The PSI
        of every feature between the training rows and the ``drift_rows`` most recent
        rows (the end of the validation set) goes into ``report.drift`` and the log.
        """
        started = time.perf_counter()
        X = check_features(X, "training")
        y = self.codec.encode(labels)
        w = check_weights(sample_weight, X.shape[0], "training")
        if X_val is None or labels_val is None:
            check_set(X, y, w, self.codec.classes, "training")
            train_idx, val_idx = time_ordered_split(len(y), self.validation_fraction, self.embargo)
            X_val, y_val, w_val = X[val_idx], y[val_idx], w[val_idx]
            X, y, w = X[train_idx], y[train_idx], w[train_idx]
        else:
            X_val = check_features(X_val, "validation")
            y_val = self.codec.encode(labels_val)
            w_val = check_weights(sample_weight_val, X_val.shape[0], "validation")
        check_set(X, y, w, self.codec.classes, "training")
        check_set(X_val, y_val, w_val, self.codec.classes, "validation")
        n_before = len(y)
        keep = stratified_indices(y, self.max_train_rows, self.seed)
        if keep.shape[0] < n_before:
            logger.info(
                "ensemble: %d training rows, stratified sample of %d kept (max_train_rows)",
                n_before,
                keep.shape[0],
            )
            X, y, w = X[keep], y[keep], w[keep]
        k = self.codec.n_classes
        # the class prior of the training labels under the caller's weights (the target of
        # the prior shift) and the validation weights the blend is scored with: plain ones
        target_prior = class_priors(y, k, w, pseudo_count=1.0)
        w_plain, w_blend = w, w_val
        if self.balance_classes:
            w = w * balanced_sample_weights(y, k)
            w_val = w_val * balanced_sample_weights(y_val, k)
        source_prior = class_priors(y, k, w)  # what the experts were trained under
        data = FitData(X, y, w, X_val, y_val, w_val, k)

        provider = self.placement_provider or planned_placements
        placements, workers = provider(self.experts)
        templates = [copy.deepcopy(e) for e in self.experts]  # unfitted, for the folds
        for expert, placement in zip(self.experts, placements, strict=True):
            logger.info(
                "expert %s placed on %s (%d threads): %s",
                expert.name,
                placement.device,
                placement.threads,
                placement.reason or "-",
            )
        outcomes = self._train_experts()(
            self.experts,
            data,
            placements,
            workers,
            on_expert_done,
            on_start=on_expert_start,
            use_processes=self.use_processes,
            timeout=self.expert_timeout,
        )
        survivors = [o for o in outcomes if o.ok]
        if not survivors:
            errors = "; ".join(f"{o.expert.name}: {o.error}" for o in outcomes)
            raise RuntimeError(f"every expert failed to train ({errors})")

        val_probas = [o.expert.predict_proba(X_val) for o in survivors]
        self.experts = [o.expert for o in survivors]
        if self.calibrate and self.blend_method == "stack":
            alive = [i for i, o in enumerate(outcomes) if o.ok]
            blocks = self._out_of_fold_blocks(
                [templates[i] for i in alive],
                [placements[i] for i in alive],
                workers,
                X,
                y,
                w_plain,
            )
            blocks.append(PredictionBlock(val_probas, y_val, source_prior, target_prior, w_blend))
            blended = self._fit_stacked_blend(blocks, val_probas, source_prior, target_prior)
        else:
            self.stacker = None
            self.calibration, self.weights, blended = self._fit_calibrated_blend(
                val_probas, y_val, w_blend if self.calibrate else w_val, source_prior, target_prior
            )

        reports = {}
        for o, p, weight in zip(survivors, val_probas, self.weights, strict=True):
            reports[id(o.expert)] = ExpertReport(
                o.expert.name,
                o.device or o.expert.placement.device,
                o.seconds,
                float(weight),
                log_loss(p, y_val),
                balanced_accuracy(p, y_val),
                worker=o.worker,
                best_iteration=o.expert.best_iteration,
            )
        recent = X_val[-self.drift_rows :] if self.drift_rows > 0 else X_val[:0]
        drift = None
        if recent.shape[0] >= 10:
            names = self.feature_names
            if names is None or len(names) != X.shape[1]:
                names = [f"f{i}" for i in range(X.shape[1])]
            drift = feature_drift(X, recent, names)
            if drift.status == "major":
                logger.warning("ensemble: %s", drift.line())
        self.report = EnsembleReport(
            experts=[
                reports.get(id(o.expert))
                or ExpertReport(
                    o.expert.name, o.device or "-", o.seconds, error=o.error, worker=o.worker
                )
                for o in outcomes
            ],
            val_log_loss=log_loss(blended, y_val),
            val_balanced_accuracy=balanced_accuracy(blended, y_val),
            n_train=len(y),
            n_validation=len(y_val),
            class_counts={
                name: int(n)
                for name, n in zip(
                    self.codec.classes, np.bincount(y, minlength=self.codec.n_classes), strict=True
                )
            },
            n_train_before_sampling=n_before,
            drift=drift,
            calibration=self._calibration_summary(),
            wall_seconds=time.perf_counter() - started,
        )
        for line in self.report.lines():  # the FreqAI adapter logs them at INFO, per pair
            logger.debug("%s", line)
        return self

    def _train_experts(self) -> Callable[..., list[TrainingOutcome]]:
        if getattr(self, "backend", "local") == "ray":  # older pickles: local
            from .ray_backend import train_experts as train_on_ray

            return train_on_ray
        return train_experts

    def _out_of_fold_blocks(
        self,
        templates: list[Expert],
        placements: list[Placement],
        workers: int,
        X: np.ndarray,
        y: np.ndarray,
        w_plain: np.ndarray,
    ) -> list[PredictionBlock]:
        """Train fresh copies of the experts on forward-chaining folds of the training
        rows and return their predictions for the rows that follow each fold.

        A fold in which any copy fails is left out (the blend needs every expert's
        prediction on a row).
        """
        k = self.codec.n_classes
        folds = forward_folds(len(y), self.stacking_folds, self.embargo)
        blocks = []
        for n, fold in enumerate(folds, 1):
            y_fit, y_pred = y[fold.fit], y[fold.predict]
            if np.unique(y_fit).size < 2:
                logger.info("stacking fold %d/%d skipped: one class in its rows", n, len(folds))
                continue
            w_fit, w_pred = w_plain[fold.fit], w_plain[fold.predict]
            if self.balance_classes:
                w_fit = w_fit * balanced_sample_weights(y_fit, k)
                w_pred = w_pred * balanced_sample_weights(y_pred, k)
            data = FitData(X[fold.fit], y_fit, w_fit, X[fold.predict], y_pred, w_pred, k)
            started = time.perf_counter()
            outcomes = self._train_experts()(
                [_fold_copy(t) for t in templates],
                data,
                placements,
                workers,
                use_processes=self.use_processes,
                timeout=self.expert_timeout,
            )
            failed = [f"{o.expert.name}: {o.error}" for o in outcomes if not o.ok]
            if failed:
                logger.warning(
                    "stacking fold %d/%d left out (%s)", n, len(folds), "; ".join(failed)
                )
                continue
            blocks.append(
                PredictionBlock(
                    [o.expert.predict_proba(X[fold.predict]) for o in outcomes],
                    y_pred,
                    class_priors(y_fit, k, w_fit),
                    class_priors(y_fit, k, w_plain[fold.fit], pseudo_count=1.0),
                    w_plain[fold.predict],
                )
            )
            logger.info(
                "stacking fold %d/%d: experts trained on %d rows predicted the next %d in %.1fs",
                n,
                len(folds),
                len(y_fit),
                len(y_pred),
                time.perf_counter() - started,
            )
        return blocks

    def _fit_stacked_blend(
        self,
        blocks: list[PredictionBlock],
        val_probas: list[np.ndarray],
        source_prior: np.ndarray,
        target_prior: np.ndarray,
    ) -> np.ndarray:
        """Per-expert calibration and the stacked logistic model on the pooled blocks;
        returns the calibrated validation probabilities."""
        self.oof_blocks = blocks if self.keep_oof_blocks else None
        cal, calibrated, codes, weights = fit_expert_calibration(blocks, source_prior, target_prior)
        self.calibration = cal
        self.stacker = fit_stacker(
            calibrated, codes, self.codec.n_classes, weights, self.stacking_C
        )
        self.weights = self.stacker.expert_weights()
        self.stacking_rows = int(codes.shape[0])
        self.stacking_blocks = len(blocks)
        return self.stacker.predict([cal.expert(p, i) for i, p in enumerate(val_probas)])

    def _fit_calibrated_blend(
        self,
        val_probas: list[np.ndarray],
        y_val: np.ndarray,
        w_val: np.ndarray,
        source_prior: np.ndarray,
        target_prior: np.ndarray,
    ) -> tuple[Calibration | None, np.ndarray, np.ndarray]:
        """Prior shift, shrunk simplex weights, tempering: all on the validation block.

        Returns ``(calibration, weights, calibrated validation probabilities)``; with
        ``calibrate=False`` the historical blend (weights fitted on the raw probabilities
        with the class-balanced validation weights, no shrinkage, no calibration).
        """
        if not self.calibrate:
            weights = fit_blend_weights(val_probas, y_val, w_val)
            return None, weights, blend(val_probas, weights)
        return fit_calibrated_blend(
            val_probas, y_val, source_prior, target_prior, w_val, gap=self.embargo
        )

    def _calibration_summary(self) -> dict[str, Any] | None:
        if self.calibration is None:
            return None
        out: dict[str, Any] = {"method": "simplex", **self.calibration.to_dict()}
        if self.stacker is not None:
            out.update(
                method="stack",
                stacking_C=self.stacking_C,
                stacking_rows=self.stacking_rows,
                stacking_blocks=self.stacking_blocks,
            )
        return out

    # -- inference ------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("the ensemble is not fitted")
        X = np.ascontiguousarray(X, dtype=np.float32)
        cal: Calibration | None = getattr(self, "calibration", None)  # older pickles: none
        stacker: Stacker | None = getattr(self, "stacker", None)
        if stacker is not None and cal is not None:
            return stacker.predict(
                [cal.expert(e.predict_proba(X), i) for i, e in enumerate(self.experts)]
            )
        active = [(e, w) for e, w in zip(self.experts, self.weights, strict=True) if w > 1e-6]
        probas = [e.predict_proba(X) for e, _ in active]
        if cal is None:
            return blend(probas, np.array([w for _, w in active]))
        blended = blend([cal.shift(p) for p in probas], np.array([w for _, w in active]))
        return cal.finish(blended)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.codec.decode(self.predict_proba(X).argmax(axis=1))
