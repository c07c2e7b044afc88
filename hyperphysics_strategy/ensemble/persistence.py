"""An :class:`~.ensemble.ExpertEnsemble` saved without a pickle: its experts in their
libraries' native formats, the ensemble's own fitted state as JSON.

A saved folder (``ExpertEnsemble.save(dir)``; ``hyperphysics train --save`` adds
``report.json`` and the out-of-sample predictions to the same commit)::

    dir/
      ensemble.json    format, constructor parameters, classes, feature count, the
                       experts' folders in blend order, the calibration (priors and
                       temperatures), the stacker's coefficients and intercepts, the report
      <expert>/        Expert.save: model.txt / model.ubj / model.cbm / model.pt, meta.json
                       and its own manifest.json
      manifest.json    sha256 and size of every file above, written last

It is written as an expert's save is (:mod:`..engine.manifest`: a staging folder, the
manifest last, one rename). :func:`load_ensemble` verifies the whole folder against the
manifest (a file it does not list is refused too), validates ``ensemble.json`` (unknown or
missing keys, wrong types, shapes that do not fit together: a :class:`CorruptSaveError`
naming the file) and loads each expert natively. Nothing is unpickled: torch weights are
read with ``weights_only=True``, and ``ensemble.joblib``, the pickle older versions wrote,
is refused without being opened.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperphysics_strategy.engine.manifest import (
    MANIFEST,
    CorruptSaveError,
    recover,
    staged_directory,
    verify_manifest,
)

from .calibration import Calibration
from .experts import EXPERT_REGISTRY, Expert
from .labels import LabelCodec
from .report import EnsembleReport
from .stacking import Stacker

#: ensemble.py imports this module, so its class is passed in, never imported here.
ExpertEnsemble = Any

ENSEMBLE_JSON = "ensemble.json"
#: What older versions wrote (a joblib pickle): recognised and replaced, never loaded.
LEGACY_PICKLE = "ensemble.joblib"
#: Files that mark an older save a new one may replace (:func:`staged_directory`).
MARKERS = (ENSEMBLE_JSON, LEGACY_PICKLE, "report.json")
FORMAT = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SavedExpert(_Strict):
    name: str
    folder: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _SavedCalibration(_Strict):
    source_prior: list[float]
    target_prior: list[float]
    expert_temperatures: list[float]


class _SavedStacker(_Strict):
    coef: list[list[float]]
    intercept: list[float | None]  # None: -inf, a class absent from the stacker's rows
    C: float


class SavedEnsemble(_Strict):
    """The schema of ``ensemble.json``."""

    format: Literal[1]
    params: dict[str, Any]
    classes: list[str] = Field(min_length=2)
    n_features: int = Field(ge=1)
    #: the fitted column names (``feature_names_in_``); None: matched by position
    feature_names_in: list[str] | None = None
    experts: list[_SavedExpert] = Field(min_length=1)
    calibration: _SavedCalibration
    stacker: _SavedStacker
    report: dict[str, Any] | None = None


def _params(ensemble: ExpertEnsemble) -> dict[str, Any]:
    params = ensemble.get_params()
    params.pop("placement_provider")  # a callable: the loader's machine decides
    params["experts"] = [e if isinstance(e, str) else e.name for e in ensemble.experts]
    params["classes"] = list(params["classes"])
    if params["feature_names"] is not None:
        params["feature_names"] = list(params["feature_names"])
    return params


def _names(ensemble: ExpertEnsemble) -> list[str] | None:
    names = getattr(ensemble, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _folders(experts: list[Expert]) -> list[str]:
    names = [e.name for e in experts]
    return [n if names.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(names)]


def write_ensemble(ensemble: ExpertEnsemble, folder: Path) -> None:
    """Write a fitted ensemble's experts and ``ensemble.json`` into ``folder`` (a staging
    folder: :func:`staged_ensemble` adds the manifest and commits it)."""
    if not hasattr(ensemble, "stacker_"):
        raise RuntimeError("the ensemble is not fitted: nothing to save")
    folder = Path(folder)
    folders = _folders(ensemble.experts_)
    for expert, name in zip(ensemble.experts_, folders, strict=True):
        expert.save(folder / name)
    cal, stacker = ensemble.calibration_, ensemble.stacker_
    state = {
        "format": FORMAT,
        "params": _params(ensemble),
        "classes": [str(c) for c in ensemble.classes_],
        "n_features": int(ensemble.n_features_in_),
        "feature_names_in": _names(ensemble),
        "experts": [
            {"name": e.name, "folder": f} for e, f in zip(ensemble.experts_, folders, strict=True)
        ],
        "calibration": {
            "source_prior": np.asarray(cal.source_prior, float).tolist(),
            "target_prior": np.asarray(cal.target_prior, float).tolist(),
            "expert_temperatures": np.asarray(cal.expert_temperatures, float).tolist(),
        },
        "stacker": {
            "coef": np.asarray(stacker.coef, float).tolist(),
            "intercept": [None if v == -np.inf else v for v in stacker.intercept.tolist()],
            "C": float(stacker.C),
        },
        "report": ensemble.report_.to_dict() if getattr(ensemble, "report_", None) else None,
    }
    (folder / ENSEMBLE_JSON).write_text(json.dumps(state, indent=1, allow_nan=False))


@contextlib.contextmanager
def staged_ensemble(ensemble: ExpertEnsemble, directory: Path) -> Iterator[Path]:
    """Write the ensemble into a staging folder and yield it (add more files there); on a
    clean exit the manifest is written and the folder committed onto ``directory``."""
    with staged_directory(Path(directory), markers=MARKERS) as staging:
        write_ensemble(ensemble, staging)
        yield staging


def save_ensemble(ensemble: ExpertEnsemble, directory: Path) -> None:
    """``ExpertEnsemble.save``: the experts natively plus ``ensemble.json``, crash-safely."""
    with staged_ensemble(ensemble, directory):
        pass


def _read_state(directory: Path) -> SavedEnsemble:
    path = directory / ENSEMBLE_JSON
    if not path.is_file():
        raise CorruptSaveError(path, "missing: not a saved ensemble")
    try:
        return SavedEnsemble.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        raise CorruptSaveError(path, f"not a saved ensemble's state ({problems})") from None


def _check_shapes(path: Path, state: SavedEnsemble) -> None:
    k, e = len(state.classes), len(state.experts)
    cal, stacker = state.calibration, state.stacker
    shapes = {
        "calibration.source_prior": (len(cal.source_prior), k),
        "calibration.target_prior": (len(cal.target_prior), k),
        "calibration.expert_temperatures": (len(cal.expert_temperatures), e),
        "stacker.intercept": (len(stacker.intercept), k),
        "stacker.coef rows": (len(stacker.coef), k),
    }
    shapes.update({f"stacker.coef[{i}]": (len(r), e * k) for i, r in enumerate(stacker.coef)})
    for field, (got, want) in shapes.items():
        if got != want:
            raise CorruptSaveError(
                path, f"{field} has {got} values for {k} classes and {e} experts ({want})"
            )
    names = state.feature_names_in
    if names is not None and len(names) != state.n_features:
        raise CorruptSaveError(
            path, f"feature_names_in has {len(names)} names for {state.n_features} features"
        )
    folders = [x.folder for x in state.experts]
    if len(set(folders)) != len(folders):
        raise CorruptSaveError(path, f"an expert folder is named twice in {folders}")
    unknown = [x.name for x in state.experts if x.name not in EXPERT_REGISTRY]
    if unknown:
        raise CorruptSaveError(path, f"unknown expert(s) {unknown}")


def _load_experts(directory: Path, state: SavedEnsemble) -> list[Expert]:
    experts = []
    for entry in state.experts:
        expert = EXPERT_REGISTRY[entry.name].load(directory / entry.folder)
        if (expert.n_classes, expert.n_features) != (len(state.classes), state.n_features):
            raise CorruptSaveError(
                directory / entry.folder,
                f"an expert for {expert.n_classes} classes and {expert.n_features} features "
                f"in an ensemble of {len(state.classes)} and {state.n_features}",
            )
        experts.append(expert)
    return experts


def load_ensemble(directory: Path, cls: type[ExpertEnsemble]) -> ExpertEnsemble:
    """Load what :func:`save_ensemble` wrote as a ``cls`` (``ExpertEnsemble.load``), after
    verifying every byte; never unpickles.

    Raises :class:`CorruptSaveError` (a ``ValueError``) naming the file for a folder that is
    missing, damaged, incomplete, not a saved ensemble or an older version's pickle.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CorruptSaveError(directory, "a file, not a saved ensemble's folder")
    recover(directory)  # a replace killed between its two renames: roll it back
    legacy = directory / LEGACY_PICKLE
    if legacy.is_file() and not (directory / ENSEMBLE_JSON).is_file():
        raise CorruptSaveError(
            legacy,
            "a pickled ensemble from an older version; it is not loaded (unpickling runs "
            "whatever code the file holds): train again with --save",
        )
    if directory.is_dir() and not any(
        (directory / name).is_file() for name in (ENSEMBLE_JSON, MANIFEST)
    ):
        raise CorruptSaveError(directory, f"not a saved ensemble (no {ENSEMBLE_JSON})")
    verify_manifest(directory)
    state = _read_state(directory)
    path = directory / ENSEMBLE_JSON
    _check_shapes(path, state)
    try:
        ensemble = cls().set_params(**state.params)
        codec = LabelCodec(state.classes)
    except (TypeError, ValueError) as exc:
        raise CorruptSaveError(path, str(exc)) from None
    ensemble.experts_ = _load_experts(directory, state)
    ensemble.classes_ = np.asarray(codec.classes, dtype=object)
    ensemble.codec_ = codec
    ensemble.n_features_in_ = state.n_features
    names = state.feature_names_in
    ensemble.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
    cal = state.calibration
    ensemble.calibration_ = Calibration(
        np.asarray(cal.source_prior, float),
        np.asarray(cal.target_prior, float),
        np.asarray(cal.expert_temperatures, float),
    )
    intercept = [-np.inf if v is None else v for v in state.stacker.intercept]
    ensemble.stacker_ = Stacker(
        np.asarray(state.stacker.coef, float), np.asarray(intercept, float), state.stacker.C
    )
    ensemble.weights_ = ensemble.stacker_.expert_weights()
    ensemble.oof_blocks_ = None
    try:
        ensemble.report_ = EnsembleReport.from_dict(state.report) if state.report else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptSaveError(path, f"unreadable report ({exc!r})") from None
    return ensemble
