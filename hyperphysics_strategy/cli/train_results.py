"""``hyperphysics train``'s results: the out-of-sample score against the class prior,
plain words for "no signal", and the saved ensemble (``--save`` / ``--load``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .train_data import MIN_ROWS, InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REPORT_FILE = "report.json"
PREDICTIONS_FILE = "out_of_sample_predictions.csv"


def no_signal_lines(report: dict[str, Any]) -> list[str]:
    """Plain words for the report's signs that the experts found nothing."""
    from ..ensemble.calibration import LOG_T_BOUNDS

    bound = math.exp(LOG_T_BOUNDS[1])
    out = []
    temps = (report.get("calibration") or {}).get("expert_temperatures") or []
    at_bound = [
        e["name"]
        for e, t in zip([e for e in report["experts"] if not e.get("error")], temps, strict=False)
        if t is not None and t >= 0.999 * bound
    ]
    if at_bound:
        out.append(
            f"no signal: {', '.join(at_bound)} calibrated at the temperature bound "
            f"({bound:.1f}): their probabilities were flattened to the class prior"
        )
    early = [e["name"] for e in report["experts"] if (e.get("best_iteration") or 99) <= 5]
    if early:
        out.append(
            f"no signal: {', '.join(early)} stopped improving on validation within 5 "
            "rounds (best_iteration <= 5)"
        )
    return out


def log_loss_of(proba: np.ndarray, codes: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (probabilities clipped at 1e-12)."""
    import numpy as np

    p = np.clip(proba[np.arange(codes.shape[0]), codes], 1e-12, 1.0)
    return float(-np.log(p).mean())


@dataclass
class OutOfSample:
    """The ensemble and the class prior scored on the tail rows no model saw."""

    rows: int
    embargo: int
    first_date: str
    ensemble_log_loss: float
    prior_log_loss: float
    prior: dict[str, float]

    @property
    def difference(self) -> float:
        return self.ensemble_log_loss - self.prior_log_loss

    @property
    def skill(self) -> bool:
        return self.difference < 0

    def lines(self) -> list[str]:
        out = [
            f"out-of-sample: the last {self.rows} rows (from {self.first_date}, after a "
            f"{self.embargo}-row embargo), seen by neither the experts nor the stacker",
            f"out-of-sample log-loss: ensemble {self.ensemble_log_loss:.4f}, class prior "
            f"{self.prior_log_loss:.4f}, difference {self.difference:+.4f} (negative: "
            "the ensemble is better)",
        ]
        if not self.skill:
            out.append(
                "no skill over the class prior: on rows it never saw, the ensemble does no "
                "better than always predicting the training class frequencies"
            )
        return out


def split_holdout(n: int, holdout: float, embargo: int) -> tuple[int, int]:
    """``(end of the training rows, start of the out-of-sample tail)``."""
    tail = max(int(round(n * holdout)), 0)
    if tail == 0:
        return n, n
    start = n - tail
    end = start - embargo
    if end < MIN_ROWS or tail < 20:
        raise InputError(
            f"{n} rows leave {max(end, 0)} for training and {tail} out of sample after the "
            f"{embargo}-row embargo; at least {MIN_ROWS} and 20 are needed (more --rows, "
            "or a different --holdout)"
        )
    return end, start


def score_out_of_sample(
    ensemble: Any, X: np.ndarray, labels: np.ndarray, train_labels: np.ndarray, **meta: Any
) -> tuple[OutOfSample, np.ndarray, np.ndarray]:
    """Scores, the ensemble's probabilities and the prior's, on the tail rows."""
    import numpy as np

    classes = list(ensemble.classes_)
    codes = np.array([classes.index(v) for v in labels])
    counts = np.array([(train_labels == c).sum() for c in classes], dtype=float)
    prior = counts / counts.sum()
    proba = ensemble.predict_proba(X)
    prior_proba = np.broadcast_to(prior, proba.shape)
    result = OutOfSample(
        ensemble_log_loss=log_loss_of(proba, codes),
        prior_log_loss=log_loss_of(prior_proba, codes),
        prior=dict(zip(classes, prior.round(6).tolist(), strict=True)),
        **meta,
    )
    return result, proba, prior_proba


def save_ensemble(
    directory: Path,
    ensemble: Any,
    meta: dict[str, Any],
    predictions: pd.DataFrame | None,
) -> list[Path]:
    """The ensemble without a pickle (each expert natively plus ``ensemble.json``,
    :mod:`...ensemble.persistence`), report.json and the out-of-sample predictions, all
    committed together crash-safely (one manifest, one rename)."""
    from ..ensemble.persistence import ENSEMBLE_JSON, staged_ensemble

    weights = zip(ensemble.experts_, ensemble.weights_, strict=True)
    report = {
        **meta,
        "classes": list(ensemble.classes_),
        "weights": {e.name: float(w) for e, w in weights},
        "report": ensemble.report_.to_dict(),
    }
    with staged_ensemble(ensemble, directory) as staging:
        experts = sorted(p.name for p in staging.iterdir() if p.is_dir())
        written = [directory / name for name in experts] + [directory / ENSEMBLE_JSON]
        if predictions is not None:
            predictions.to_csv(staging / PREDICTIONS_FILE, index=False)
            written.append(directory / PREDICTIONS_FILE)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str))
        written.append(directory / REPORT_FILE)
    return written


def check_writable(directory: Path) -> None:
    """Fail before training if ``--save``'s folder cannot be written (it used to fail
    after training, and the trained ensemble was lost): create it and write a probe file
    in it and beside it (where the save is staged), and refuse a folder holding files that
    are not a save (the save replaces the folder whole). Raises :class:`InputError` naming
    the folder and the reason."""
    import tempfile

    from ..engine.manifest import check_replaceable
    from ..ensemble.persistence import MARKERS

    if directory.exists() and not directory.is_dir():
        raise InputError(f"--save {directory}: exists and is not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # the save is staged beside the folder and renamed onto it: both must be writable
        for where in (directory, directory.parent):
            with tempfile.NamedTemporaryFile(dir=where, prefix=".write-check-"):
                pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"--save {directory}: cannot write there ({reason})") from exc
    try:
        check_replaceable(directory, MARKERS)
    except FileExistsError as exc:
        raise InputError(
            f"--save {directory}: holds files that are not a saved ensemble; choose an "
            "empty or new folder"
        ) from exc


#: What ``--load`` reads from report.json (``--save`` writes them).
_REPORT_KEYS = ("pair", "horizon", "last_train_date", "train_labels")


def load_saved(directory: Path) -> tuple[Any, dict[str, Any]]:
    """``--load``: the ensemble ``--save`` wrote (never unpickled) and its report.json.

    Every problem (no such folder, a file, an empty or foreign folder, damaged bytes, an
    older version's pickle, a report without what ``--load`` needs) is an
    :class:`InputError` naming the file and the problem."""
    import pandas as pd

    from ..ensemble import ExpertEnsemble

    if not directory.exists():
        raise InputError(f"no saved ensemble in {directory}: no such folder")
    try:
        ensemble = ExpertEnsemble.load(directory)
    except (ValueError, ImportError) as exc:  # CorruptSaveError is a ValueError
        raise InputError(f"--load: {exc}") from exc
    except Exception as exc:  # a native loader refusing bytes that match the manifest
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            f"--load {directory}: cannot load it ({type(exc).__name__}: {reason})"
        ) from exc
    path = directory / REPORT_FILE
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        missing = [k for k in _REPORT_KEYS if k not in meta]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        pd.Timestamp(meta["last_train_date"])
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--load: {path}: missing or unreadable ({exc})") from exc
    return ensemble, meta
