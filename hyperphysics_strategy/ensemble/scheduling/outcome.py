"""What one expert job ends with, and the fit every executor runs: the CPU retry after a
device out-of-memory error, and the log lines a worker hands back to the parent.

An expert that raises is not an exception for the scheduler: it is the job's outcome
(:class:`TrainingOutcome` with an ``error``), so one broken expert never sinks the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hyperphysics_strategy.engine.hardware import CPU

from ..experts import Expert, FitData, Placement
from ..experts.torch_base import is_out_of_memory

logger = logging.getLogger(__name__)

#: ``use_processes`` values: None = torch experts in processes, True = every expert.
ProcessMode = bool | None


@dataclass
class TrainingOutcome:
    """One job's result: the (fitted) expert, its seconds, and an error or ``None``.

    ``device``: where it trained; ``worker``: ``thread``, ``process`` or ``ray``;
    ``host``: the node it ran on, where that is another machine (Ray); ``retried_on_cpu``:
    it ran out of memory on its device and was trained again on the CPU.
    """

    expert: Expert
    seconds: float
    error: str | None = None
    device: str = ""
    worker: str = "thread"
    retried_on_cpu: bool = False
    host: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def cpu_placement(placement: Placement, reason: str) -> Placement:
    """``placement`` moved to the CPU (same library, threads and task), as the hardware
    plan would write it."""
    return Placement(placement.library, CPU, placement.threads, reason, task=placement.task)


def timed_out(timeout: float) -> str:
    """The error of a job that ran past ``timeout`` seconds (every executor says it so)."""
    return f"timed out after {timeout:g}s"


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
    fallback = cpu_placement(placement, f"out of memory on {placement.device}")
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


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, f"{record.name}: {record.getMessage()}"))


@contextmanager
def captured_log() -> Iterator[list[tuple[int, str]]]:
    """Collect the INFO (and above) log lines emitted inside the block, as ``(level,
    "logger: message")``: a worker process or Ray task sends them back to the parent,
    which replays them (:func:`replay_log`)."""
    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


def replay_log(expert_name: str, where: str, lines: list[tuple[int, str]]) -> None:
    """Log, in this process, the lines a worker captured for ``expert_name``."""
    for level, line in lines:
        logger.log(level, "[%s %s] %s", expert_name, where, line)
