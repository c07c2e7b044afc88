"""Tables held as frozen dataclasses of equal-length numpy columns.

A subclass declares its columns as ``np.ndarray`` fields (one row per candle or trade);
any other field (a timeframe, say) belongs to the whole table and is kept as it is when
rows are selected or tables joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Self

import numpy as np


@dataclass(frozen=True)
class Columns:
    """Row count, row selection and concatenation shared by the simulator's tables."""

    def column_names(self) -> list[str]:
        """Names of the array fields, in declaration order."""
        return [f.name for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)]

    def __len__(self) -> int:
        return len(getattr(self, self.column_names()[0]))

    def take(self, index: slice | np.ndarray) -> Self:
        """Rows selected by a slice, an index array or a boolean mask."""
        return replace(self, **{name: getattr(self, name)[index] for name in self.column_names()})

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        """Rows of several tables one after the other (the first one's other fields)."""
        if not parts:
            raise ValueError(f"{cls.__name__}.concat needs at least one table")
        names = parts[0].column_names()
        return replace(
            parts[0], **{name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
        )
