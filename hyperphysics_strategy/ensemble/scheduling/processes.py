"""A lane's worker process: torch experts train there, outside the parent's GIL.

A ``ProcessPoolExecutor`` with one process, ``spawn`` start method: ``spawn`` never forks
the parent, so lanes are safe to start from FreqAI's background training thread. The
worker receives each batch's training data once (it keeps the last few, see
:class:`WorkerProcess`) and each expert and placement as pickles, and sends back the
fitted expert, whose ``__getstate__`` holds CPU tensors only. Log lines the worker emits
are replayed in the parent's log. A job that runs past its timeout, or whose worker dies,
ends with an error, and the lane starts a fresh worker for its next job.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..experts import Expert, FitData, Placement
from .outcome import ProcessMode, TrainingOutcome, captured_log, fit_with_fallback, replay_log
from .outcome import timed_out as timed_out_error

#: Training sets this worker holds, by batch key (one ``train_experts`` call each); the
#: parent lane decides what is kept (:class:`WorkerProcess`), so both sides agree.
_WORKER_DATA: dict[int, FitData] = {}


def _worker_fit(
    key: int, data: FitData | None, drop: list[int], expert: Expert, placement: Placement
) -> tuple[Any, ...]:
    for old in drop:
        _WORKER_DATA.pop(old, None)
    if data is not None:
        _WORKER_DATA[key] = data
    with captured_log() as lines:
        fit_data = _WORKER_DATA.get(key)
        assert fit_data is not None, f"worker has no training data for batch {key}"
        seconds, error, device, retried = fit_with_fallback(expert, fit_data, placement)
    return expert, seconds, error, device, retried, lines


class WorkerProcess:
    """One lane's spawned process (for torch experts), started on first use.

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

    def run(
        self, key: int, data: FitData, expert: Expert, placement: Placement, timeout: float | None
    ) -> TrainingOutcome:
        """Train ``expert`` in this worker; its outcome (a timeout or a dead worker is an
        error, and the worker is replaced for the next job)."""
        start = time.perf_counter()
        try:
            future = self.submit(key, data, expert, placement)
            fitted, seconds, error, device, retried, lines = future.result(timeout=timeout)
        except Exception as exc:  # timed out, worker died, or the job could not run
            if isinstance(exc, FutureTimeout):
                why = timed_out_error(timeout or 0.0)
            elif isinstance(exc, BrokenProcessPool):
                why = f"worker process died: {exc}"
            else:
                why = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, FutureTimeout | BrokenProcessPool):
                self.kill()  # its worker is stuck or gone: the lane starts a fresh one
            elapsed = time.perf_counter() - start
            return TrainingOutcome(expert, elapsed, why, str(placement.device), "process")
        replay_log(expert.name, "worker", lines)
        return TrainingOutcome(fitted, seconds, error, device, "process", retried)

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


def wants_process(expert: Expert, use_processes: ProcessMode) -> bool:
    """Whether ``expert`` trains in a worker process (``use_processes``: ``None`` torch
    experts only, ``True`` every expert that pickles, ``False`` none)."""
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
