"""The interface every expert implements.

An expert learns class probabilities from a float feature matrix and integer class
codes ``0..K-1`` (see :mod:`..labels`). It is told where to run by a
:class:`~hyperphysics_strategy.engine.hardware.Placement` (device, CPU threads, and the
library keyword arguments of ``Placement.params()``), from the hardware plan. It always
returns a ``(n, K)`` probability matrix, including columns for classes absent from its
training data (probability zero).
"""

from __future__ import annotations

import abc
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hyperphysics_strategy.engine.hardware.placement import Placement
from hyperphysics_strategy.engine.manifest import (
    CorruptSaveError,
    recover,
    staged_directory,
    verify_manifest,
)

from ..class_axis import normalise
from .param_check import THREAD_KEYS, check_expert_params, library_parameter_names, thread_cap
from .space import Dimension

__all__ = ["CorruptSaveError", "Expert", "FitData", "Placement"]

META_FILE = "meta.json"


def all_finite(X: np.ndarray) -> bool:
    """No NaN or inf anywhere in ``X`` (the whole-batch test; a row by row
    ``np.isfinite(X).all(axis=1)`` is several times slower on 1,000 x 100)."""
    return bool(np.isfinite(X).all())


def check_rows(X: np.ndarray, y: np.ndarray, w: np.ndarray, name: str) -> None:
    """Features, labels and weights of the ``name`` set agree in length and are not empty."""
    if not (X.shape[0] == y.shape[0] == w.shape[0]):
        raise ValueError(
            f"{name} set: {X.shape[0]} feature rows, {y.shape[0]} labels and "
            f"{w.shape[0]} weights differ"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} set is empty")


@dataclass
class FitData:
    """A training set and its validation set, already encoded."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    weight_val: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        for name, X, y, w in (
            ("training", self.X, self.y, self.weight),
            ("validation", self.X_val, self.y_val, self.weight_val),
        ):
            if X.ndim != 2:
                raise ValueError(f"{name} features must be 2-D, got shape {X.shape}")
            check_rows(X, y, w, name)
        if self.X.shape[1] != self.X_val.shape[1]:
            raise ValueError(
                f"training has {self.X.shape[1]} features but validation {self.X_val.shape[1]}"
            )


class Expert(abc.ABC):
    """One model of the ensemble."""

    #: Registry key, e.g. ``"lightgbm"``.
    name: ClassVar[str]
    #: Library whose devices the hardware plan must look at: lightgbm, xgboost, catboost, torch.
    library: ClassVar[str]
    #: Library parameters this expert does not take from the top level of FreqAI's
    #: ``model_training_parameters`` (only from its own section): key -> why.
    NOT_SHARED: ClassVar[dict[str, str]] = {}
    #: The main hyper-parameters ``hyperphysics search`` samples: key -> dimension
    #: (:mod:`.space`), declared next to the expert's defaults.
    SEARCH_SPACE: ClassVar[dict[str, Dimension]] = {}

    def __init__(self, params: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.params: dict[str, Any] = dict(params or {})
        self.seed = int(seed)
        self.n_classes: int | None = None
        self.n_features: int | None = None
        self.placement = Placement(self.library)
        self.best_iteration: int | None = None

    # -- parameters (checked by :mod:`.param_check`) ----------------------------------
    @classmethod
    def parameter_names(cls) -> frozenset[str]:
        """Every key ``params`` may hold: the library's parameters and aliases."""
        return library_parameter_names(cls.library)

    def probe_params(self) -> dict[str, Any]:
        """Parameters that make the check's fit short: one round (added to ``params``)."""
        return {"n_estimators": 1, "early_stopping_rounds": 1, "fast_inference": False}

    @staticmethod
    def probe_data() -> FitData:
        """The tiny synthetic set of the parameter check's fit (3 classes, 4 features)."""
        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 4)).astype(np.float32)
        y = np.arange(60) % 3
        w = np.ones(60, dtype=np.float32)
        return FitData(X[:42], y[:42], w[:42], X[42:], y[42:], w[42:], n_classes=3)

    def check_params(self, probe: bool = True) -> Expert:
        """Raise ``ValueError`` for a parameter the library refuses, before any training
        (``probe``: also fit once on a tiny set, so the library checks every value)."""
        check_expert_params(self, probe)
        return self

    def library_params(self) -> dict[str, Any]:
        """``params`` without the thread counts (the placement gives the threads)."""
        return {k: v for k, v in self.params.items() if k not in THREAD_KEYS}

    # -- training -----------------------------------------------------------------
    def fit(self, data: FitData, placement: Placement | None = None) -> Expert:
        """Train on ``data`` where ``placement`` says (default: one CPU thread); a thread
        count in ``params`` (``n_jobs``, ``thread_count``, ...) caps the placement's."""
        if placement is not None and placement.library != self.library:
            raise ValueError(
                f"expert {self.name!r} trains with {self.library}, "
                f"got a placement for {placement.library}"
            )
        placement = placement or Placement(self.library)
        cap = thread_cap(self.params)
        if cap is not None and cap < placement.threads:
            placement = dataclasses.replace(placement, threads=cap)
        self.placement = placement
        self.n_classes = data.n_classes
        self.n_features = data.X.shape[1]
        self._fit(data)
        return self

    @abc.abstractmethod
    def _fit(self, data: FitData) -> None: ...

    # -- inference ----------------------------------------------------------------
    def predict_proba(self, X: np.ndarray, native: bool = False) -> np.ndarray:
        """Probabilities ``(n, K)``; through the serving path :mod:`...serving` chose for
        this batch's size (``serving_``) unless ``native``."""
        if self.n_features is None:
            raise RuntimeError(f"expert {self.name!r} is not fitted")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"expert {self.name!r} expects (n, {self.n_features}) features, got {X.shape}"
            )
        serving = None if native else self.__dict__.get("serving_")
        proba = None if serving is None else serving(X)
        if proba is None:
            proba = self._predict_proba(X)
        return normalise(proba)

    @abc.abstractmethod
    def _predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    # -- persistence (native formats) -------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the model in its library's native format plus ``meta.json``, crash-safely.

        Everything is written into a staging folder with a sha256 manifest written last,
        then renamed onto ``directory`` in one step (see :mod:`...engine.manifest`): a kill
        at any point leaves the previous save or the new one, never a mix.
        """
        meta = {
            "name": self.name,
            "params": self.params,
            "seed": self.seed,
            "n_classes": self.n_classes,
            "n_features": self.n_features,
            "best_iteration": self.best_iteration,
        }
        with staged_directory(Path(directory), markers=(META_FILE,)) as staging:
            self._save_native(staging)
            (staging / META_FILE).write_text(json.dumps(meta, indent=2, default=str))

    @classmethod
    def load(cls, directory: Path) -> Expert:
        """Load a save after checking its bytes against the manifest.

        Raises :class:`CorruptSaveError` (a ``ValueError``) naming the file when the save is
        incomplete, truncated or corrupted; the native loader never sees such bytes.
        """
        directory = Path(directory)
        recover(directory)  # a replace killed between its two renames: roll it back
        verify_manifest(directory)
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("name") != cls.name:
            raise ValueError(
                f"{directory / META_FILE}: a saved {meta.get('name')!r} expert, not {cls.name!r}"
            )
        expert = cls(params=meta["params"], seed=meta["seed"])
        expert.n_classes = meta["n_classes"]
        expert.n_features = meta["n_features"]
        expert.best_iteration = meta["best_iteration"]
        expert._load_native(directory)
        return expert

    @abc.abstractmethod
    def _save_native(self, directory: Path) -> None: ...

    @abc.abstractmethod
    def _load_native(self, directory: Path) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={str(self.placement.device)!r})"
