"""Train a batch of experts on this machine: the ``local`` backend's entry point.

:func:`train_experts` hands the batch to the process-wide round scheduler
(:mod:`.scheduler`), which places each job on a lane and runs it there (:mod:`.jobs`).
The ``ray`` backend (:mod:`.ray_backend`) has the same contract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .experts import Expert, FitData, Placement
from .jobs import ProcessMode, TrainingOutcome
from .scheduler import default_scheduler


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

    The experts go to the process-wide :class:`~.scheduler.RoundScheduler` as one batch:
    calls from several threads (one ensemble per pair) share its device lanes, and a
    placement with a ``pool`` may be moved to another device of that pool (round-robin
    over the whole round). At most ``max_workers`` minus the GPU devices of
    ``placements`` (at least one) of these experts train on the CPU at once.

    ``use_processes``: ``None`` (default) trains torch experts in worker processes and
    tree experts in threads, ``False`` everything in threads, ``True`` everything in
    processes. ``timeout``: seconds one expert may train before it is dropped.

    Progress callbacks (for a display; both are called in the parent process, one call
    at a time): ``on_start(expert_name, device)`` when a lane starts an expert (for a
    process lane: when it submits the expert to its worker), ``on_done(outcome)`` when
    it finishes or is dropped. An exception raised by ``on_start`` is logged and ignored.
    """
    return default_scheduler().run(
        experts,
        data,
        placements,
        max_workers,
        on_done,
        on_start=on_start,
        use_processes=use_processes,
        timeout=timeout,
    )
