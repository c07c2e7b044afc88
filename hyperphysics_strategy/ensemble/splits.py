"""Time-ordered train/validation split with an embargo gap.

Labels look ``label_period`` candles into the future, so the last training rows overlap
the first validation rows in time. Dropping an embargo of rows between the two sets
keeps validation honest.
"""

from __future__ import annotations

import numpy as np


def time_ordered_split(
    n_rows: int, validation_fraction: float = 0.15, embargo: int = 0, min_rows: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: validation is the last block, the embargo sits before it."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0, got {embargo}")
    n_val = max(1, int(round(n_rows * validation_fraction)))
    n_train = n_rows - n_val - embargo
    if n_train < min_rows or n_val < 1:
        raise ValueError(
            f"{n_rows} rows are too few for a {validation_fraction:.0%} validation split "
            f"with an embargo of {embargo} rows (need at least {min_rows} training rows)"
        )
    return np.arange(n_train), np.arange(n_rows - n_val, n_rows)
