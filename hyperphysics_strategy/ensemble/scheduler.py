"""One set of device lanes for every expert job in the process: a whole training round.

FreqAI's live rounds (:mod:`hyperphysics_strategy.freqai.rounds`) and the benchmarks train
several pairs at once, one :class:`~.ensemble.ExpertEnsemble` fit per pair, each in its
own thread. Each fit hands its experts, and later each stacking fold's copies, to
:func:`~.training.train_experts`, which submits them here as one **batch**. All batches
share one :class:`RoundScheduler`:

* **Round-robin over the round.** The ``k``-th job of a round goes to
  ``placement.pool[k mod len(pool)]``: the devices its library can use, from the
  hardware module's :class:`~hyperphysics_strategy.engine.hardware.DevicePlan` (see
  :func:`~.ensemble.planned_placements`). Eight pairs of two experts on eight GPUs use
  all eight, not the first two eight times. A placement without a pool stays put.
* **One lane per GPU** (or MPS device), whichever batch its jobs come from.
* **CPU jobs within the usable cores.** A CPU job holds its placement's threads from a
  budget of the usable cores minus one per GPU lane (it feeds its device); a job larger
  than the whole budget runs alone. No batch has more CPU jobs running than its own
  plan allows (``max_workers`` minus its GPU devices, at least one), as before.
* **Longest first.** A free lane takes, among the jobs it may start, the one with the
  longest expected time (:mod:`.durations`), from any batch.
* **Per job:** failures, timeouts and the out-of-memory retry on the CPU
  (:mod:`.lanes`, :mod:`.jobs`); results are collected per batch, in the caller's order.

A round is the span of :meth:`RoundScheduler.round`; outside one it is a busy period (the
job count restarts whenever the scheduler is idle). Lanes and their worker processes stay
up while a round is open and close when the scheduler is idle outside one, so a lone
ensemble trains exactly as before: same devices, same lanes.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import durations
from .batch import TrainingBatch
from .experts import Placement
from .jobs import TrainingOutcome, _Lane
from .lanes import BatchState, LaneJob, LaneSlot, report, run_job

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobRecord:
    """Where and when one job ran (kept in :attr:`RoundScheduler.history`)."""

    round: int  # the scheduler's round number
    job: int  # k: the job's number in its round (round-robin index)
    batch: int  # the train_experts call it came from
    expert: str
    device: str  # where it was placed (an out-of-memory retry may end on the CPU)
    lane: str
    started: float  # time.perf_counter()
    finished: float
    ok: bool


def round_robin(placement: Placement, k: int) -> Placement:
    """``placement`` moved to device ``k mod len(pool)`` of its pool (unchanged without)."""
    if not placement.pool:
        return placement
    chosen = placement.pool[k % len(placement.pool)]
    return dataclasses.replace(chosen, reason=f"{chosen.reason}; round job {k}", pool=())


class RoundScheduler:
    """Device lanes shared by every concurrent :func:`~.training.train_experts` call.

    ``cpu_budget``: CPU threads the jobs may hold at once (default: the usable cores of
    :func:`~hyperphysics_strategy.engine.hardware.get_hardware_info`). ``worker_cache``:
    training sets a lane's worker process keeps. ``history``: job records kept.
    """

    def __init__(
        self, cpu_budget: int | None = None, *, worker_cache: int = 3, history: int = 10_000
    ) -> None:
        if cpu_budget is not None and cpu_budget < 1:
            raise ValueError(f"cpu_budget must be >= 1, got {cpu_budget}")
        self._cpu_budget = cpu_budget
        self.worker_cache = worker_cache
        self._cond = threading.Condition()
        self._queues: dict[str, list[LaneJob]] = {}
        self._lanes: dict[str, LaneSlot] = {}
        self._lane_ids = itertools.count()
        self._batch_ids = itertools.count(1)
        self._seq = itertools.count()
        self._cpu_in_use = 0
        self._running = 0
        self._open_rounds = 0
        self._round = 0
        self._next_k = 0
        self._cancelled: tuple[int, str] | None = None  # (round, reason)
        #: the last ``history`` jobs, oldest first
        self.history: deque[JobRecord] = deque(maxlen=history)

    # -- public -------------------------------------------------------------------------
    @property
    def cpu_budget(self) -> int:
        if self._cpu_budget is None:
            from hyperphysics_strategy.engine.hardware import get_hardware_info

            self._cpu_budget = max(1, get_hardware_info().cpu.usable_cores)
        return self._cpu_budget

    @property
    def current_round(self) -> int:
        return self._round

    @contextmanager
    def round(self) -> Iterator[int]:
        """Hold one round open: its jobs are numbered together for round-robin, and the
        lanes (with their worker processes) stay up between its batches. Yields the
        round number. Rounds opened while one is open join it."""
        with self._cond:
            if self._open_rounds == 0 and self._idle():
                self._start_round()
            self._open_rounds += 1
            number = self._round
        try:
            yield number
        finally:
            with self._cond:
                self._open_rounds -= 1
                self._cond.notify_all()  # idle lanes may close now

    def cancel_round(self, reason: str) -> int:
        """Drop every queued job of the current round, and those its callers submit later
        (each gets the error ``cancelled: reason``); running jobs finish. For a shutdown:
        FreqAI's stop waits for the training thread. Returns the jobs dropped now."""
        with self._cond:
            self._cancelled = (self._round, reason)
            jobs = [job for queue in self._queues.values() for job in queue]
            for queue in self._queues.values():
                queue.clear()
            done = [self._drop(job, reason) for job in jobs]
            self._cond.notify_all()
        self._notify_dropped(done)
        return len(jobs)

    def _drop(self, job: LaneJob, reason: str) -> tuple[BatchState, TrainingOutcome]:
        """Record ``job`` as cancelled (under the lock)."""
        outcome = TrainingOutcome(
            job.expert, 0.0, f"cancelled: {reason}", str(job.placement.device)
        )
        batch = job.batch
        batch.outcomes[job.index] = outcome
        batch.finished += 1
        batch.settled += 1
        if batch.settled == batch.total:
            batch.done.set()
        return batch, outcome

    @staticmethod
    def _notify_dropped(done: list[tuple[BatchState, TrainingOutcome]]) -> None:
        for batch, outcome in done:
            batch.spec.done(outcome)

    def jobs_of_round(self, number: int) -> list[JobRecord]:
        """The finished jobs of round ``number`` that are still in :attr:`history`."""
        with self._cond:
            return [r for r in self.history if r.round == number]

    def run(self, spec: TrainingBatch) -> list[TrainingOutcome]:
        """Train one batch on the shared lanes; block until all of it is done (see
        :func:`~.training.train_experts`)."""
        experts, placements = spec.experts, spec.placements
        if not experts:
            return []
        gpu_devices = {str(p.device) for p in placements if p.device.is_gpu}
        batch = BatchState(
            id=next(self._batch_ids),
            spec=spec,
            rows=spec.rows,
            cpu_cap=max(1, int(spec.max_workers) - len(gpu_devices)),
            outcomes=[None] * len(experts),
        )
        with self._cond:
            if self._open_rounds == 0 and self._idle():
                self._start_round()
            placed = []
            ks = []
            for placement in placements:
                ks.append(self._next_k)
                placed.append(round_robin(placement, self._next_k))
                self._next_k += 1
            expected = durations.estimated_seconds(range(len(experts)), experts, placed, batch.rows)
            cancelled = self._cancelled is not None and self._cancelled[0] == self._round
            dropped = []
            for i, expert in enumerate(experts):
                device = str(placed[i].device)
                job = LaneJob(
                    batch, i, expert, placed[i], expected[i], next(self._seq), self._round, ks[i]
                )
                if cancelled:
                    dropped.append(self._drop(job, self._cancelled[1]))
                else:
                    self._queues.setdefault(device, []).append(job)
            self._start_lanes()
            self._cond.notify_all()
        self._notify_dropped(dropped)
        batch.done.wait()
        missing = [experts[i].name for i, o in enumerate(batch.outcomes) if o is None]
        if missing:  # pragma: no cover - a lane died outside the per-job guard
            raise RuntimeError(f"experts never trained: {missing}")
        return [o for o in batch.outcomes if o is not None]

    # -- bookkeeping (all under self._cond) ----------------------------------------------
    def _idle(self) -> bool:
        return self._running == 0 and not any(self._queues.values())

    def _start_round(self) -> None:
        self._round += 1
        self._next_k = 0

    def _gpu_lanes(self) -> int:
        return sum(1 for slot in self._lanes.values() if slot.device != "cpu")

    def _cpu_capacity(self) -> int:
        return max(1, self.cpu_budget - self._gpu_lanes())

    def _start_lanes(self) -> None:
        for device, queue in self._queues.items():
            if not queue:
                continue
            if device != "cpu":
                if not any(s.device == device for s in self._lanes.values()):
                    self._new_lane(device, device)
                continue
            cpu_slots = [s for s in self._lanes.values() if s.device == "cpu"]
            running = sum(1 for s in cpu_slots if s.busy)
            wanted = min(self._cpu_capacity(), running + len(queue))
            for _ in range(wanted - len(cpu_slots)):
                self._new_lane(f"cpu#{next(self._lane_ids)}", "cpu")

    def _new_lane(self, name: str, device: str) -> None:
        slot = LaneSlot(name, device, _Lane(name, self.worker_cache))
        self._lanes[name] = slot
        threading.Thread(
            target=self._lane_loop, args=(slot,), name=f"hp-lane-{name}", daemon=True
        ).start()

    def _admissible(self, job: LaneJob) -> bool:
        if job.placement.device.is_gpu:
            return True
        if job.batch.cpu_running >= job.batch.cpu_cap:
            return False
        tokens = min(max(1, job.placement.threads), self._cpu_capacity())
        return self._cpu_in_use == 0 or self._cpu_in_use + tokens <= self._cpu_capacity()

    def _pick(self, slot: LaneSlot) -> LaneJob | None:
        queue = self._queues.get(slot.device)
        if not queue:
            return None
        best = None
        for job in queue:
            if self._admissible(job) and (
                best is None or (job.expected, -job.seq) > (best.expected, -best.seq)
            ):
                best = job
        if best is None:
            return None
        queue.remove(best)
        if slot.device == "cpu":
            best.tokens = min(max(1, best.placement.threads), self._cpu_capacity())
            self._cpu_in_use += best.tokens
            best.batch.cpu_running += 1
        self._running += 1
        slot.busy = True
        return best

    # -- lanes ------------------------------------------------------------------------------
    def _lane_loop(self, slot: LaneSlot) -> None:
        try:
            while True:
                with self._cond:
                    job = self._pick(slot)
                    while job is None:
                        if not self._queues.get(slot.device) and self._open_rounds == 0:
                            del self._lanes[slot.name]
                            self._cond.notify_all()
                            return
                        self._cond.wait()
                        job = self._pick(slot)
                self._execute(slot, job)
        finally:
            slot.lane.close()

    def _execute(self, slot: LaneSlot, job: LaneJob) -> None:
        started = time.perf_counter()
        outcome = run_job(slot, job)
        batch = job.batch
        if outcome.ok and not outcome.retried_on_cpu:
            durations.record(outcome.expert.name, outcome.device, outcome.seconds, batch.rows)
        with self._cond:
            batch.outcomes[job.index] = outcome
            batch.finished += 1
            done = batch.finished
        report(job, outcome, done)
        with self._cond:
            if slot.device == "cpu":
                self._cpu_in_use -= job.tokens
                batch.cpu_running -= 1
            self._running -= 1
            slot.busy = False
            self.history.append(
                JobRecord(
                    job.round,
                    job.k,
                    batch.id,
                    outcome.expert.name,
                    str(job.placement.device),
                    slot.name,
                    started,
                    time.perf_counter(),
                    outcome.ok,
                )
            )
            batch.settled += 1
            if batch.settled == batch.total:
                batch.done.set()
            self._start_lanes()
            self._cond.notify_all()


_default = RoundScheduler()
_default_lock = threading.Lock()


def default_scheduler() -> RoundScheduler:
    """The process-wide scheduler that :func:`~.training.train_experts` submits to."""
    return _default


@contextmanager
def use_scheduler(scheduler: RoundScheduler) -> Iterator[RoundScheduler]:
    """Make ``scheduler`` the process-wide one for the duration (tests, benchmarks)."""
    global _default
    with _default_lock:
        previous, _default = _default, scheduler
    try:
        yield scheduler
    finally:
        with _default_lock:
            _default = previous
