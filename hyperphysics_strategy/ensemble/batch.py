"""One ``train_experts`` call as an object, and the one signature every backend shares.

A training backend (this machine's round scheduler, :mod:`.training`; Ray tasks,
:mod:`.ray_backend`) is a function that trains one :class:`TrainingBatch` and returns its
outcomes. :func:`batch_trainer` turns it into the public entry point
``train_experts(experts, data, placements, max_workers, on_done=None, *, on_start=None,
use_processes=None, timeout=None)``, so the call's arguments, their check and their
meaning are written here once, and the ensemble picks a backend by name (``backend=``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field

from .experts import Expert, FitData, Placement
from .jobs import ProcessMode, TrainingOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainingBatch:
    """The arguments of one ``train_experts`` call.

    * ``experts``, ``placements``: one placement per expert (same length, else a
      ``ValueError``); ``data``: the training set every expert of the batch fits.
    * ``max_workers``: the local backend runs at most ``max_workers`` minus the GPU
      devices of ``placements`` (at least one) of these experts on the CPU at once; the
      Ray backend leaves that bound to the cluster's resources.
    * ``use_processes``: ``None`` (default) trains torch experts in worker processes and
      tree experts in threads, ``False`` everything in threads, ``True`` everything in
      processes (the Ray backend always runs a task in a worker process).
    * ``timeout``: seconds one expert may train before it is dropped.
    * Progress callbacks (for a display; both are called in the parent process, one call
      at a time): ``on_start(expert_name, device)`` when a lane starts an expert,
      ``on_done(outcome)`` when it finishes or is dropped. An exception either raises is
      logged and ignored (:meth:`started`, :meth:`done`).
    """

    experts: Sequence[Expert]
    data: FitData
    placements: Sequence[Placement]
    max_workers: int
    on_done: Callable[[TrainingOutcome], None] | None = None
    _: KW_ONLY
    on_start: Callable[[str, str], None] | None = None
    use_processes: ProcessMode = None
    timeout: float | None = None
    _callback_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.experts) != len(self.placements):
            raise ValueError(f"{len(self.experts)} experts but {len(self.placements)} placements")

    @property
    def rows(self) -> int:
        """Training rows (the durations' scale)."""
        return int(self.data.X.shape[0])

    def started(self, expert_name: str, device: str) -> None:
        """Call ``on_start`` (if any); a display must not stop training."""
        if self.on_start is not None:
            self._call(expert_name, self.on_start, expert_name, device)

    def done(self, outcome: TrainingOutcome) -> None:
        """Call ``on_done`` (if any); a display must not stop training."""
        if self.on_done is not None:
            self._call(outcome.expert.name, self.on_done, outcome)

    def _call(self, expert_name: str, callback: Callable[..., None], *args: object) -> None:
        try:
            with self._callback_lock:
                callback(*args)
        except Exception as exc:
            logger.warning("progress callback failed for %s: %s", expert_name, exc)


#: A training backend: trains one batch, returns its outcomes in the experts' order.
Backend = Callable[[TrainingBatch], list[TrainingOutcome]]


def batch_trainer(backend: Backend) -> Callable[..., list[TrainingOutcome]]:
    """``backend`` as a ``train_experts`` function: its arguments (those of
    :class:`TrainingBatch`) become a batch, which ``backend`` trains. The function keeps
    ``backend``'s module and docstring."""

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
        return backend(batch)

    train_experts.__module__ = backend.__module__
    train_experts.__qualname__ = "train_experts"
    train_experts.__doc__ = backend.__doc__
    return train_experts
