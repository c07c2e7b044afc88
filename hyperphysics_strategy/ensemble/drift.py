"""Feature drift between the training rows and the most recent rows, by PSI.

The population stability index of one feature compares its distribution in a reference
sample (training) with a recent sample over ``bins`` quantile bins of the reference::

    PSI = sum_b (recent_b - train_b) * ln(recent_b / train_b)

with ``train_b``/``recent_b`` the shares of rows in bin ``b`` (floored at 1e-4 so empty
bins stay finite). Conventional reading, used for the status:

* PSI < 0.1: stable;
* 0.1 <= PSI < 0.25: moderate shift, worth watching;
* PSI >= 0.25: major shift in that feature.

Between consecutive windows of real candles many features shift that much (volatility
and volume levels, the day of the week or the 1h features over a short recent sample): on
the shared Binance 5m candles with the example config's 5m and 1h features, the median
window has 64% of the features at PSI >= 0.25, the 99th percentile 82%
(``benchmarks/studies/drift_calibration.py --informative 1h``; 5m features alone: 40% and 70%).
So the drift WARNING (:attr:`DriftReport.warn`) fires only when more than
:data:`WARN_SHARE` of the features are in major shift: the model then sees inputs unlike
what a retraining normally meets. Below it the line is only part of the training report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODERATE = 0.1
MAJOR = 0.25
FLOOR = 1e-4
#: The drift WARNING fires when more than this share of the features is at PSI >= MAJOR;
#: below it the drift line is logged at INFO. Calibrated by benchmarks/studies/drift_calibration.py
#: (see its docstring and docs/ensemble.md).
WARN_SHARE = 0.85


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """PSI of one feature (1-D samples); quantile bins of ``reference``."""
    reference = np.asarray(reference, dtype=np.float64)
    recent = np.asarray(recent, dtype=np.float64)
    reference = reference[np.isfinite(reference)]
    recent = recent[np.isfinite(recent)]
    if reference.size == 0 or recent.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1
    )
    new_share = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=edges.size + 1)
    p = np.maximum(ref_share / reference.size, FLOOR)
    q = np.maximum(new_share / recent.size, FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class DriftReport:
    """PSI per feature between training rows and recent rows, and a summary."""

    psi: list[float] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    n_reference: int = 0
    n_recent: int = 0

    @property
    def max_psi(self) -> float:
        finite = [v for v in self.psi if np.isfinite(v)]
        return max(finite) if finite else float("nan")

    @property
    def n_moderate(self) -> int:
        return sum(MODERATE <= v < MAJOR for v in self.psi)

    @property
    def n_major(self) -> int:
        return sum(v >= MAJOR for v in self.psi)

    @property
    def major_share(self) -> float:
        """Share of the features (with a finite PSI) at PSI >= MAJOR; 0 with none."""
        finite = int(np.isfinite(np.asarray(self.psi, float)).sum())
        return float(self.n_major / finite) if finite else 0.0

    @property
    def warn(self) -> bool:
        """Drift beyond what consecutive windows of real candles show (:data:`WARN_SHARE`)."""
        return bool(self.major_share > WARN_SHARE)

    @property
    def status(self) -> str:
        if self.n_major:
            return "major"
        return "moderate" if self.n_moderate else "stable"

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort([-(v if np.isfinite(v) else -1.0) for v in self.psi])[:k]
        return [(self.feature_names[i], self.psi[i]) for i in order]

    def line(self) -> str:
        tops = ", ".join(f"{name} {value:.3f}" for name, value in self.top())
        verdict = (
            f"beyond the {WARN_SHARE:.0%} that consecutive windows of real candles reach"
            if self.warn
            else f"within the {WARN_SHARE:.0%} that consecutive windows of real candles reach"
        )
        return (
            f"feature drift (PSI, {self.n_reference} training vs {self.n_recent} recent rows): "
            f"{self.status}; max {self.max_psi:.3f}, {self.n_major} feature(s) >= {MAJOR} "
            f"({self.major_share:.0%}, {verdict}), "
            f"{self.n_moderate} in [{MODERATE}, {MAJOR}); top: {tops}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "max_psi": _finite(self.max_psi),
            "n_major": self.n_major,
            "n_moderate": self.n_moderate,
            "major_share": self.major_share,
            "warn": self.warn,
            "n_reference": self.n_reference,
            "n_recent": self.n_recent,
            "thresholds": {"moderate": MODERATE, "major": MAJOR, "warn_share": WARN_SHARE},
            "psi": {n: _finite(v) for n, v in zip(self.feature_names, self.psi, strict=True)},
        }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def feature_drift(
    reference: np.ndarray,
    recent: np.ndarray,
    feature_names: list[str] | None = None,
    bins: int = 10,
) -> DriftReport:
    """PSI of every column of ``recent`` against the same column of ``reference``."""
    reference = np.asarray(reference)
    recent = np.asarray(recent)
    names = feature_names or [f"f{i}" for i in range(reference.shape[1])]
    values = [psi(reference[:, j], recent[:, j], bins) for j in range(reference.shape[1])]
    return DriftReport(values, list(names), reference.shape[0], recent.shape[0])
