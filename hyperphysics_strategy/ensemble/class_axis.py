"""Reductions over the class axis (the last one, a few columns) for the inference path.

numpy reduces ``a.sum(axis=-1)`` of a ``(1000, 3)`` array row by row, an inner loop of
three; combining the ``K`` column slices elementwise is 4x to 9x faster
(``benchmarks/perf/bench_inference_parts.py``) and gives the same values (numpy adds fewer
than eight terms left to right, as here).
"""

from __future__ import annotations

from functools import reduce

import numpy as np


def class_sum(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=-1, keepdims=True)``."""
    return reduce(np.add, [a[..., j] for j in range(a.shape[-1])])[..., None]


def class_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=-1, keepdims=True)`` (NaN propagates, as there)."""
    return reduce(np.maximum, [a[..., j] for j in range(a.shape[-1])])[..., None]


def normalise(a: np.ndarray) -> np.ndarray:
    """Rows divided by their sums."""
    return a / class_sum(a)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (the maximum subtracted first); ``logits`` is overwritten."""
    logits -= class_max(logits)
    out = np.exp(logits, out=logits)
    out /= class_sum(out)
    return out
