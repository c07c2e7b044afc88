"""The executor of the ``local`` backend: lanes on this machine's devices.

A tree expert trains in its lane's thread (LightGBM, XGBoost and CatBoost release the
GIL); a torch expert in the lane's worker process (:mod:`.processes`), where Python-level
training loops do not serialise on the parent's GIL (``use_processes`` changes that: see
:class:`~.batch.TrainingBatch`). Job ``k`` of a round goes to
``placement.pool[k mod len(pool)]`` (:func:`~.core.round_robin`), one lane per GPU;
CPU jobs share the usable cores minus one per GPU lane (it feeds its device).
"""

from __future__ import annotations

import threading
import time

from ..experts import Expert, FitData, Placement
from .batch import BatchState, Job
from .executor import CPU_LANES, round_robin
from .outcome import TrainingOutcome, fit_with_fallback, timed_out
from .processes import WorkerProcess, wants_process


def run_in_thread(
    expert: Expert, data: FitData, placement: Placement, timeout: float | None
) -> TrainingOutcome:
    """Train ``expert`` in this thread; with a ``timeout``, in a helper thread that is
    abandoned once the time is up (a library call cannot be interrupted)."""
    if timeout is None:
        seconds, error, device, retried = fit_with_fallback(expert, data, placement)
        return TrainingOutcome(expert, seconds, error, device, "thread", retried)
    result: list[tuple[float, str | None, str, bool]] = []
    start = time.perf_counter()
    thread = threading.Thread(
        target=lambda: result.append(fit_with_fallback(expert, data, placement)),
        name=f"hp-expert-{expert.name}",
        daemon=True,
    )
    thread.start()
    thread.join(timeout)
    if not result:
        elapsed = time.perf_counter() - start
        return TrainingOutcome(expert, elapsed, timed_out(timeout), str(placement.device))
    seconds, error, device, retried = result[0]
    return TrainingOutcome(expert, seconds, error, device, "thread", retried)


class LocalExecutor:
    """Threads and worker processes on this machine (see the module's docstring).

    ``cpu_budget``: CPU threads the jobs may hold at once (default: the usable cores of
    :func:`~hyperphysics_strategy.engine.hardware.get_hardware_info`); ``worker_cache``:
    training sets a lane's worker process keeps.
    """

    backend = "local"
    max_resubmits = 0
    keeps_lanes_in_round = True

    def __init__(self, cpu_budget: int | None = None, *, worker_cache: int = 3) -> None:
        if cpu_budget is not None and cpu_budget < 1:
            raise ValueError(f"cpu_budget must be >= 1, got {cpu_budget}")
        self._cpu_budget = cpu_budget
        self.worker_cache = worker_cache

    @property
    def cpu_budget(self) -> int:
        if self._cpu_budget is None:
            from hyperphysics_strategy.engine.hardware import get_hardware_info

            self._cpu_budget = max(1, get_hardware_info().cpu.usable_cores)
        return self._cpu_budget

    def prepare(self, batch: BatchState) -> list[Placement]:
        return list(batch.spec.placements)

    def place(self, placement: Placement, k: int) -> tuple[str, Placement]:
        placed = round_robin(placement, k)
        device = str(placed.device)
        return (CPU_LANES if device == "cpu" else device), placed

    def cpu_capacity(self, gpu_lanes: int) -> int:
        return self.cpu_budget - gpu_lanes

    def batch_cpu_cap(self, batch: BatchState, placements: list[Placement]) -> int:
        gpus = {str(p.device) for p in placements if p.device.is_gpu}
        return max(1, int(batch.spec.max_workers) - len(gpus))

    def open_lane(self, name: str, key: str) -> WorkerProcess:
        return WorkerProcess(name, self.worker_cache)

    def run(self, lane: WorkerProcess, job: Job) -> TrainingOutcome:
        spec = job.batch.spec
        if wants_process(job.expert, spec.use_processes):
            return lane.run(job.batch.id, spec.data, job.expert, job.placement, spec.timeout)
        return run_in_thread(job.expert, spec.data, job.placement, spec.timeout)

    def close_lane(self, lane: WorkerProcess) -> None:
        lane.close()

    def finish(self, batch: BatchState) -> None:
        return None
