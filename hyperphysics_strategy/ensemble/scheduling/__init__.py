"""Training expert jobs: one scheduling core (:mod:`.core`) with executors for this
machine (:mod:`.local`: threads and worker processes) and for a Ray cluster
(:mod:`.ray_tasks`). :func:`train_experts` is the entry point; see docs/scheduling.md."""

from .backends import (
    BACKENDS,
    check_backend,
    default_scheduler,
    scheduler_for,
    train_experts,
    use_scheduler,
)
from .batch import TrainingBatch
from .core import JobRecord, RoundScheduler
from .executor import Executor, JobLost, round_robin
from .local import LocalExecutor
from .outcome import ProcessMode, TrainingOutcome, fit_with_fallback
from .ray_tasks import RayExecutor

__all__ = [
    "BACKENDS",
    "Executor",
    "JobLost",
    "JobRecord",
    "LocalExecutor",
    "ProcessMode",
    "RayExecutor",
    "RoundScheduler",
    "TrainingBatch",
    "TrainingOutcome",
    "check_backend",
    "default_scheduler",
    "fit_with_fallback",
    "round_robin",
    "scheduler_for",
    "train_experts",
    "use_scheduler",
]
