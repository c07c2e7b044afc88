"""Deterministic mapping between class names and integer codes.

The strategy's three classes map as ``sell -> 0``, ``neutral -> 1``, ``buy -> 2`` whatever
subset of them a training window contains: codes come from the position in the declared
class list, never from the order labels happen to appear in the data. A class missing
from a window keeps its code; experts give it probability zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_CLASSES: tuple[str, ...] = ("sell", "neutral", "buy")


class LabelCodec:
    """Encode class names to codes ``0..K-1`` and back, in a fixed declared order."""

    def __init__(self, classes: Sequence[str] = DEFAULT_CLASSES) -> None:
        names = [str(c) for c in classes]
        if len(names) < 2:
            raise ValueError(f"need at least two classes, got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique, got {names!r}")
        self.classes: tuple[str, ...] = tuple(names)
        self._code = {name: i for i, name in enumerate(self.classes)}

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def encode(self, labels: Sequence[object] | np.ndarray) -> np.ndarray:
        """Class names to int64 codes; an unknown name raises ``ValueError`` naming it."""
        values = np.asarray(labels, dtype=object).ravel()
        codes = np.empty(values.shape[0], dtype=np.int64)
        for i, value in enumerate(values):
            try:
                codes[i] = self._code[str(value)]
            except KeyError:
                raise ValueError(
                    f"label {value!r} is not one of the declared classes {self.classes}"
                ) from None
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Int codes to class names (object array)."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.n_classes):
            raise ValueError(f"codes must lie in 0..{self.n_classes - 1}")
        return np.asarray(self.classes, dtype=object)[codes]

    def present(self, codes: np.ndarray) -> np.ndarray:
        """Sorted codes that occur in ``codes``."""
        return np.unique(np.asarray(codes, dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelCodec) and other.classes == self.classes

    def __hash__(self) -> int:
        return hash(self.classes)

    def __repr__(self) -> str:
        return f"LabelCodec({list(self.classes)!r})"
