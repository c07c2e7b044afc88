"""Stratified downsampling of very large training sets.

Beyond ``max_rows`` training rows an expert learns little more but trains much longer
(and the slowest expert sets the ensemble's wall time). The sample keeps every class's
share of the rows (stratified), keeps time order (the kept indices are sorted) and is
deterministic for a seed. Validation rows are never sampled.
"""

from __future__ import annotations

import numpy as np


def stratified_indices(codes: np.ndarray, max_rows: int | None, seed: int = 0) -> np.ndarray:
    """Sorted row indices, at most ``max_rows`` of them, with class shares preserved.

    Each class keeps ``round(count * max_rows / n)`` rows (at least one of each present
    class); ``max_rows`` of ``None`` or ``>= n`` keeps every row.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n = codes.shape[0]
    if max_rows is None or max_rows >= n:
        return np.arange(n)
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(codes):
        rows = np.flatnonzero(codes == c)
        take = max(1, int(round(rows.shape[0] * max_rows / n)))
        keep.append(rng.choice(rows, size=min(take, rows.shape[0]), replace=False))
    return np.sort(np.concatenate(keep))
