"""Train experts in parallel, one worker lane per device; drop the ones that fail.

Scheduling follows the hardware module's plan (each expert arrives with its
:class:`~.experts.Placement`):

* every GPU (or MPS device) gets **one lane** that trains the experts placed on it one
  after the other, so eight GPUs train eight experts at once;
* the experts placed on the CPU share ``max_workers`` lanes (minus the GPU lanes, at
  least one), each expert using its placement's thread budget, so together they stay
  within the usable cores;
* every lane takes the longest expert left on its device first (:mod:`.durations`:
  measured times from earlier rounds, else priors), so that no slow expert trails alone.

Inside a lane, a tree expert trains in the lane's thread (LightGBM, XGBoost and CatBoost
release the GIL). A torch expert trains in the lane's **worker process** (a
``ProcessPoolExecutor`` with one process, ``spawn`` start method): Python-level training
loops would otherwise serialise on the GIL. ``spawn`` never forks the parent, so lanes
are safe to start from FreqAI's background training thread. The worker receives the
training data once (pool initializer) and each expert and placement as pickles, and
sends back the fitted expert, whose ``__getstate__`` holds CPU tensors only. Log lines
the worker emits are replayed in the parent's log.

Failures: an expert that raises, times out (``timeout`` seconds; its worker process is
terminated) or whose worker dies is logged and dropped. A device out-of-memory error
retries the expert once on the CPU.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from hyperphysics_strategy.engine.hardware import CPU

from . import durations
from .experts import Expert, FitData, Placement
from .experts.torch_base import is_out_of_memory

logger = logging.getLogger(__name__)

#: ``use_processes`` values: None = torch experts in processes, True = every expert.
ProcessMode = bool | None


@dataclass
class TrainingOutcome:
    expert: Expert
    seconds: float
    error: str | None = None
    device: str = ""
    worker: str = "thread"
    retried_on_cpu: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def cpu_placement(expert: Expert, threads: int, reason: str) -> Placement:
    """The CPU placement of ``expert``'s library, as the hardware plan would write it."""
    return Placement(expert.library, CPU, threads, reason, task=expert.name)


def fit_with_fallback(
    expert: Expert, data: FitData, placement: Placement
) -> tuple[float, str | None, str, bool]:
    """Fit ``expert``; on a device out-of-memory error retry once on the CPU.

    Returns ``(seconds, error or None, device it trained on, retried on CPU)``.
    """
    start = time.perf_counter()
    try:
        expert.fit(data, placement)
        return time.perf_counter() - start, None, str(placement.device), False
    except Exception as exc:  # one broken expert must not sink the ensemble
        if placement.device == CPU or not is_out_of_memory(exc):
            return (
                time.perf_counter() - start,
                f"{type(exc).__name__}: {exc}",
                str(placement.device),
                False,
            )
        logger.warning(
            "expert %s ran out of memory on %s (%s); retrying once on the CPU",
            expert.name,
            placement.device,
            exc,
        )
        _release_device_memory()
    fallback = cpu_placement(expert, placement.threads, f"out of memory on {placement.device}")
    try:
        expert.fit(data, fallback)
    except Exception as exc:
        return time.perf_counter() - start, f"{type(exc).__name__}: {exc}", "cpu", True
    return time.perf_counter() - start, None, "cpu", True


def _release_device_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort
        pass


# -- worker process side ----------------------------------------------------------------
_WORKER_DATA: FitData | None = None


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, f"{record.name}: {record.getMessage()}"))


def _worker_init(data: FitData) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


def _worker_fit(expert: Expert, placement: Placement) -> tuple[Any, ...]:
    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        assert _WORKER_DATA is not None, "worker started without training data"
        seconds, error, device, retried = fit_with_fallback(expert, _WORKER_DATA, placement)
    finally:
        root.removeHandler(handler)
    return expert, seconds, error, device, retried, handler.lines


# -- parent side --------------------------------------------------------------------------
class _Lane:
    """One worker lane: a thread here and, for torch experts, one spawned process."""

    def __init__(self, name: str, data: FitData) -> None:
        self.name = name
        self.data = data
        self.pool: ProcessPoolExecutor | None = None

    def process_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(self.data,),
            )
        return self.pool

    def kill(self) -> None:
        if self.pool is None:
            return
        # ProcessPoolExecutor has no public way to stop a running task in Python 3.11.
        for process in list(getattr(self.pool, "_processes", {}).values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def _wants_process(expert: Expert, use_processes: ProcessMode) -> bool:
    if use_processes is False:
        return False
    if use_processes is None and expert.library != "torch":
        return False
    if multiprocessing.current_process().daemon:  # daemons may not have children
        return False
    try:
        pickle.dumps(expert)
    except Exception:  # e.g. a class defined inside a function: train in a thread
        return False
    return True


def _run_in_process(
    lane: _Lane, expert: Expert, placement: Placement, timeout: float | None
) -> TrainingOutcome:
    start = time.perf_counter()
    try:
        future = lane.process_pool().submit(_worker_fit, expert, placement)
        fitted, seconds, error, device, retried, lines = future.result(timeout=timeout)
    except FutureTimeout:
        lane.kill()
        return TrainingOutcome(
            expert,
            time.perf_counter() - start,
            f"timed out after {timeout:g}s",
            str(placement.device),
            "process",
        )
    except BrokenProcessPool as exc:
        lane.kill()
        return TrainingOutcome(
            expert,
            time.perf_counter() - start,
            f"worker process died: {exc}",
            str(placement.device),
            "process",
        )
    except Exception as exc:
        return TrainingOutcome(
            expert,
            time.perf_counter() - start,
            f"{type(exc).__name__}: {exc}",
            str(placement.device),
            "process",
        )
    for level, line in lines:
        logger.log(level, "[%s worker] %s", expert.name, line)
    return TrainingOutcome(fitted, seconds, error, device, "process", retried)


def _run_in_thread(
    expert: Expert, data: FitData, placement: Placement, timeout: float | None
) -> TrainingOutcome:
    if timeout is None:
        seconds, error, device, retried = fit_with_fallback(expert, data, placement)
        return TrainingOutcome(expert, seconds, error, device, "thread", retried)
    result: list[tuple[float, str | None, str, bool]] = []
    start = time.perf_counter()
    thread = threading.Thread(
        target=lambda: result.append(fit_with_fallback(expert, data, placement)),
        name=f"hp-expert-{expert.name}",
        daemon=True,  # a timed-out library call cannot be interrupted; it is abandoned
    )
    thread.start()
    thread.join(timeout)
    if not result:
        return TrainingOutcome(
            expert,
            time.perf_counter() - start,
            f"timed out after {timeout:g}s",
            str(placement.device),
        )
    seconds, error, device, retried = result[0]
    return TrainingOutcome(expert, seconds, error, device, "thread", retried)


def train_experts(
    experts: Sequence[Expert],
    data: FitData,
    placements: Sequence[Placement],
    max_workers: int,
    on_done: Callable[[TrainingOutcome], None] | None = None,
    *,
    on_start: Callable[[str, str], None] | None = None,
    use_processes: ProcessMode = None,
    timeout: float | None = None,
) -> list[TrainingOutcome]:
    """Fit every expert on its placement; return outcomes in the experts' order.

    ``use_processes``: ``None`` (default) trains torch experts in worker processes and
    tree experts in threads, ``False`` everything in threads, ``True`` everything in
    processes. ``timeout``: seconds one expert may train before it is dropped.

    Progress callbacks (for a display; both are called in the parent process, one call
    at a time): ``on_start(expert_name, device)`` when a lane starts an expert (for a
    process lane: when it submits the expert to its worker), ``on_done(outcome)`` when
    it finishes or is dropped. An exception raised by ``on_start`` is logged and ignored.
    """
    if len(experts) != len(placements):
        raise ValueError(f"{len(experts)} experts but {len(placements)} placements")
    rows = int(data.X.shape[0])
    by_device: dict[str, list[int]] = {}
    for i, placement in enumerate(placements):
        by_device.setdefault(str(placement.device), []).append(i)
    queues = {  # each lane takes the longest expert left on its device first
        device: deque(durations.longest_first(indices, experts, placements, rows))
        for device, indices in by_device.items()
    }
    gpu_devices = [d for d in queues if d != "cpu"]
    cpu_lanes = max(1, max_workers - len(gpu_devices)) if "cpu" in queues else 0
    cpu_lanes = min(cpu_lanes, len(queues.get("cpu", ())))
    lane_specs = [(d, d) for d in gpu_devices] + [(f"cpu#{k}", "cpu") for k in range(cpu_lanes)]

    total = len(experts)
    outcomes: list[TrainingOutcome | None] = [None] * total
    lock = threading.Lock()
    finished = [0]

    def finish(i: int, outcome: TrainingOutcome) -> None:
        expert = outcome.expert
        if outcome.ok and not outcome.retried_on_cpu:
            durations.record(expert.name, outcome.device, outcome.seconds, rows)
        with lock:
            outcomes[i] = outcome
            finished[0] += 1
            done = finished[0]
        if outcome.ok:
            logger.info(
                "expert %s trained on %s in %.2fs (%s%s) [%d/%d]",
                expert.name,
                outcome.device,
                outcome.seconds,
                outcome.worker,
                ", after out of memory: retried on cpu" if outcome.retried_on_cpu else "",
                done,
                total,
            )
        else:
            logger.warning(
                "expert %s failed on %s and is dropped: %s [%d/%d]",
                expert.name,
                outcome.device or placements[i].device,
                outcome.error,
                done,
                total,
            )
        if on_done is not None:
            with lock:
                on_done(outcome)

    def run_lane(lane_name: str, device: str) -> None:
        lane = _Lane(lane_name, data)
        try:
            while True:
                with lock:
                    queue = queues[device]
                    if not queue:
                        return
                    i = queue.popleft()
                expert, placement = experts[i], placements[i]
                logger.info(
                    "expert %s training on %s (%d threads, lane %s)",
                    expert.name,
                    placement.device,
                    placement.threads,
                    lane_name,
                )
                if on_start is not None:
                    try:
                        with lock:
                            on_start(expert.name, str(placement.device))
                    except Exception as exc:  # a display must not stop training
                        logger.warning("progress callback failed for %s: %s", expert.name, exc)
                try:
                    if _wants_process(expert, use_processes):
                        outcome = _run_in_process(lane, expert, placement, timeout)
                    else:
                        outcome = _run_in_thread(expert, data, placement, timeout)
                except Exception as exc:  # scheduling itself failed for this expert
                    outcome = TrainingOutcome(expert, 0.0, f"{type(exc).__name__}: {exc}")
                finish(i, outcome)
        finally:
            lane.close()

    threads = [
        threading.Thread(target=run_lane, args=spec, name=f"hp-lane-{spec[0]}", daemon=True)
        for spec in lane_specs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    missing = [experts[i].name for i, o in enumerate(outcomes) if o is None]
    if missing:  # pragma: no cover - a lane thread died outside the per-expert guard
        raise RuntimeError(f"experts never trained: {missing}")
    return [o for o in outcomes if o is not None]
