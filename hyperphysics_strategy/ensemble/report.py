"""What a fitted ensemble reports: each expert's device, time, weight and validation scores,
the blend's calibration, the feature drift; as log lines and as JSON for FreqAI's metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .drift import DriftReport


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _float(value: float | None) -> float:
    """``to_dict``'s ``None`` (NaN) back to a float."""
    return float("nan") if value is None else float(value)


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExpertReport:
        return cls(
            d["name"],
            d["device"],
            d["seconds"],
            d["weight"],
            _float(d["val_log_loss"]),
            _float(d["val_balanced_accuracy"]),
            d["error"],
            d["worker"],
            d["best_iteration"],
        )


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
            out.append(
                f"  calibration: stacked logistic model (C {c['stacking_C']}) on "
                f"{c['stacking_rows']} out-of-fold rows from {c['stacking_blocks']} "
                f"block(s); prior {c['source_prior']} -> {c['target_prior']}, expert "
                f"temperatures {c['expert_temperatures']}"
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnsembleReport:
        """The report :meth:`to_dict` wrote (a saved ensemble's, :mod:`.persistence`)."""
        drift = d["drift"]
        if drift is not None:
            psi = drift["psi"]
            drift = DriftReport(
                [_float(v) for v in psi.values()],
                list(psi),
                drift["n_reference"],
                drift["n_recent"],
            )
        return cls(
            experts=[ExpertReport.from_dict(e) for e in d["experts"]],
            val_log_loss=_float(d["val_log_loss"]),
            val_balanced_accuracy=_float(d["val_balanced_accuracy"]),
            n_train=d["n_train"],
            n_validation=d["n_validation"],
            class_counts=dict(d["class_counts"]),
            n_train_before_sampling=d["n_train_before_sampling"],
            drift=drift,
            wall_seconds=d["wall_seconds"],
            calibration=d["calibration"],
        )
