"""The scheduling core: one set of lanes for every expert job of a training round,
whichever executor runs them (threads and worker processes here, or Ray tasks).

FreqAI's live rounds and the benchmarks train several pairs at once, one
:class:`~..ensemble.ExpertEnsemble` fit per pair, each in its own thread. Each fit hands
its experts, and each stacking fold's copies, to :func:`~.train_experts`, which submits
them to the backend's :class:`RoundScheduler` as one **batch**:

* **Round-robin over the round.** The ``k``-th job of a round goes to the lane the
  executor gives it (:meth:`~.executor.Executor.place`): locally
  ``placement.pool[k mod len(pool)]``, the devices its library can use (the hardware
  module's :class:`~hyperphysics_strategy.engine.hardware.DevicePlan`); on Ray bundle
  ``k mod G``. Eight pairs of two experts on eight GPUs use all eight.
* **One lane per GPU** (MPS device, Ray bundle), whichever batch its jobs come from.
* **CPU jobs within the CPU budget.** A CPU job holds its placement's threads from the
  executor's capacity (locally the usable cores minus one per GPU lane); a job larger
  than the whole budget runs alone. No batch has more CPU jobs running than its cap
  (locally ``max_workers`` minus its GPU devices, at least one).
* **Longest first.** A free lane takes, among the jobs it may start, the one with the
  longest expected time (:mod:`..durations`), from any batch.
* **Per job:** failures, timeouts and the out-of-memory retry on the CPU stay with the
  job (:mod:`.outcome`); a job whose worker or node was lost runs again, and a lost
  lane's jobs move to the others (:class:`~.executor.JobLost`).

A round is the span of :meth:`RoundScheduler.round`; outside one it is a busy period
(the job count restarts whenever the scheduler is idle), so a lone ensemble trains
exactly as before: same devices, same lanes, closed when it is done.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import durations
from ..experts import Placement
from .batch import BatchState, Job, TrainingBatch
from .executor import CPU_LANES, Executor, JobLost
from .outcome import TrainingOutcome

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


@dataclass(eq=False)
class Lane:
    """A lane of the scheduler: its thread takes jobs of queue ``key`` one at a time."""

    name: str
    key: str
    handle: Any = None  # the executor's resources (worker process, Ray bundle)
    busy: bool = False
    error: str | None = None  # it could not start: each job it takes ends with this


class RoundScheduler:
    """Lanes shared by every concurrent :func:`~.train_experts` call of one backend.

    ``executor``: what runs the jobs (default: a :class:`~.local.LocalExecutor` with
    ``cpu_budget`` threads, default the usable cores, and ``worker_cache`` training sets
    per worker process). ``history``: job records kept.
    """

    def __init__(
        self,
        cpu_budget: int | None = None,
        *,
        worker_cache: int = 3,
        history: int = 10_000,
        executor: Executor | None = None,
    ) -> None:
        if executor is None:
            from .local import LocalExecutor

            executor = LocalExecutor(cpu_budget, worker_cache=worker_cache)
        self.executor = executor
        self._cond = threading.Condition()
        self._queues: dict[str, list[Job]] = {}
        self._lanes: dict[str, Lane] = {}
        self._lost: set[str] = set()  # keys of lanes lost in this busy period
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
            done = [self._drop(job, f"cancelled: {reason}") for job in jobs]
            self._cond.notify_all()
        self._notify(done)
        return len(jobs)

    def finished_jobs(self) -> list[JobRecord]:
        """A copy of :attr:`history` taken under the lock the lanes append under."""
        with self._cond:
            return list(self.history)

    def jobs_of_round(self, number: int) -> list[JobRecord]:
        """The finished jobs of round ``number`` that are still in :attr:`history`."""
        with self._cond:
            return [r for r in self.history if r.round == number]

    def run(self, spec: TrainingBatch) -> list[TrainingOutcome]:
        """Train one batch on the shared lanes; block until all of it is done (see
        :func:`~.train_experts`)."""
        experts = spec.experts
        if not experts:
            return []
        n = len(experts)
        batch = BatchState(next(self._batch_ids), spec, [None] * n, lanes=[""] * n,
                           attempts=[0] * n)  # fmt: skip
        batch.in_round = self._open_rounds > 0
        try:
            planned = self.executor.prepare(batch)
            batch.cpu_cap = self.executor.batch_cpu_cap(batch, planned)
            self._queue(batch, planned)
            batch.done.wait()
        finally:
            self.executor.finish(batch)
        missing = [experts[i].name for i, o in enumerate(batch.outcomes) if o is None]
        if missing:  # pragma: no cover - a lane died outside the per-job guard
            raise RuntimeError(f"experts never trained: {missing}")
        return [o for o in batch.outcomes if o is not None]

    # -- queueing (all under self._cond) -------------------------------------------------
    def _queue(self, batch: BatchState, planned: list[Placement]) -> None:
        experts = batch.spec.experts
        with self._cond:
            if self._open_rounds == 0 and self._idle():
                self._start_round()
            placed = []
            for planned_at in planned:
                placed.append((self._next_k, *self.executor.place(planned_at, self._next_k)))
                self._next_k += 1
            expected = durations.estimated_seconds(
                range(len(experts)), experts, [p for _, _, p in placed], batch.rows
            )
            cancelled = self._cancelled is not None and self._cancelled[0] == self._round
            dropped = []
            for i, (k, key, placement) in enumerate(placed):
                job = Job(batch, i, experts[i], planned[i], placement, key, expected[i],
                          next(self._seq), self._round, k)  # fmt: skip
                if cancelled:
                    dropped.append(self._drop(job, f"cancelled: {self._cancelled[1]}"))
                else:
                    self._queues.setdefault(key, []).append(job)
            self._start_lanes()
            self._cond.notify_all()
        self._notify(dropped)

    def _drop(self, job: Job, error: str) -> tuple[BatchState, TrainingOutcome]:
        """Record ``job`` as ended without a model (under the lock)."""
        outcome = TrainingOutcome(job.expert, 0.0, error, str(job.placement.device))
        batch = job.batch
        batch.outcomes[job.index] = outcome
        batch.finished += 1
        batch.settle()
        return batch, outcome

    @staticmethod
    def _notify(done: list[tuple[BatchState, TrainingOutcome]]) -> None:
        for batch, outcome in done:
            batch.spec.done(outcome)

    def _idle(self) -> bool:
        return self._running == 0 and not any(self._queues.values())

    def _start_round(self) -> None:
        self._round += 1
        self._next_k = 0

    def _cpu_capacity(self) -> int:
        gpu_lanes = sum(1 for lane in self._lanes.values() if lane.key != CPU_LANES)
        return max(1, self.executor.cpu_capacity(gpu_lanes))

    def _start_lanes(self) -> None:
        for key, queue in self._queues.items():
            if not queue:
                continue
            if key != CPU_LANES:
                if key not in self._lanes:
                    self._new_lane(key, key)
                continue
            cpu_lanes = [lane for lane in self._lanes.values() if lane.key == CPU_LANES]
            running = sum(1 for lane in cpu_lanes if lane.busy)
            wanted = min(self._cpu_capacity(), running + len(queue))
            for _ in range(wanted - len(cpu_lanes)):
                self._new_lane(f"cpu#{next(self._lane_ids)}", CPU_LANES)

    def _new_lane(self, name: str, key: str) -> None:
        lane = Lane(name, key)
        self._lanes[name] = lane
        threading.Thread(
            target=self._lane_loop, args=(lane,), name=f"hp-lane-{name}", daemon=True
        ).start()

    def _admissible(self, job: Job) -> bool:
        if job.key != CPU_LANES:
            return True
        if job.batch.cpu_running >= job.batch.cpu_cap:
            return False
        tokens = min(max(1, job.placement.threads), self._cpu_capacity())
        return self._cpu_in_use == 0 or self._cpu_in_use + tokens <= self._cpu_capacity()

    def _pick(self, lane: Lane) -> Job | None:
        queue = self._queues.get(lane.key)
        admissible = [job for job in queue or () if self._admissible(job)]
        if not admissible:
            return None
        best = max(admissible, key=lambda job: (job.expected, -job.seq))
        queue.remove(best)
        if lane.key == CPU_LANES:
            best.tokens = min(max(1, best.placement.threads), self._cpu_capacity())
            self._cpu_in_use += best.tokens
            best.batch.cpu_running += 1
        self._running += 1
        lane.busy = True
        return best

    def _lane_done(self, lane: Lane) -> bool:
        """Whether ``lane`` may close: it was lost, or nothing is queued for it and no
        round keeps it up."""
        if lane.key in self._lost:
            return True
        if self._queues.get(lane.key):
            return False
        return self._open_rounds == 0 or not self.executor.keeps_lanes_in_round

    # -- lanes ------------------------------------------------------------------------------
    def _lane_loop(self, lane: Lane) -> None:
        try:
            try:
                lane.handle = self.executor.open_lane(lane.name, lane.key)
            except Exception as exc:
                lane.error = f"lane {lane.name} could not start: {type(exc).__name__}: {exc}"
            while True:
                with self._cond:
                    job = self._pick(lane)
                    while job is None:
                        if self._lane_done(lane):
                            del self._lanes[lane.name]
                            if not self._lanes:
                                self._lost.clear()
                            self._cond.notify_all()
                            return
                        self._cond.wait()
                        job = self._pick(lane)
                self._execute(lane, job)
        finally:
            if lane.handle is not None:
                self.executor.close_lane(lane.handle)

    def _execute(self, lane: Lane, job: Job) -> None:
        started = time.perf_counter()
        batch = job.batch
        job.attempts += 1
        batch.attempts[job.index], batch.lanes[job.index] = job.attempts, lane.name
        try:
            outcome = self._attempt(lane, job)
        except JobLost as lost:
            self._release(lane, job)
            if job.attempts <= self.executor.max_resubmits:
                self._requeue(lane, job, lost)
                return
            outcome = TrainingOutcome(job.expert, time.perf_counter() - started,
                                      f"worker lost: {lost}", str(job.placement.device),
                                      self.executor.backend)  # fmt: skip
        else:
            self._release(lane, job)
        if outcome.ok and not outcome.retried_on_cpu:
            durations.record(outcome.expert.name, outcome.device, outcome.seconds, batch.rows)
        with self._cond:
            batch.outcomes[job.index] = outcome
            batch.finished += 1
            done = batch.finished
        _report(job, outcome, done)
        with self._cond:
            self.history.append(
                JobRecord(job.round, job.k, batch.id, outcome.expert.name,
                          str(job.placement.device), lane.name, started,
                          time.perf_counter(), outcome.ok)
            )  # fmt: skip
            batch.settle()
            self._start_lanes()
            self._cond.notify_all()

    def _attempt(self, lane: Lane, job: Job) -> TrainingOutcome:
        """One run of ``job``; a failure to run it is its outcome (never raises but
        :class:`JobLost`)."""
        started = time.perf_counter()
        expert, placement = job.expert, job.placement
        try:
            logger.info("expert %s training on %s (%d threads, lane %s, round %d job %d)",
                        expert.name, placement.device, placement.threads, lane.name,
                        job.round, job.k)  # fmt: skip
            job.batch.spec.started(expert.name, str(placement.device))
            if lane.error is not None:
                return TrainingOutcome(expert, 0.0, lane.error, str(placement.device))
            return self.executor.run(lane.handle, job)
        except JobLost:
            raise
        except BaseException as exc:  # scheduling itself failed for this expert
            elapsed = time.perf_counter() - started
            return TrainingOutcome(expert, elapsed, f"{type(exc).__name__}: {exc}")

    def _release(self, lane: Lane, job: Job) -> None:
        with self._cond:
            if lane.key == CPU_LANES:
                self._cpu_in_use -= job.tokens
                job.batch.cpu_running -= 1
            self._running -= 1
            lane.busy = False

    def _requeue(self, lane: Lane, job: Job, lost: JobLost) -> None:
        """Queue ``job`` again; when its lane is lost, that lane's queue moves too."""
        with self._cond:
            moved = [job]
            if lost.lane_lost:
                self._lost.add(lane.key)
                moved += self._queues.pop(lane.key, [])
            for n, again in enumerate(moved):
                again.key, again.placement = self.executor.place(again.planned, n)
                self._queues.setdefault(again.key, []).append(again)
            logger.warning("expert %s lost its worker on lane %s (%s); %d job(s) queued again",
                           job.expert.name, lane.name, lost, len(moved))  # fmt: skip
            self._start_lanes()
            self._cond.notify_all()


def _report(job: Job, outcome: TrainingOutcome, done: int) -> None:
    """Log ``job``'s outcome (``done`` of its batch have finished) and call ``on_done``."""
    batch, expert = job.batch, outcome.expert
    if outcome.ok:
        worker = f"{outcome.worker} node {outcome.host}" if outcome.host else outcome.worker
        logger.info("expert %s trained on %s in %.2fs (%s%s) [%d/%d]", expert.name,
                    outcome.device, outcome.seconds, worker,
                    ", after out of memory: retried on cpu" if outcome.retried_on_cpu else "",
                    done, batch.total)  # fmt: skip
    else:
        logger.warning("expert %s failed on %s and is dropped: %s [%d/%d]", expert.name,
                       outcome.device or job.placement.device, outcome.error, done,
                       batch.total)  # fmt: skip
    batch.spec.done(outcome)
