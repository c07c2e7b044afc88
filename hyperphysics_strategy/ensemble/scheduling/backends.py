"""The training backends by name, each one :class:`~.core.RoundScheduler` for the process,
and :func:`train_experts`, the one entry point the ensemble calls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ..experts import Expert, FitData, Placement
from .batch import TrainingBatch
from .core import RoundScheduler
from .outcome import ProcessMode, TrainingOutcome
from .ray_tasks import RayExecutor

#: ``"local"``: threads and worker processes on this machine (:mod:`.local`); ``"ray"``:
#: Ray tasks on a cluster (:mod:`.ray_tasks`; needs the ``ray`` extra).
BACKENDS = ("local", "ray")

_schedulers: dict[str, RoundScheduler] = {}
_lock = threading.Lock()


def check_backend(backend: str) -> str:
    """``backend``, or a ``ValueError`` naming the known ones."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def scheduler_for(backend: str = "local") -> RoundScheduler:
    """The process-wide scheduler of ``backend`` (made on first use)."""
    check_backend(backend)
    with _lock:
        if backend not in _schedulers:
            executor = RayExecutor() if backend == "ray" else None
            _schedulers[backend] = RoundScheduler(executor=executor)
        return _schedulers[backend]


def default_scheduler() -> RoundScheduler:
    """The process-wide scheduler of the ``local`` backend (what live rounds hold open)."""
    return scheduler_for("local")


@contextmanager
def use_scheduler(scheduler: RoundScheduler) -> Iterator[RoundScheduler]:
    """Make ``scheduler`` the process-wide one of its executor's backend for the duration
    (tests, benchmarks)."""
    backend = check_backend(scheduler.executor.backend)
    with _lock:
        previous = _schedulers.get(backend)
        _schedulers[backend] = scheduler
    try:
        yield scheduler
    finally:
        with _lock:
            if previous is None:
                _schedulers.pop(backend, None)
            else:
                _schedulers[backend] = previous


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
    backend: str = "local",
) -> list[TrainingOutcome]:
    """Fit every expert on its placement; return outcomes in the experts' order.

    The arguments are those of :class:`~.batch.TrainingBatch`. The experts go to
    ``backend``'s :class:`~.core.RoundScheduler` as one batch: calls from several threads
    (one ensemble per pair) share its lanes, and a placement with a ``pool`` may be moved
    to another device of that pool (round-robin over the whole round).
    """
    batch = TrainingBatch(
        experts,
        data,
        placements,
        max_workers,
        on_done,
        on_start=on_start,
        use_processes=use_processes,
        timeout=timeout,
    )
    return scheduler_for(backend).run(batch)
