"""Live and dry-run training in rounds: every pair whose model is due trains at once.

FreqAI's live loop (``IFreqaiModel._start_scanning``) takes one pair at a time from its
train queue, trains it, rotates the queue and sleeps a second: with 50 pairs the oldest
model is hours old. :class:`LiveRounds` replaces that loop (same thread, same stop event):

1. every second it asks FreqAI, pair by pair in queue order (oldest model first), whether
   a new model is due (``FreqaiDataKitchen.check_if_new_training_required``; a pair no
   longer in the whitelist leaves the queue, as in FreqAI);
2. all due pairs train together, one thread per pair (at most ``max_pairs`` at once),
   inside one round of the process-wide expert scheduler
   (:mod:`hyperphysics_strategy.ensemble.scheduling`): their expert jobs share the device
   lanes, round-robin over every GPU, longest first;
3. each pair's model is published the moment it is ready, with FreqAI's own steps and
   files: ``trained_timestamp`` in the pair dictionary, ``dd.save_data`` (the model
   folder and its metadata; crash-safe, see :mod:`.model_store`), the old models purged,
   the historic predictions saved. Publications are serialised by one lock, because the
   drawer's save path keeps per-call state on the drawer;
4. the round's log lines name the pairs trained together, the wall time, and the age of
   every pair's model (now minus the end of its training range).

A pair that fails is logged with its traceback, as in FreqAI, and keeps its last model;
the other pairs of the round are unaffected. When FreqAI stops mid-round (its shutdown
joins this thread) the round's queued expert jobs are dropped, the jobs running finish,
and no model of that round is published. The drawer's history frames are read under
its ``history_lock`` (see :mod:`.history_dates` for the live date bug this survives).

What mirrors FreqAI lives in :mod:`.compat`: choosing the due pairs
(:mod:`.compat.start_scanning`), preparing, training and publishing one pair
(:mod:`.compat.extract_data_and_train_model`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hyperphysics_strategy.ensemble.scheduling import scheduler_for

from .compat.extract_data_and_train_model import publish_model, tensorboard, training_frame
from .compat.start_scanning import DuePair, due_pairs, model_ages, stop_event, to_the_back

logger = logging.getLogger(__name__)


#: ``PairResult.error`` of a pair whose training FreqAI's stop cut short.
STOPPED = "stopped"


class _Stopping(Exception):
    """FreqAI's stop event was set: leave the pair's last model in place."""


@dataclass
class PairResult:
    pair: str
    seconds: float
    error: str | None = None


@dataclass
class RoundReport:
    number: int
    seconds: float
    results: list[PairResult] = field(default_factory=list)
    ages: dict[str, float] = field(default_factory=dict)  # pair -> seconds, models only

    @property
    def trained(self) -> list[str]:
        return [r.pair for r in self.results if r.error is None]

    def lines(self) -> list[str]:
        """Two log lines: the pairs trained together (and those that failed or were
        stopped), then every pair's model age (short lines: freqtrade's console wraps)."""
        trained = self.trained
        together = "together " if len(trained) > 1 else ""
        text = (
            f"round {self.number}: trained {', '.join(trained) or 'no pair'} {together}"
            f"in {self.seconds:.1f} s"
        )
        stopped = [r.pair for r in self.results if r.error == STOPPED]
        failed = [r for r in self.results if r.error not in (None, STOPPED)]
        if failed:
            text += "; failed: " + ", ".join(f"{r.pair} ({r.error})" for r in failed)
        if stopped:
            text += "; not published, FreqAI is stopping: " + ", ".join(stopped)
        ages = ", ".join(f"{pair} {format_age(age)}" for pair, age in self.ages.items())
        return [text, f"round {self.number}: model ages: {ages or 'none yet'}"]


def format_age(seconds: float) -> str:
    """``41 s``, ``12.5 min``, ``4.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class LiveRounds:
    """FreqAI's live training loop, in rounds (see the module docstring).

    ``model`` is the FreqAI model (an ``IFreqaiModel``); ``max_pairs`` bounds the pairs
    trained at once (None: every due pair).
    """

    def __init__(self, model: Any, max_pairs: int | None = None) -> None:
        if max_pairs is not None and max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
        self.model = model
        self.max_pairs = max_pairs
        self.rounds = 0
        self.publish_lock = threading.Lock()

    # -- the loop --------------------------------------------------------------------------
    def run(self, strategy: Any) -> None:
        """The body of FreqAI's training thread: rounds until the stop event is set."""
        stop = stop_event(self.model)
        if stop is None:
            raise TypeError(f"{type(self.model).__name__} has no FreqAI stop event")
        while not stop.wait(1.0):
            due = self.due_pairs(strategy)
            if due:
                self.train_round(due, strategy)

    def due_pairs(self, strategy: Any) -> list[DuePair]:
        """The pairs of FreqAI's train queue whose model is due, oldest model first."""
        return due_pairs(self.model, strategy)

    def train_round(self, due: list[DuePair], strategy: Any) -> RoundReport:
        """Train ``due`` together, publishing each model when ready; log and return the
        round's report."""
        self.rounds += 1
        pairs = [d.pair for d in due]
        workers = min(len(due), self.max_pairs or len(due))
        logger.info(
            "HyperPhysics round %d: %d pair(s) due, training %d at once: %s",
            self.rounds,
            len(due),
            workers,
            ", ".join(pairs),
        )
        started = time.perf_counter()
        # the backend the model trains on holds the round: its pairs' jobs are numbered
        # and shared out together, on local lanes or on the Ray cluster's
        params = getattr(self.model, "params", None)
        scheduler = scheduler_for(getattr(params, "backend", "local"))
        finished = threading.Event()
        watcher = threading.Thread(
            target=self._cancel_on_stop, args=(scheduler, finished), daemon=True
        )
        with (
            scheduler.round(),
            ThreadPoolExecutor(workers, thread_name_prefix="hp-round-pair") as pool,
        ):
            watcher.start()
            try:
                results = list(pool.map(lambda d: self.train_pair(d, strategy), due))
            finally:
                finished.set()
        report = RoundReport(self.rounds, time.perf_counter() - started, results)
        to_the_back(self.model, pairs)
        report.ages = self.model_ages()
        for line in report.lines():
            logger.info("HyperPhysics %s", line)
        return report

    def _cancel_on_stop(self, scheduler: Any, finished: threading.Event) -> None:
        """When FreqAI stops mid-round, drop the round's queued expert jobs: its shutdown
        waits for this thread, and a round holds every pair's jobs, not one pair's."""
        while not finished.is_set():
            if self._stopping() and not finished.is_set():
                dropped = scheduler.cancel_round("FreqAI is stopping")
                logger.info(
                    "HyperPhysics round %d: FreqAI is stopping; %d queued expert job(s) "
                    "dropped, the models of this round are not published",
                    self.rounds,
                    dropped,
                )
                return
            time.sleep(0.2)

    def _stopping(self) -> bool:
        stop = stop_event(self.model)
        return stop is not None and stop.is_set()

    # -- one pair ----------------------------------------------------------------------------
    def train_pair(self, item: DuePair, strategy: Any) -> PairResult:
        """FreqAI's ``extract_data_and_train_model`` for one pair, its training outside
        and its publication inside the publish lock; never raises."""
        pair = item.pair
        started = time.perf_counter()
        try:
            unfiltered = training_frame(self.model, item, strategy)
            with tensorboard(self.model, item.dk):
                if self._stopping():
                    raise _Stopping
                trained = self.model.train(unfiltered, pair, item.dk)
            if self._stopping():  # its experts may have been dropped: keep the last model
                raise _Stopping
            self.publish(trained, item, time.perf_counter() - started)
        except Exception as exc:
            if self._stopping():
                logger.info("HyperPhysics %s: not published, FreqAI is stopping", pair)
                return PairResult(pair, time.perf_counter() - started, STOPPED)
            logger.exception(
                f"Training {pair} raised exception {exc.__class__.__name__}. "
                f"Message: {exc}, skipping."
            )
            return PairResult(pair, time.perf_counter() - started, type(exc).__name__)
        return PairResult(pair, time.perf_counter() - started)

    def publish(self, trained: Any, item: DuePair, seconds: float) -> None:
        """Make ``trained`` the pair's model, with FreqAI's own steps and files."""
        with self.publish_lock:
            publish_model(self.model, trained, item, seconds)
        logger.info("HyperPhysics %s: model published after %.1f s", item.pair, seconds)

    def model_ages(self) -> dict[str, float]:
        """Seconds since the end of each whitelisted pair's training range (pairs with a
        model only), in train-queue order."""
        return model_ages(self.model, datetime.now(tz=UTC).timestamp())
