"""Train experts in parallel within a CPU thread budget; drop the ones that fail.

Each expert gets its :class:`~.experts.Placement` (device and library parameters) from
the caller. The boosting libraries release the GIL while they train, so a thread pool
runs them truly in parallel; every worker gets ``threads`` cores so that together they
never exceed the budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .experts import Expert, FitData, Placement

logger = logging.getLogger(__name__)


@dataclass
class TrainingOutcome:
    expert: Expert
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _train_one(expert: Expert, data: FitData, placement: Placement) -> TrainingOutcome:
    start = time.perf_counter()
    try:
        expert.fit(data, placement)
    except Exception as exc:  # one broken expert must not sink the ensemble
        logger.warning(
            "expert %s failed on %s and is dropped: %s: %s",
            expert.name,
            placement.device,
            type(exc).__name__,
            exc,
        )
        return TrainingOutcome(expert, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    logger.info("expert %s trained on %s in %.2fs", expert.name, placement.device, seconds)
    return TrainingOutcome(expert, seconds)


def train_experts(
    experts: Sequence[Expert],
    data: FitData,
    placements: Sequence[Placement],
    max_workers: int,
    on_done: Callable[[TrainingOutcome], None] | None = None,
) -> list[TrainingOutcome]:
    """Fit every expert; return outcomes in the experts' order."""
    if len(experts) != len(placements):
        raise ValueError(f"{len(experts)} experts but {len(placements)} placements")
    workers = max(1, min(max_workers, len(experts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hp-expert") as pool:
        futures = [
            pool.submit(_train_one, e, data, p) for e, p in zip(experts, placements, strict=True)
        ]
        outcomes = []
        for future in futures:
            outcome = future.result()
            if on_done is not None:
                on_done(outcome)
            outcomes.append(outcome)
    return outcomes
