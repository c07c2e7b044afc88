"""Export a fitted ensemble: one ONNX file per expert, the blend, ``model.json`` and a
standalone ``predict.py``, each model checked against the native one first.

The folder (written crash-safely: a staging folder, the package's sha256 ``manifest.json``
last, one rename; :mod:`...engine.manifest`)::

    OUT/
      experts/00_lightgbm.onnx ...   features (float32, n x F) -> probabilities (n x K)
      blend.onnx                     p0 .. p{E-1} -> probabilities (double, n x K)
      model.json                     features (names, order), classes, label configuration,
                                     experts (file, converter, sha256, parity), blend,
                                     the whole ensemble's parity, versions
      predict.py                     onnxruntime + numpy only (:mod:`.standalone`)
      manifest.json                  sha256 and size of every file

Each expert's converters are tried in order (:mod:`.trees`, :mod:`.networks`); the first
whose probabilities match the expert's own predictor within :data:`.parity.TOLERANCE` on
the parity rows is kept. An expert none of them matches is named, with every converter's
reason, in ``not_exported``; without all experts the blend cannot run, so the folder then
holds the experts that did export and no blend (``complete: false``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hyperphysics_strategy.engine.manifest import staged_directory

from .. import inputs
from .blend import blend_to_onnx
from .extra import require
from .graph import session
from .networks import network_candidates
from .parity import TOLERANCE, max_difference, native_proba, parity_rows
from .trees import tree_candidates

#: ``model.json``'s name and format (``standalone.py`` holds its own copy: it imports
#: nothing of this package)
MANIFEST = "model.json"
FORMAT = 1
VERSIONED = (
    "hyperphysics-strategy", "numpy", "onnx", "onnxruntime", "onnxmltools", "skl2onnx",
    "torch", "lightgbm", "xgboost", "catboost",
)  # fmt: skip


@dataclass
class ExpertExport:
    """One expert's export: the converter kept and its parity, or why none was."""

    name: str
    file: str | None = None
    converter: str | None = None
    max_abs_diff: float | None = None
    rows: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.converter is not None


@dataclass
class ExportReport:
    """What :func:`export_ensemble` wrote and measured."""

    directory: Path
    experts: list[ExpertExport]
    blend_max_abs_diff: float | None = None
    ensemble_max_abs_diff: float | None = None
    ensemble_rows: int = 0
    tolerance: float = TOLERANCE

    @property
    def complete(self) -> bool:
        return all(e.ok for e in self.experts) and self.ensemble_max_abs_diff is not None

    def lines(self) -> list[str]:
        out = []
        for e in self.experts:
            if e.ok:
                out.append(
                    f"{e.name}: {e.converter}, max |dp| {e.max_abs_diff:.2g} on {e.rows} rows "
                    f"({e.seconds:.2f} s)"
                )
            else:
                out.append(f"{e.name}: NOT EXPORTED ({'; '.join(e.failures)})")
        if self.ensemble_max_abs_diff is not None:
            out.append(
                f"blend: max |dp| {self.blend_max_abs_diff:.2g}; whole ensemble: max |dp| "
                f"{self.ensemble_max_abs_diff:.2g} on {self.ensemble_rows} rows "
                f"(tolerance {self.tolerance:g})"
            )
        else:
            out.append("blend: not exported (it needs every expert)")
        return out


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _candidates(expert: Any) -> list:
    return network_candidates(expert) if expert.library == "torch" else tree_candidates(expert)


def export_expert(
    expert: Any, X: np.ndarray | None, tolerance: float = TOLERANCE
) -> tuple[ExpertExport, Any]:
    """The first of ``expert``'s ONNX models that passes the parity check (or None), and the
    record of what was tried."""
    started = time.perf_counter()
    result = ExpertExport(expert.name)
    rows = parity_rows(expert, X)
    native = native_proba(expert, rows)
    for converter, build in _candidates(expert):
        try:
            model = build(expert)
            onnx_proba = session(model.SerializeToString()).run(None, {"features": rows})[0]
        except Exception as exc:  # a converter's failure is a reason, never a crash
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            result.failures.append(f"{converter}: {type(exc).__name__}: {reason}"[:300])
            continue
        diff = max_difference(onnx_proba, native)
        if diff <= tolerance:
            result.converter, result.max_abs_diff, result.rows = converter, diff, len(rows)
            result.seconds = time.perf_counter() - started
            return result, model
        result.failures.append(f"{converter}: max |dp| {diff:.3g} > {tolerance:g}")
    result.seconds = time.perf_counter() - started
    return result, None


def _ensemble_rows(ensemble: Any, X: np.ndarray | None, n: int = 512) -> np.ndarray:
    """Finite rows for the end-to-end check: the given rows, then each expert's parity rows."""
    parts = [] if X is None else [X]
    parts += [parity_rows(e, None, n=128) for e in ensemble.experts_]
    rows = np.concatenate(parts).astype(np.float32)
    rows = rows[np.isfinite(rows).all(axis=1)]
    return np.ascontiguousarray(rows[:n] if X is None else rows[: max(n, len(X))])


def export_ensemble(
    ensemble: Any,
    directory: str | Path,
    X: np.ndarray | None = None,
    *,
    labels: dict[str, Any] | None = None,
    source: str | None = None,
    tolerance: float = TOLERANCE,
) -> ExportReport:
    """Export the fitted ``ensemble`` to ``directory`` (see the module doc).

    ``X``: held-out rows (features in the fitted order) added to the parity rows;
    ``labels``: the label configuration recorded in ``model.json``; ``source``: where the
    ensemble was loaded from (recorded). Needs the ``onnx`` extra (``ImportError`` naming it).
    """
    onnx = require("onnx")
    require("onnxruntime")
    if not hasattr(ensemble, "stacker_"):
        raise RuntimeError("the ensemble is not fitted: nothing to export")
    names = getattr(ensemble, "feature_names_in_", None)
    names = None if names is None else [str(n) for n in names]
    if X is not None:
        X = inputs.prediction_features(X, names, ensemble.n_features_in_)
        X = X[np.isfinite(X).all(axis=1)]
    directory = Path(directory)
    results, models = [], []
    for expert in ensemble.experts_:
        result, model = export_expert(expert, X, tolerance)
        results.append(result)
        models.append(model)
    report = ExportReport(directory, results, tolerance=tolerance)
    blend = None
    if all(m is not None for m in models):
        blend = blend_to_onnx(ensemble.calibration_, ensemble.stacker_, len(ensemble.classes_))
        rows = _ensemble_rows(ensemble, X)
        sessions = [session(m.SerializeToString()) for m in models]
        onnx_probas = [s.run(None, {"features": rows})[0] for s in sessions]
        native_probas = [native_proba(e, rows) for e in ensemble.experts_]
        blend_session = session(blend.SerializeToString())
        feeds = {f"p{i}": p.astype(np.float32) for i, p in enumerate(native_probas)}
        cal = ensemble.calibration_
        blended = ensemble.stacker_.predict([cal.expert(p, i) for i, p in enumerate(native_probas)])
        report.blend_max_abs_diff = max_difference(blend_session.run(None, feeds)[0], blended)
        end_to_end = blend_session.run(None, {f"p{i}": p for i, p in enumerate(onnx_probas)})[0]
        # the native ensemble on these finite rows (a serving path installed is bypassed)
        report.ensemble_max_abs_diff = max_difference(end_to_end, blended)
        report.ensemble_rows = len(rows)
    _write(directory, ensemble, names, results, models, blend, report, labels, source, onnx)
    return report


def _write(directory, ensemble, names, results, models, blend, report, labels, source, onnx):
    standalone = Path(__file__).with_name("standalone.py").read_text()
    with staged_directory(directory, markers=(MANIFEST,)) as staging:
        (staging / "experts").mkdir()
        experts = []
        for i, (result, model) in enumerate(zip(results, models, strict=True)):
            if model is None:
                continue
            result.file = f"experts/{i:02d}_{result.name}.onnx"
            onnx.save(model, str(staging / result.file))
            experts.append({**_entry(staging, result.file), **asdict(result)})
        blend_entry = None
        if blend is not None:
            onnx.save(blend, str(staging / "blend.onnx"))
            blend_entry = {**_entry(staging, "blend.onnx"), "inputs": len(models)}
        manifest = {
            "format": FORMAT,
            "complete": report.complete,
            "source": source,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "features": {"names": names, "count": int(ensemble.n_features_in_),
                         "dtype": "float32", "non_finite_rows": "NaN probabilities"},
            "classes": [str(c) for c in ensemble.classes_],
            "labels": labels,
            "experts": experts,
            "not_exported": [
                {"name": r.name, "reasons": r.failures} for r in results if not r.ok
            ],
            "blend": blend_entry,
            "parity": {
                "tolerance": report.tolerance,
                "blend_max_abs_diff": report.blend_max_abs_diff,
                "ensemble_max_abs_diff": report.ensemble_max_abs_diff,
                "ensemble_rows": report.ensemble_rows,
            },
            "versions": _versions(),
        }  # fmt: skip
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        (staging / "predict.py").write_text(standalone)


def _entry(staging: Path, name: str) -> dict[str, Any]:
    data = (staging / name).read_bytes()
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
