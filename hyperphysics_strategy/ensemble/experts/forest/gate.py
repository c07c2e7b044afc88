"""Predict through a compiled forest only where it reproduces the native predictor.

:class:`CompiledTrees` is the tree experts' mixin: after training and after loading it
converts the model (:meth:`_compile`), then compares the compiled and the native
probabilities on :func:`check_rows`; a model the converters do not support, or a
difference above :data:`TOLERANCE`, keeps the native predictor (logged). The compiled
arrays are not pickled: an unpickled expert rebuilds (and re-checks) them on its first
prediction.

Expert parameters read here and never passed to the library: ``fast_inference``
(default true; false keeps the native predictor) and ``inference_threads`` (threads of
the compiled predictor for batches of at least 512 rows; default two where the process
may run on two or more cores, else one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...class_axis import normalise
from ._layout import Unsupported
from .compiled import predict_proba_together

logger = logging.getLogger(__name__)

TOLERANCE = 1e-5  # max |p_compiled - p_native| over the check rows
OPTIONS = ("fast_inference", "inference_threads")
_SPECIAL = np.array([0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35], dtype=np.float32)


def default_inference_threads() -> int:
    """Two where this process may use two or more cores (batches split in halves), else one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(2, max(cores, 1))


def without_options(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` minus the keys of this module (they are not the library's)."""
    return {k: v for k, v in params.items() if k not in OPTIONS}


def check_rows(
    compiled: Any, X: np.ndarray | None = None, n: int = 512, seed: int = 0
) -> np.ndarray:
    """Rows on which compiled and native predictions must agree.

    ``n`` synthetic rows where each feature takes, at random, the value of one of the
    model's split points or the float32 just above or below it (so ties with thresholds
    are hit) or a value near zero; the same rows with 10% of their values replaced by NaN;
    then up to ``n`` of the given rows, with and without such holes. The rows without NaN
    check the forest's finite-input layout, the others its general one.
    """
    rng = np.random.default_rng(seed)
    f = compiled.n_features
    feature, value = compiled.split_points()
    value = np.asarray(value, dtype=np.float32)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    rows = np.zeros((n, f), dtype=np.float32)
    order = np.argsort(feature, kind="stable")
    feature, value = feature[order], value[order]
    bounds = np.searchsorted(feature, np.arange(f + 1))
    for j in range(f):
        v = value[bounds[j] : bounds[j + 1]]
        with np.errstate(over="ignore"):  # next to +-FLT_MAX: +-inf, a fine test value
            around = [np.nextafter(v, up), np.nextafter(v, down)]
        candidates = np.concatenate([v, *around, _SPECIAL])
        rows[:, j] = candidates[rng.integers(len(candidates), size=n)]
    with_nan = rows.copy()
    with_nan[rng.random(rows.shape) < 0.1] = np.nan
    parts = [rows, with_nan]
    if X is not None and len(X):
        X = np.asarray(X, dtype=np.float32)
        take = X[np.sort(rng.choice(len(X), size=min(n, len(X)), replace=False))]
        holes = take.copy()
        holes[rng.random(holes.shape) < 0.1] = np.nan
        parts += [take, holes]
    return np.ascontiguousarray(np.concatenate(parts))


class CompiledTrees:
    """Mixin for tree experts: ``_predict_proba`` through a checked compiled forest."""

    name: str
    params: dict[str, Any]
    seed: int

    def _native_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _compile(self) -> Any:
        """The compiled forest of the fitted model; raises ``Unsupported``."""
        raise NotImplementedError

    @property
    def compiled(self) -> Any:
        """The checked compiled forest, or None when predicting natively (built lazily)."""
        if "_compiled" not in self.__dict__:
            self.build_compiled()
        return self.__dict__["_compiled"]

    def build_compiled(self, X: np.ndarray | None = None) -> Any:
        """Convert the model and check it against the native predictor (see module doc)."""
        self._compiled = None
        if not self.params.get("fast_inference", True):
            return None
        try:
            compiled = self._compile()
        except Unsupported as exc:
            logger.debug("%s: native predictor (%s)", self.name, exc)
            return None
        except Exception as exc:  # a converter bug must never break predictions
            logger.warning("%s: native predictor, conversion failed: %r", self.name, exc)
            return None
        rows = check_rows(compiled, X, seed=self.seed)
        native = np.asarray(self._native_proba(rows), dtype=np.float64)
        finite = np.isfinite(rows).all(axis=1)
        diff = 0.0
        for part in (finite, ~finite):  # each layout on its own rows (see check_rows)
            if part.any():
                fast = compiled.predict_proba(np.ascontiguousarray(rows[part]))
                gap = np.abs(native[part] - fast) if native[part].shape == fast.shape else np.inf
                diff = max(diff, float(np.max(gap)))
        if not diff <= TOLERANCE:  # NaN fails too
            logger.warning(
                "%s: native predictor, the compiled forest differs by %.3g (> %g) on %d check rows",
                self.name,
                diff,
                TOLERANCE,
                len(rows),
            )
            return None
        logger.debug("%s: compiled %r, max difference %.3g", self.name, compiled, diff)
        self._compiled = compiled
        return compiled

    def inference_threads(self) -> int:
        return int(self.params.get("inference_threads") or default_inference_threads())

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        compiled = self.compiled
        if compiled is None:
            return self._native_proba(X)
        return compiled.predict_proba(X, threads=self.inference_threads())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_compiled", None)  # rebuilt from the native model after unpickling
        return state


def predict_experts(
    experts: Sequence[Any], X: np.ndarray, finite: bool | None = None
) -> list[np.ndarray]:
    """``[e.predict_proba(X) for e in experts]``, the compiled forests of those that predict
    natively through one (no other serving path chosen) walked together: one hand-off to
    the forests' threads per batch instead of one per expert. ``finite``: whether ``X``
    holds no NaN or inf, when the caller knows (None: checked)."""
    group = [
        i for i, e in enumerate(experts)
        if isinstance(e, CompiledTrees) and e.__dict__.get("serving_") is None
        and e.compiled is not None and e.compiled.n_features == X.shape[1]
    ]  # fmt: skip
    if len(group) < 2:
        return [e.predict_proba(X) for e in experts]
    forests = [experts[i].compiled for i in group]
    threads = min(experts[i].inference_threads() for i in group)
    probas = predict_proba_together(forests, X, threads, finite)
    together = dict(zip(group, probas, strict=True))
    return [
        normalise(together[i]) if i in together else e.predict_proba(X)
        for i, e in enumerate(experts)
    ]
