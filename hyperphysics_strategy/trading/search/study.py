"""The search loop: an Optuna study (NSGA-II, journal file) over walk-forward trials.

* **Storage.** ``OUT/study.journal`` (Optuna's ``JournalFileBackend``): every trial's
  state is appended as it changes, so a killed search loses nothing that finished, and
  several processes (or machines sharing the folder) can run the same study.
* **Resume.** On start, a trial still marked running whose process on this machine is gone
  (a SIGKILL) or that a Ctrl-C interrupted is marked failed, and its parameters are queued
  once as a new trial: no trial is lost, none counted twice. ``--trials`` counts finished
  trials (complete or pruned), over every run of the study.
* **Pruning.** Folds are scored one by one; from the second fold on, a trial whose running
  net expectancy is below the median of the completed trials' at the same fold stops
  (pruned; Optuna's own pruners do not take multi-objective studies).
* **Concurrency.** ``concurrent`` trials run at once (ask/tell), each fold's pairs at once;
  every expert job goes through the process-wide round scheduler.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from ..walkforward import Evaluation
from .folds import Market, walk_forward
from .scores import DIRECTIONS, OBJECTIVES, rule_trades, score
from .spec import SearchSpace, sample

logger = logging.getLogger(__name__)
JOURNAL = "study.journal"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class Interrupted(Exception):
    """The search was asked to stop (Ctrl-C) while this trial ran."""


@dataclass
class SearchRun:
    """One run of a search over ``market``'s pairs on ``[start, end)``."""

    out: Path
    start: pd.Timestamp
    end: pd.Timestamp
    trials: int
    space: SearchSpace = field(default_factory=SearchSpace)
    concurrent: int = 2
    study_name: str = "hyperphysics"
    seed: int = 0
    prune_warmup: int = 1  # folds scored before a trial may be pruned
    min_completed: int = 3  # completed trials needed before pruning starts

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}")
        if self.concurrent < 1:
            raise ValueError(f"concurrent must be >= 1, got {self.concurrent}")
        if not self.start < self.end:
            raise ValueError(f"search period {self.start} to {self.end} is empty")


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def open_study(out: Path, name: str = "hyperphysics", seed: int = 0) -> optuna.Study:
    """Create or load the study in ``out/study.journal``."""
    out.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    try:  # a resumed study samples on from a new seed, not the first run's again
        done = len(storage.get_all_trials(storage.get_study_id_from_name(name)))
    except KeyError:
        done = 0
    sampler = optuna.samplers.NSGAIISampler(population_size=16, seed=seed + done)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(DIRECTIONS),
        sampler=sampler,
        load_if_exists=True,
    )
    if study.metric_names is None:
        study.set_metric_names(list(OBJECTIVES))
    return study


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(study: optuna.Study) -> list[int]:
    """Fail this machine's orphaned running trials and queue every interrupted trial's
    parameters once more; returns the numbers of the trials queued again."""
    host = socket.gethostname()
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = str(t.user_attrs.get("owner", ""))
        name, _, pid = who.rpartition(":")
        if name == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            storage.set_trial_user_attr(t._trial_id, "error", f"interrupted: process {pid} ended")
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    queued = []
    for t in trials:
        if (
            t.state == TrialState.FAIL
            and t.user_attrs.get("interrupted")
            and t.number not in retried
        ):
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            queued.append(t.number)
    return queued


def finished(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def _prune(study: optuna.Study, step: int, bp: float, warmup: int, needed: int) -> bool:
    if step < warmup:
        return False
    peers = [
        t.user_attrs.get(f"fold_{step}_bp")
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ]
    peers = [p for p in peers if p is not None]
    return len(peers) >= needed and bp < statistics.median(peers)


def run_trial(
    study: optuna.Study, trial: optuna.Trial, market: Market, run: SearchRun, stop: threading.Event
) -> tuple[TrialState, tuple[float, ...] | None]:
    """Sample a configuration, walk it forward fold by fold, record what it scored."""
    started = time.time()
    try:
        spec = sample(trial, run.space)
        trial.set_user_attr("spec", spec.to_dict())

        def on_fold(step: int, ev: Evaluation) -> None:
            s = score(ev, rule_trades(ev, spec))
            bp = s.objectives()[0]
            trial.set_user_attr(f"fold_{step}_bp", bp)
            trial.set_user_attr("score", s.to_dict())
            if stop.is_set():
                raise Interrupted
            if _prune(study, step, bp, run.prune_warmup, run.min_completed):
                raise optuna.TrialPruned(f"fold {step}: {bp:+.1f} bp below the median")

        ev = walk_forward(market, spec, run.start, run.end, on_fold)
        s = score(ev, rule_trades(ev, spec))
        trial.set_user_attr("score", s.to_dict())
        trial.set_user_attr("seconds", time.time() - started)
        return TrialState.COMPLETE, s.objectives()
    except optuna.TrialPruned:
        trial.set_user_attr("seconds", time.time() - started)
        return TrialState.PRUNED, None
    except Interrupted:
        trial.set_user_attr("interrupted", True)
        trial.set_user_attr("error", "interrupted: the search was stopped")
        return TrialState.FAIL, None
    except Exception as exc:  # a crashing trial is recorded as failed, with its error
        logger.info("trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
        return TrialState.FAIL, None


def search(
    market: Market, run: SearchRun, progress: Callable[[optuna.Study, int], None] | None = None
) -> optuna.Study:
    """Run trials until ``run.trials`` have finished in the study (over all its runs).

    ``progress(study, running)`` is called after every change. On ``KeyboardInterrupt``
    the running trials stop at their next fold, are recorded as interrupted (failed), and
    the interrupt is raised again; what finished stays in the journal.
    """
    study = open_study(run.out, run.study_name, run.seed)
    queued = recover(study)
    if queued:
        logger.info("trials %s were interrupted: their parameters run again", queued)
    stop = threading.Event()
    running: dict = {}
    failures = 0
    with ThreadPoolExecutor(max_workers=run.concurrent, thread_name_prefix="trial") as pool:
        try:
            while True:
                while (
                    len(running) < run.concurrent
                    and len(finished(study)) + len(running) < run.trials
                ):
                    trial = study.ask()
                    trial.set_user_attr("owner", owner())  # before anything can fail
                    running[pool.submit(run_trial, study, trial, market, run, stop)] = trial
                if progress is not None:
                    progress(study, len(running))
                if not running:
                    break
                done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    state, values = future.result()
                    study.tell(running.pop(future), values, state=state)
                    failures += state == TrialState.FAIL
                if failures > max(3, run.trials // 2) and not running:
                    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                    errors = {str(t.user_attrs.get("error")) for t in failed[-failures:]}
                    raise RuntimeError(
                        f"{failures} trials failed in this run: {sorted(map(str, errors))[:3]}"
                    )
        except KeyboardInterrupt:
            stop.set()
            for future, trial in running.items():
                state, values = future.result()
                study.tell(trial, values, state=state)
            raise
    return study
