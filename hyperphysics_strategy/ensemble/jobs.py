"""Run one expert job in a lane: in a thread or a worker process; drop the ones that fail.

Where and when each expert trains is the scheduler's business (:mod:`.scheduler`: one
lane per GPU, CPU lanes within the usable cores, round-robin over a whole training
round, longest first); this module runs one job in a lane.

Inside a lane, a tree expert trains in the lane's thread (LightGBM, XGBoost and CatBoost
release the GIL). A torch expert trains in the lane's **worker process** (a
``ProcessPoolExecutor`` with one process, ``spawn`` start method): Python-level training
loops would otherwise serialise on the GIL. ``spawn`` never forks the parent, so lanes
are safe to start from FreqAI's background training thread. The worker receives each
caller's training data once (it keeps the last few, see :class:`_Lane`) and each expert
and placement as pickles, and sends back the fitted expert, whose ``__getstate__`` holds
CPU tensors only. Log lines the worker emits are replayed in the parent's log.

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
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from hyperphysics_strategy.engine.hardware import CPU

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
#: Training sets this worker holds, by batch key (one ``train_experts`` call each); the
#: parent lane decides what is kept (:class:`_Lane`), so both sides agree.
_WORKER_DATA: dict[int, FitData] = {}


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, f"{record.name}: {record.getMessage()}"))


def _worker_fit(
    key: int, data: FitData | None, drop: list[int], expert: Expert, placement: Placement
) -> tuple[Any, ...]:
    for old in drop:
        _WORKER_DATA.pop(old, None)
    if data is not None:
        _WORKER_DATA[key] = data
    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        fit_data = _WORKER_DATA.get(key)
        assert fit_data is not None, f"worker has no training data for batch {key}"
        seconds, error, device, retried = fit_with_fallback(expert, fit_data, placement)
    finally:
        root.removeHandler(handler)
    return expert, seconds, error, device, retried, handler.lines


# -- parent side --------------------------------------------------------------------------
class _Lane:
    """One worker lane's spawned process (for torch experts), started on first use.

    A lane trains jobs of several callers (batches, each with its own training set): the
    worker keeps the last ``cache_size`` training sets it was sent, and this side
    remembers which, so each set crosses to the worker once while its batch is busy.
    """

    def __init__(self, name: str, cache_size: int = 3) -> None:
        self.name = name
        self.cache_size = max(1, cache_size)
        self.pool: ProcessPoolExecutor | None = None
        self.sent: OrderedDict[int, None] = OrderedDict()

    def process_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            self.sent.clear()
        return self.pool

    def submit(self, key: int, data: FitData, expert: Expert, placement: Placement) -> Future:
        pool = self.process_pool()
        payload: FitData | None = None
        drop: list[int] = []
        if key in self.sent:
            self.sent.move_to_end(key)
        else:
            payload = data
            self.sent[key] = None
            while len(self.sent) > self.cache_size:
                drop.append(self.sent.popitem(last=False)[0])
        try:
            return pool.submit(_worker_fit, key, payload, drop, expert, placement)
        except Exception:
            self.sent.clear()
            raise

    def kill(self) -> None:
        self.sent.clear()
        if self.pool is None:
            return
        # ProcessPoolExecutor has no public way to stop a running task in Python 3.11.
        for process in list(getattr(self.pool, "_processes", {}).values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def close(self) -> None:
        self.sent.clear()
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
    lane: _Lane,
    key: int,
    data: FitData,
    expert: Expert,
    placement: Placement,
    timeout: float | None,
) -> TrainingOutcome:
    start = time.perf_counter()
    try:
        future = lane.submit(key, data, expert, placement)
        fitted, seconds, error, device, retried, lines = future.result(timeout=timeout)
    except Exception as exc:  # timed out, worker died, or the job could not run
        if isinstance(exc, FutureTimeout):
            why = f"timed out after {timeout:g}s"
        elif isinstance(exc, BrokenProcessPool):
            why = f"worker process died: {exc}"
        else:
            why = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, FutureTimeout | BrokenProcessPool):
            lane.kill()  # its worker is stuck or gone: the lane starts a fresh one
        elapsed = time.perf_counter() - start
        return TrainingOutcome(expert, elapsed, why, str(placement.device), "process")
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
