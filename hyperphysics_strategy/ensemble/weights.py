"""Class weights from label frequencies (inverse frequency, normalised to mean 1)."""

from __future__ import annotations

import numpy as np


def balanced_sample_weights(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Weight each sample by ``n / (k * count(class))`` over the ``k`` classes present.

    Rare classes (in trading: the buy and sell moves among many neutral candles) then
    count as much in the loss as the common one. The weights average to 1.
    """
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(n_classes)
    per_class[present] = codes.shape[0] / (present.sum() * counts[present])
    return per_class[codes]
