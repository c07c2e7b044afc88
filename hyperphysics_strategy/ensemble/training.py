"""Train a batch of experts on this machine: the ``local`` backend's entry point.

:func:`train_experts` hands the batch to the process-wide round scheduler
(:mod:`.scheduler`), which places each job on a lane and runs it there (:mod:`.jobs`).
The ``ray`` backend (:mod:`.ray_backend`) has the same contract (:mod:`.batch`).
"""

from __future__ import annotations

from .batch import TrainingBatch, batch_trainer
from .jobs import TrainingOutcome
from .scheduler import default_scheduler


def train_locally(batch: TrainingBatch) -> list[TrainingOutcome]:
    """Fit every expert on its placement; return outcomes in the experts' order.

    ``train_experts(experts, data, placements, max_workers, on_done=None, *,
    on_start=None, use_processes=None, timeout=None)``: the arguments are those of
    :class:`~.batch.TrainingBatch`.

    The experts go to the process-wide :class:`~.scheduler.RoundScheduler` as one batch:
    calls from several threads (one ensemble per pair) share its device lanes, and a
    placement with a ``pool`` may be moved to another device of that pool (round-robin
    over the whole round). At most ``max_workers`` minus the GPU devices of
    ``placements`` (at least one) of these experts train on the CPU at once. For a
    process lane, ``on_start`` is called when the lane submits the expert to its worker.
    """
    return default_scheduler().run(batch)


train_experts = batch_trainer(train_locally)
