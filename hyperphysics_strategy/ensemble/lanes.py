"""What a lane of the round scheduler does with one job: start it, run it, report it.

Which lane takes which job, and when, is the scheduler's business (:mod:`.scheduler`:
the round queue, the CPU budget, longest first). This module holds the state the
scheduler keeps per batch, per job and per lane, and what a lane does with the job it
was given: announce it, train it in the lane's thread or its worker process
(:mod:`.jobs`) and report the outcome (log line, ``on_done``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from .batch import TrainingBatch
from .experts import Expert, Placement
from .jobs import TrainingOutcome, _Lane, _run_in_process, _run_in_thread, _wants_process

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class BatchState:
    """One :class:`~.batch.TrainingBatch` in the scheduler: its outcomes so far."""

    id: int
    spec: TrainingBatch
    rows: int
    cpu_cap: int  # CPU jobs of this batch that may run at once
    outcomes: list[TrainingOutcome | None]
    finished: int = 0  # outcomes in (the progress count)
    #: jobs whose lane has also released them: the batch is done when all are, so that a
    #: caller returning from it finds the scheduler idle (a new round numbers anew)
    settled: int = 0
    cpu_running: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def total(self) -> int:
        return len(self.outcomes)


@dataclass(eq=False)
class LaneJob:
    """One expert of a batch, placed (after round-robin) and numbered in its round."""

    batch: BatchState
    index: int
    expert: Expert
    placement: Placement
    expected: float  # seconds (:mod:`.durations`)
    seq: int
    round: int
    k: int
    tokens: int = 0  # CPU threads it holds while it runs


@dataclass(eq=False)
class LaneSlot:
    """A lane: one GPU (or MPS device), or one CPU job at a time, with its worker."""

    name: str
    device: str
    lane: _Lane
    busy: bool = False


def run_job(slot: LaneSlot, job: LaneJob) -> TrainingOutcome:
    """Train ``job`` on ``slot``: in the lane's worker process or in this thread. Never
    raises: a failure to run it is the job's outcome."""
    batch, expert, placement = job.batch.spec, job.expert, job.placement
    started = time.perf_counter()
    outcome: TrainingOutcome | None = None
    try:
        logger.info(
            "expert %s training on %s (%d threads, lane %s, round %d job %d)",
            expert.name,
            placement.device,
            placement.threads,
            slot.name,
            job.round,
            job.k,
        )
        batch.started(expert.name, str(placement.device))
        if _wants_process(expert, batch.use_processes):
            outcome = _run_in_process(
                slot.lane, job.batch.id, batch.data, expert, placement, batch.timeout
            )
        else:
            outcome = _run_in_thread(expert, batch.data, placement, batch.timeout)
    except BaseException as exc:  # scheduling itself failed for this expert
        outcome = TrainingOutcome(
            expert, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
        )
    finally:
        if outcome is None:  # pragma: no cover - defensive
            outcome = TrainingOutcome(expert, 0.0, "lane stopped")
    return outcome


def report(job: LaneJob, outcome: TrainingOutcome, done: int) -> None:
    """Log ``job``'s outcome (``done`` of its batch have finished) and call ``on_done``."""
    batch, expert = job.batch, outcome.expert
    if outcome.ok:
        logger.info(
            "expert %s trained on %s in %.2fs (%s%s) [%d/%d]",
            expert.name,
            outcome.device,
            outcome.seconds,
            outcome.worker,
            ", after out of memory: retried on cpu" if outcome.retried_on_cpu else "",
            done,
            batch.total,
        )
    else:
        logger.warning(
            "expert %s failed on %s and is dropped: %s [%d/%d]",
            expert.name,
            outcome.device or job.placement.device,
            outcome.error,
            done,
            batch.total,
        )
    batch.spec.done(outcome)
