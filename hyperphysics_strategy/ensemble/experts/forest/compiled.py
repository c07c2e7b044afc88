"""Compiled forests: raw scores through the numba kernels, softmax to probabilities."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..base import all_finite
from . import _kernel
from ._layout import NodeArrays, Tree, finite_tree, flatten

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
MIN_ROWS_PER_THREAD = 256
_FLT_MAX = np.finfo(np.float32).max


def softmax(raw: np.ndarray) -> np.ndarray:
    """Row softmax in float64, the way LightGBM computes it (max subtracted, then exp)."""
    out = np.empty(raw.shape, dtype=np.float64)
    _kernel.softmax(np.ascontiguousarray(raw), out)
    return out


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="forest")
        return _POOLS[threads]


@dataclass
class _Walk:
    """One forest's kernel over a batch: ``kernel(X[rows], *args, out[rows])`` per chunk."""

    kernel: Callable
    X: np.ndarray
    args: tuple
    out: np.ndarray

    def rows(self, lo: int, hi: int) -> None:
        self.kernel(self.X[lo:hi], *self.args, self.out[lo:hi])


def _run(walks: list[_Walk], threads: int) -> None:
    """Every walk over row chunks, in ``threads`` threads (the kernels release the GIL).

    Each thread takes one chunk of rows through all the walks: one hand-off to the pool
    per batch, however many forests (``bench_inference_parts.py`` times one hand-off)."""
    n = walks[0].X.shape[0]
    threads = max(1, min(int(threads), n // MIN_ROWS_PER_THREAD))
    step = max(1, -(-n // threads))
    step += -step % _kernel.BLOCK

    def chunk(lo: int) -> None:
        for walk in walks:
            walk.rows(lo, lo + step)

    futures = [_pool(threads).submit(chunk, lo) for lo in range(step, n, step)]
    chunk(0)  # the caller's thread takes the first chunk
    for f in futures:
        f.result()


class _Compiled:
    """Common shape checks and the softmax link; subclasses fill ``raw``."""

    n_features: int
    n_classes: int
    n_trees: int
    library: str

    def _input(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got {X.shape}")
        return X

    def _walk(self, X: np.ndarray, finite: bool) -> _Walk:
        """The kernel call for checked input ``X`` (``finite``: it holds no NaN or inf)."""
        raise NotImplementedError

    def _finish(self, out: np.ndarray) -> np.ndarray:
        """Raw scores from the kernel's output."""
        return out

    def raw(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        X = self._input(X)
        walk = self._walk(X, all_finite(X))
        _run([walk], threads)
        return self._finish(walk.out)

    def split_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(feature, value)`` of every comparison, in input space (for checks)."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        return softmax(self.raw(X, threads))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.library}, {self.n_trees} trees, "
            f"{self.n_features} features, {self.n_classes} classes)"
        )


class CompiledForest(_Compiled):
    """Binary trees (LightGBM, XGBoost): ``raw = base + sum of leaves`` per class.

    ``clip``: inputs are clipped to +-FLT_MAX first (LightGBM reads +-inf as +-1e300).
    ``finite``: the same trees laid out for inputs without NaN or inf
    (:func:`._layout.finite_tree`), used for such batches: no negated copy of the input
    to build, and half the input to keep in cache.
    """

    def __init__(
        self,
        nodes: NodeArrays,
        n_features: int,
        base: np.ndarray,
        library: str,
        clip: bool = False,
        finite: NodeArrays | None = None,
    ) -> None:
        self.nodes = nodes
        self.finite = finite
        self.n_features = int(n_features)
        self.base = np.asarray(base, dtype=nodes.val.dtype)
        self.n_classes = int(self.base.shape[0])
        self.n_trees = int(nodes.root.shape[0])
        self.library = library
        self.negated = bool((nodes.feat >= self.n_features).any())
        self.clip = bool(clip)

    @classmethod
    def from_trees(
        cls, trees: list[Tree], n_features: int, base: np.ndarray, library: str, dtype: type,
        clip: bool = False,
    ) -> CompiledForest:  # fmt: skip
        nodes = flatten(trees, dtype)
        finite = flatten([finite_tree(t, n_features) for t in trees], dtype)
        return cls(nodes, n_features, base, library, clip=clip, finite=finite)

    def _walk(self, X: np.ndarray, finite: bool) -> _Walk:
        f = self.n_features
        a = self.nodes
        if finite and self.finite is not None:
            a, Xk = self.finite, X
        elif self.negated or self.clip:
            Xk = np.empty((X.shape[0], 2 * f if self.negated else f), dtype=np.float32)
            if self.clip:
                np.clip(X, -_FLT_MAX, _FLT_MAX, out=Xk[:, :f])
            else:
                Xk[:, :f] = X
            if self.negated:
                np.negative(Xk[:, :f], out=Xk[:, f:])
        else:
            Xk = X
        out = np.empty((X.shape[0], self.n_classes), dtype=self.base.dtype)
        out[:] = self.base
        args = (a.feat, a.thr, a.child, a.val, a.root, a.klass, a.depth)
        return _Walk(_kernel.forest_raw, Xk, args, out)

    def split_points(self) -> tuple[np.ndarray, np.ndarray]:
        a = self.nodes
        inner = a.child != np.arange(a.child.shape[0], dtype=np.uint32)
        col = a.feat[inner].astype(np.int64)
        thr = a.thr[inner]
        neg = col >= self.n_features
        return np.where(neg, col - self.n_features, col), np.where(neg, -thr, thr)


class ObliviousForest(_Compiled):
    """Symmetric trees (CatBoost): ``raw = scale * sum of leaf vectors + bias``.

    ``columns``: output column of each leaf dimension (of ``n_outputs``; the others are
    classes the model never saw, raw score ``-inf``).
    """

    def __init__(
        self,
        feat: np.ndarray,
        border: np.ndarray,
        split_start: np.ndarray,
        leaf_start: np.ndarray,
        val: np.ndarray,
        n_features: int,
        scale: float,
        bias: np.ndarray,
        library: str = "catboost",
        columns: np.ndarray | None = None,
        n_outputs: int | None = None,
    ) -> None:
        self.feat = np.asarray(feat, dtype=np.uint32)
        self.border = np.asarray(border, dtype=np.float32)
        self.split_start = np.asarray(split_start, dtype=np.int64)
        self.leaf_start = np.asarray(leaf_start, dtype=np.int64)
        self.val = np.asarray(val, dtype=np.float64)
        self.n_features = int(n_features)
        self.scale = float(scale)
        self.bias = np.asarray(bias, dtype=np.float64)
        dims = int(self.bias.shape[0])
        self.columns = np.arange(dims) if columns is None else np.asarray(columns)
        self.n_classes = dims if n_outputs is None else int(n_outputs)
        self.n_trees = int(self.split_start.shape[0] - 1)
        self.library = library

    def _walk(self, X: np.ndarray, finite: bool) -> _Walk:
        out = np.zeros((X.shape[0], self.bias.shape[0]), dtype=np.float64)
        args = (self.feat, self.border, self.split_start, self.leaf_start, self.val)
        return _Walk(_kernel.oblivious_raw, X, args, out)

    def _finish(self, out: np.ndarray) -> np.ndarray:
        out = out * self.scale + self.bias
        if self.n_classes == out.shape[1]:
            return out
        full = np.full((out.shape[0], self.n_classes), -np.inf)
        full[:, self.columns] = out
        return full

    def split_points(self) -> tuple[np.ndarray, np.ndarray]:
        return self.feat.astype(np.int64), self.border


def predict_proba_together(
    forests: list[_Compiled], X: np.ndarray, threads: int = 1, finite: bool | None = None
) -> list[np.ndarray]:
    """``[f.predict_proba(X, threads) for f in forests]`` in one fan-out over the rows
    (``finite``: whether ``X`` holds no NaN or inf, when the caller knows)."""
    X = forests[0]._input(X)
    finite = all_finite(X) if finite is None else finite
    walks = [f._walk(f._input(X), finite) for f in forests]
    _run(walks, threads)
    return [softmax(f._finish(w.out)) for f, w in zip(forests, walks, strict=True)]
