"""How big one benchmark training round is: rows per pair and each expert's size.

Shared by ``bench_rounds.py`` (whole ensembles) and ``bench_ray.py`` (expert jobs on the
local lanes against the ray backend), so that a ``--quick`` round trains jobs of the same
size in both: a tree expert gets ``n_estimators`` trees, a torch expert ``max_epochs``
epochs (each expert's library says which, without importing it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hyperphysics_strategy.ensemble.experts import expert_libraries


@dataclass(frozen=True)
class RoundSize:
    """Rows per pair, trees per tree expert, epochs per torch expert."""

    rows: int
    trees: int
    epochs: int

    def params(self, names: Sequence[str]) -> dict[str, dict]:
        """Each named expert's parameters: ``max_epochs`` for a torch expert, else
        ``n_estimators``."""
        return {
            name: {"max_epochs": self.epochs}
            if library == "torch"
            else {"n_estimators": self.trees}
            for name, library in zip(names, expert_libraries(names), strict=True)
        }


#: ``bench_rounds.py`` without ``--quick``
FULL = RoundSize(rows=6000, trees=200, epochs=10)
#: ``--quick``: fewer rows, trees and epochs
QUICK = RoundSize(rows=1500, trees=60, epochs=3)
