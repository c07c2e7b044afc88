"""The entry rule on class probabilities, shared by the strategy and the facade.

A side (buy or sell) signals where its probability reaches ``min_probability`` and
exceeds the opposite side's by at least ``min_margin``. The ensemble's probabilities are
calibrated, so they sit near the class frequencies where it sees no edge; the defaults
ask for an edge that paid the fees in the backtests of ``docs/strategy.md``.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MIN_PROBABILITY = 0.35
DEFAULT_MIN_MARGIN = 0.15


def edge_signal(
    side,
    other,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> np.ndarray:
    """Boolean mask: ``side >= min_probability`` and ``side - other >= min_margin``
    (NaN probabilities never signal)."""
    side = np.asarray(side, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    return (side >= min_probability) & (side - other >= min_margin)
