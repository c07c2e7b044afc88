"""What the scheduling core asks of an executor: where a job goes, how much CPU there is,
and how to run one job on one lane.

The core (:mod:`.core`) owns the queue, round-robin numbering, longest first, the CPU
budget, cancellation and the lane threads; an executor owns the lanes' resources and the
running of a job. Two implement it: :class:`~.local.LocalExecutor` (a thread, or the
lane's worker process) and :class:`~.ray_tasks.RayExecutor` (a Ray task, a GPU lane per
placement-group bundle).

A lane is named by its **key**: ``"cpu"`` for the CPU lanes (as many as the CPU budget
lets run), any other key is one lane (a GPU, an MPS device, a Ray bundle).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from ..experts import Placement
from .batch import BatchState, Job
from .outcome import TrainingOutcome

#: The key of the CPU lanes.
CPU_LANES = "cpu"


def round_robin(placement: Placement, k: int) -> Placement:
    """``placement`` moved to device ``k mod len(pool)`` of its pool (unchanged without)."""
    if not placement.pool:
        return placement
    chosen = placement.pool[k % len(placement.pool)]
    return dataclasses.replace(chosen, reason=f"{chosen.reason}; round job {k}", pool=())


class JobLost(Exception):
    """The job's worker or node was lost: the job may run again. ``lane_lost``: the lane
    itself is gone (its node died); its queued jobs move to the other lanes."""

    def __init__(self, reason: str, *, lane_lost: bool = False) -> None:
        super().__init__(reason)
        self.lane_lost = lane_lost


class Executor(Protocol):
    """The executor side of the scheduler (see the module's docstring)."""

    #: the backend name it serves (``ExpertEnsemble(backend=...)``)
    backend: str
    #: times one job is started again after :class:`JobLost`
    max_resubmits: int
    #: whether lanes stay up for the whole open round (warm worker processes), or close
    #: as soon as they have nothing queued (a Ray bundle is given back to the cluster)
    keeps_lanes_in_round: bool

    def prepare(self, batch: BatchState) -> list[Placement]:
        """Called in the caller's thread before the batch is queued: the placements to
        schedule (one per expert). May block (connect, send the data, reserve devices)."""
        ...

    def place(self, placement: Placement, k: int) -> tuple[str, Placement]:
        """Job ``k`` of the round, planned on ``placement``: its lane key and placement.
        Also called again for a job whose lane was lost. Under the core's lock: quick."""
        ...

    def cpu_capacity(self, gpu_lanes: int) -> int:
        """CPU threads the CPU lanes may hold at once while ``gpu_lanes`` lanes are up."""
        ...

    def batch_cpu_cap(self, batch: BatchState, placements: list[Placement]) -> int:
        """CPU jobs of ``batch`` that may run at once."""
        ...

    def open_lane(self, name: str, key: str) -> Any:
        """The resources of a new lane (in its own thread, before its first job)."""
        ...

    def run(self, lane: Any, job: Job) -> TrainingOutcome:
        """Train ``job`` on ``lane`` and return its outcome (never raises for a failed
        fit or a timeout; raises :class:`JobLost` when the job may run again)."""
        ...

    def close_lane(self, lane: Any) -> None:
        """Free the lane's resources (its thread ends)."""
        ...

    def finish(self, batch: BatchState) -> None:
        """Called in the caller's thread once the batch is done (or failed to queue)."""
        ...
