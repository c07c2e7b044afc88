"""One ``train_experts`` call as an object (:class:`TrainingBatch`), and what the
scheduler keeps of it while it runs: its outcomes (:class:`BatchState`) and its jobs
(:class:`Job`), whichever executor trains them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field

from ..experts import Expert, FitData, Placement
from .outcome import ProcessMode, TrainingOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainingBatch:
    """The arguments of one ``train_experts`` call.

    * ``experts``, ``placements``: one placement per expert (same length, else a
      ``ValueError``); ``data``: the training set every expert of the batch fits.
    * ``max_workers``: the local backend runs at most ``max_workers`` minus the GPU
      devices of ``placements`` (at least one) of these experts on the CPU at once; the
      Ray backend leaves that bound to the cluster's resources.
    * ``use_processes``: ``None`` (default) trains torch experts in worker processes and
      tree experts in threads, ``False`` everything in threads, ``True`` everything in
      processes (the Ray backend always runs a task in a worker process).
    * ``timeout``: seconds one expert may train before it is dropped.
    * Progress callbacks (for a display; both are called in the parent process, one call
      at a time): ``on_start(expert_name, device)`` when a lane starts an expert,
      ``on_done(outcome)`` when it finishes or is dropped. An exception either raises is
      logged and ignored (:meth:`started`, :meth:`done`).
    """

    experts: Sequence[Expert]
    data: FitData
    placements: Sequence[Placement]
    max_workers: int
    on_done: Callable[[TrainingOutcome], None] | None = None
    _: KW_ONLY
    on_start: Callable[[str, str], None] | None = None
    use_processes: ProcessMode = None
    timeout: float | None = None
    _callback_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.experts) != len(self.placements):
            raise ValueError(f"{len(self.experts)} experts but {len(self.placements)} placements")

    @property
    def rows(self) -> int:
        """Training rows (the durations' scale)."""
        return int(self.data.X.shape[0])

    def started(self, expert_name: str, device: str) -> None:
        """Call ``on_start`` (if any); a display must not stop training."""
        if self.on_start is not None:
            self._call(expert_name, self.on_start, expert_name, device)

    def done(self, outcome: TrainingOutcome) -> None:
        """Call ``on_done`` (if any); a display must not stop training."""
        if self.on_done is not None:
            self._call(outcome.expert.name, self.on_done, outcome)

    def _call(self, expert_name: str, callback: Callable[..., None], *args: object) -> None:
        try:
            with self._callback_lock:
                callback(*args)
        except Exception as exc:
            logger.warning("progress callback failed for %s: %s", expert_name, exc)


@dataclass(eq=False)
class BatchState:
    """One :class:`TrainingBatch` in the scheduler: its outcomes so far."""

    id: int
    spec: TrainingBatch
    outcomes: list[TrainingOutcome | None]
    cpu_cap: int = 1  # CPU jobs of this batch that may run at once
    finished: int = 0  # outcomes in (the progress count)
    #: jobs whose lane has also released them: the batch is done when all are, so that a
    #: caller returning from it finds the scheduler idle (a new round numbers anew)
    settled: int = 0
    cpu_running: int = 0
    in_round: bool = False  # queued while a round was open
    #: per job: the lane that ran it last and how many times it was started
    lanes: list[str] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def rows(self) -> int:
        return self.spec.rows

    def settle(self) -> None:
        """One more job released by its lane (under the scheduler's lock)."""
        self.settled += 1
        if self.settled == self.total:
            self.done.set()


@dataclass(eq=False)
class Job:
    """One expert of a batch: ``planned`` by the hardware plan, ``placement`` where the
    executor put it (job ``k`` of round ``round``), queued for lane ``key``."""

    batch: BatchState
    index: int
    expert: Expert
    planned: Placement
    placement: Placement
    key: str
    expected: float  # seconds (:mod:`..durations`)
    seq: int
    round: int
    k: int
    tokens: int = 0  # CPU threads it holds while it runs
    attempts: int = 0
