"""Forward-chaining folds for out-of-fold predictions over time-ordered rows.

The blend must be fitted on predictions for rows the experts did not train on. The
validation block gives one such block; the training rows give more when fresh copies of
the experts are trained on their beginning and predict what follows. With ``folds = F``
the ``n`` training rows are cut into ``F + 1`` equal chunks; fold ``k`` (1..F) trains on
the rows before chunk ``k`` minus an embargo of ``embargo`` rows (labels look that far
ahead) and predicts chunk ``k``. So every prediction is out of sample and in the
future of its training rows, as in live trading, and the blend sees several market
regimes instead of the last one only.

Each fold's copy early-stops on the chunk it predicts (the same convention as the final
experts on the validation block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    fit: np.ndarray  # row indices the fold's experts train on
    predict: np.ndarray  # row indices they predict (and early-stop on)


def forward_folds(n: int, folds: int, embargo: int = 0, min_fit_rows: int = 100) -> list[Fold]:
    """The forward-chaining folds over ``n`` rows; folds with too few rows are skipped."""
    if folds < 0:
        raise ValueError(f"folds must be >= 0, got {folds}")
    if folds == 0 or n <= 0:
        return []
    chunk = n // (folds + 1)
    out = []
    for k in range(1, folds + 1):
        start = k * chunk
        end = n if k == folds else (k + 1) * chunk
        fit_end = start - max(embargo, 0)
        if fit_end < min_fit_rows or end - start < 1:
            continue
        out.append(Fold(np.arange(fit_end), np.arange(start, end)))
    return out
